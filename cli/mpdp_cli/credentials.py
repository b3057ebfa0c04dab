"""Signed-in sessions, kept in ~/.config/mpdp/credentials.json (mode 0600), one per platform URL,
refreshed when the access token has expired. A workspace API key in MPDP_API_KEY (CI) needs none."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import requests

from .failures import CliError, ExitCode, exit_code_for, problem_text, refused

#: refresh this long before the access token expires, so that it does not expire in flight
EARLY_SECONDS = 30


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "mpdp" / "credentials.json"


def load() -> dict:
    path = credentials_path()
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {"profiles": {}}
    except (OSError, ValueError) as error:
        raise CliError(f"cannot read {path}: {error}") from None


def save(data: dict) -> None:
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        json.dump(data, stream, indent=2)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def _store(url: str, email: str, pair: dict) -> None:
    data = load()
    data.setdefault("profiles", {})[url] = {
        "email": email,
        "access_token": pair["access_token"],
        "refresh_token": pair["refresh_token"],
        "expires_at": int(time.time()) + int(pair.get("expires_in", 0)),
    }
    save(data)


def login(session: requests.Session, url: str, email: str, password: str) -> dict:
    response = session.post(f"{url}/api/v1/auth/token", json={"email": email, "password": password}, timeout=30)
    if response.status_code != 200:
        raise refused(response, "sign-in failed: ")
    _store(url, email, response.json())
    return load()["profiles"][url]


def logout(session: requests.Session, url: str) -> bool:
    data = load()
    profile = data.get("profiles", {}).pop(url, None)
    if profile is None:
        return False
    try:
        session.post(f"{url}/api/v1/auth/logout", json={"refresh_token": profile["refresh_token"]}, timeout=30)
    except requests.RequestException:
        pass
    save(data)
    return True


def bearer(session: requests.Session, url: str) -> str:
    """The token to send: MPDP_API_KEY if set, else the stored access token, refreshed if needed."""
    api_key = os.environ.get("MPDP_API_KEY")
    if api_key:
        return api_key
    profile = load().get("profiles", {}).get(url)
    if profile is None:
        raise CliError(f"not signed in to {url}: run `mpdp login`, or set MPDP_API_KEY", ExitCode.AUTH)
    if profile["expires_at"] - EARLY_SECONDS > time.time():
        return profile["access_token"]
    response = session.post(f"{url}/api/v1/auth/refresh", json={"refresh_token": profile["refresh_token"]}, timeout=30)
    if response.status_code != 200:
        if exit_code_for(response.status_code) == ExitCode.AUTH:
            raise CliError(f"the session has ended ({problem_text(response)}); run `mpdp login` again", ExitCode.AUTH)
        raise refused(response, "the session could not be renewed: ")
    _store(url, profile["email"], response.json())
    return response.json()["access_token"]
