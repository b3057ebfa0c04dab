"""A small HTTP client for the tests, speaking to the gateway as the console would."""

from __future__ import annotations

import email
import email.policy
import os
import re
import secrets
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import requests

#: where each platform under test (by its gateway's address) writes its mail: without an SMTP
#: server the platform writes each mail to `<data dir>/mail/`, and the tests read it there
MAIL_FOLDERS: dict[str, Path] = {}


def mails_to(base: str, address: str) -> list[EmailMessage]:
    """The mail that the platform behind `base` wrote to `address`, oldest first."""
    # a platform that the tests did not start: `make run`'s, in this checkout's data directory
    folder = MAIL_FOLDERS.get(base, Path(os.environ.get("MPDP_DATA_DIR") or "var") / "mail")
    if not folder.exists():
        return []
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if str(message["To"]).lower() == address.lower():
            found.append(message)
    return found


def mailed_token(base: str, address: str, page: str, timeout: float = 20.0, after: int = 0) -> str:
    """The token of the link to `page` (verify-email, reset-password) in the newest such mail to
    `address` beyond the first `after` of them, once the mail worker has written it."""
    deadline = time.monotonic() + timeout
    while True:
        for message in reversed(mails_to(base, address)[after:]):
            match = re.search(rf"/{page}\?token=([\w-]+)", message.get_body(("plain",)).get_content())
            if match:
                return match.group(1)
        if time.monotonic() > deadline:
            raise AssertionError(f"no mail with a {page} link reached {address} within {timeout}s")
        time.sleep(0.1)


class Client:
    def __init__(self, base: str, token: str | None = None):
        self.base = base
        self.token = token
        self.http = requests.Session()
        self.account: dict = {}
        self.password = ""
        self.refresh_token = ""

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        return self.http.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def new_account(self, name: str = "user", verified: bool = True) -> Client:
        """A new signed-in account; `verified`: its email confirmed first through the mailed link."""
        address = f"{name}-{secrets.token_hex(4)}@example.com"
        password = secrets.token_urlsafe(12)
        created = requests.post(self.base + "/api/v1/accounts", json={"email": address, "password": password, "name": name}, timeout=30)
        assert created.status_code == 201, created.text
        if verified:
            token = mailed_token(self.base, address, "verify-email")
            confirmed = requests.post(self.base + "/api/v1/accounts/verify", json={"token": token}, timeout=30)
            assert confirmed.status_code == 200, confirmed.text
        tokens = requests.post(self.base + "/api/v1/auth/token", json={"email": address, "password": password}, timeout=30)
        assert tokens.status_code == 200, tokens.text
        user = Client(self.base, tokens.json()["access_token"])
        user.account, user.password, user.refresh_token = created.json(), password, tokens.json()["refresh_token"]
        user.account["email_verified"] = verified
        return user
