"""The `mpdp` command line against the real platform, run as a user or a CI job would run it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests

from mpdp_cli import main, upload
from mpdp_cli.failures import ExitCode, problem_text

from .test_catalog import api_key, make_package, team  # noqa: F401 - team is a fixture

MPDP = shutil.which("mpdp", path=os.path.dirname(sys.executable)) or "mpdp"


def mpdp(platform, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return mpdp_at(platform.gateway, home, *args, **env)


def mpdp_at(url: str, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """The command as a pipeline runs it: no terminal, nothing on stdin."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MPDP_")}
    environment.update(HOME=str(home), MPDP_URL=url, **env)
    environment.pop("XDG_CONFIG_HOME", None)
    return subprocess.run([MPDP, *args], env=environment, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def write_miniprogram(folder: Path) -> Path:
    (folder / "pages" / "index").mkdir(parents=True)
    (folder / "app.json").write_text(json.dumps({"pages": ["pages/index/index"]}))
    (folder / "pages" / "index" / "index.js").write_text("Page({})")
    (folder / "pages" / "index" / "index.wxml").write_text("<view>hi</view>")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("not part of the package")
    return folder


def test_login_then_upload_a_folder_with_progress(team, platform, tmp_path):  # noqa: F811
    home = tmp_path / "home"
    home.mkdir()
    signed_in = mpdp(platform, home, "login", "--email", team.developer.account["email"], MPDP_PASSWORD=team.developer.password)
    assert signed_in.returncode == 0, signed_in.stderr
    credentials = home / ".config" / "mpdp" / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert platform.gateway in json.loads(credentials.read_text())["profiles"]

    folder = write_miniprogram(tmp_path / "app")
    uploaded = mpdp(
        platform,
        home,
        "upload",
        str(folder),
        "--workspace",
        team.ws,
        "--miniprogram",
        team.mp,
        "--version",
        "1.2.3",
        "--notes",
        "from the CLI",
    )
    assert uploaded.returncode == 0, uploaded.stderr
    version = json.loads(uploaded.stdout)
    assert version["version"] == "1.2.3" and version["status"] == "uploaded" and version["notes"] == "from the CLI"
    assert version["uploaded_by"] == team.developer.account["id"]
    assert "MB" in uploaded.stderr and "100%" in uploaded.stderr

    # An expired access token is refreshed on the way.
    stored = json.loads(credentials.read_text())
    stored["profiles"][platform.gateway]["expires_at"] = 0
    credentials.write_text(json.dumps(stored))
    again = mpdp(platform, home, "upload", str(folder), "-w", team.ws, "-m", team.mp, "-v", "1.2.4", "-q")
    assert again.returncode == 0, again.stderr
    refreshed = json.loads(credentials.read_text())["profiles"][platform.gateway]
    assert refreshed["refresh_token"] != stored["profiles"][platform.gateway]["refresh_token"] and refreshed["expires_at"] > 0

    # A refused upload says why, with the problem's detail, and fails.
    reused = mpdp(platform, home, "upload", str(folder), "-w", team.ws, "-m", team.mp, "-v", "1.2.4")
    assert reused.returncode == ExitCode.CONFLICT == 5 and "409" in reused.stderr and "never reused" in reused.stderr

    assert mpdp(platform, home, "logout").returncode == 0
    signed_out = mpdp(platform, home, "upload", str(folder), "-w", team.ws, "-m", team.mp, "-v", "1.2.5")
    assert signed_out.returncode == ExitCode.AUTH == 3 and "mpdp login" in signed_out.stderr


def test_ci_uploads_a_zip_with_a_workspace_api_key(team, platform, tmp_path):  # noqa: F811
    key = api_key(platform, team.ws, "developer", team.admin.account["id"])
    package = tmp_path / "build.zip"
    package.write_bytes(make_package())
    home = tmp_path / "ci-home"
    home.mkdir()
    for _attempt in range(50):  # the catalog learns of the key by an event
        uploaded = mpdp(platform, home, "upload", str(package), "-w", team.ws, "-m", team.mp, "-v", "2.0.0", MPDP_API_KEY=key)
        if uploaded.returncode == 0 or "401" not in uploaded.stderr:
            break
    assert uploaded.returncode == 0, uploaded.stderr
    assert json.loads(uploaded.stdout)["sha256"]
    assert not (home / ".config").exists()

    bad = tmp_path / "bad.zip"
    bad.write_text("not a zip")
    refused = mpdp(platform, home, "upload", str(bad), "-w", team.ws, "-m", team.mp, "-v", "2.0.1", MPDP_API_KEY=key)
    assert refused.returncode == ExitCode.INVALID == 6 and "422" in refused.stderr and "package" in refused.stderr
    missing = mpdp(platform, home, "upload", str(tmp_path / "nothing"), "-w", team.ws, "-m", team.mp, "-v", "2.0.1", MPDP_API_KEY=key)
    assert missing.returncode == ExitCode.USAGE == 2 and "no such file" in missing.stderr


def test_a_folder_that_cannot_be_packed_fails_cleanly_and_leaves_no_temporary_zip(tmp_path, monkeypatch, capsys):
    def unreadable(directory, target):
        target.write(b"PK partial")
        raise PermissionError(13, "Permission denied", os.path.join(directory, "secret.js"))

    monkeypatch.setattr(upload, "zip_directory", unreadable)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("MPDP_API_KEY", "mpdp_ak_unused")
    folder = write_miniprogram(tmp_path / "app")
    with pytest.raises(SystemExit) as exited:
        main.main(["--url", "http://127.0.0.1:9", "upload", str(folder), "-w", "w", "-m", "m", "-v", "1.0.0"])
    assert exited.value.code == ExitCode.USAGE
    error = capsys.readouterr().err
    assert "cannot package" in error and "Permission denied" in error and "Traceback" not in error
    assert list((tmp_path / "tmp").iterdir()) == []


def test_an_error_that_is_not_a_problem_document_is_reported_as_it_came():
    for body in (b'["unexpected"]', b'"a string"', b"<html>Bad Gateway</html>"):
        response = requests.Response()
        response.status_code, response._content = 502, body
        assert problem_text(response).startswith("HTTP 502: ")


def test_a_pipeline_uploads_submits_and_publishes_once_approved(team, platform, tmp_path):  # noqa: F811
    from .test_launches import approval_for, decide, new_app

    key = team.admin.post(f"{team.base}/api-keys", json={"label": "ci", "role": "developer"})
    assert key.status_code == 201, key.text
    ci = {"MPDP_API_KEY": key.json()["token"]}
    home = tmp_path / "ci-home"
    home.mkdir()
    app = new_app(team)
    package = tmp_path / "build.zip"
    package.write_bytes(make_package())

    def run(*args: str) -> subprocess.CompletedProcess:
        done = mpdp(platform, home, *args, **ci)
        assert done.returncode == 0, done.stderr
        return done

    for _attempt in range(50):  # the catalog learns of the key by an event
        uploaded = mpdp(platform, home, "upload", str(package), "-w", team.ws, "-m", team.mp, "-v", "3.1.0", "-q", **ci)
        if uploaded.returncode == 0 or "401" not in uploaded.stderr:
            break
    assert uploaded.returncode == 0, uploaded.stderr
    listed = json.loads(run("miniprograms", "-w", team.ws, "--json").stdout)
    assert team.mp in [item["id"] for item in listed]
    assert "3.1.0" in run("versions", "-w", team.ws, "-m", team.mp).stdout

    launch = json.loads(
        run("launch", "create", "-w", team.ws, "-m", team.mp, "--version", "3.1.0", "--app", app, "--submit", "--json").stdout
    )
    assert launch["status"] == "under_review" and launch["version"] == "3.1.0"
    early = mpdp(platform, home, "launch", "publish", "-w", team.ws, "-m", team.mp, launch["id"], "-p", "100", **ci)
    assert early.returncode == ExitCode.CONFLICT == 5 and "under_review" in early.stderr

    approval = approval_for(team.reviewer, team.ws, launch["id"])
    assert decide(team.reviewer, team.ws, approval["id"], "approve").status_code == 200
    waited = ("--wait", "30", "--poll", "0.2", "--json")
    published = json.loads(run("launch", "publish", "-w", team.ws, "-m", team.mp, launch["id"], "-p", "100", *waited).stdout)
    assert published["status"] == "released"
    shown = run("launch", "show", "-w", team.ws, "-m", team.mp, launch["id"]).stdout
    assert f"launch {launch['id']}: released" in shown
    assert [line.split()[1] for line in shown.splitlines()[1:]] == ["under_review", "ready", "released"]
    assert launch["id"] in run("launch", "list", "-w", team.ws, "-m", team.mp).stdout


def closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_the_help_lists_the_exit_codes(tmp_path):
    helped = mpdp_at(closed_url(), tmp_path, "--help")
    assert helped.returncode == 0
    listed = helped.stdout.split("exit codes:", 1)[1]
    assert [line.split()[0] for line in listed.strip().splitlines()] == [str(code.value) for code in ExitCode]


def test_a_login_without_a_terminal_or_a_password_says_to_set_it(tmp_path):
    login = mpdp_at(closed_url(), tmp_path, "login", "--email", "ada@example.com")
    assert login.returncode == ExitCode.AUTH == 3
    assert "MPDP_PASSWORD" in login.stderr and "Warning" not in login.stderr
    nameless = mpdp_at(closed_url(), tmp_path, "login", MPDP_PASSWORD="secret")
    assert nameless.returncode == ExitCode.USAGE == 2 and "--email" in nameless.stderr


def test_failures_before_the_platform_answers_have_their_own_exit_codes(tmp_path):
    url = closed_url()
    assert mpdp_at(url, tmp_path, "upload").returncode == ExitCode.USAGE == 2
    assert mpdp_at(url, tmp_path, "launch", "publish", "-w", "w", "-m", "m", "L", "-p", "101").returncode == ExitCode.USAGE
    missing = mpdp_at(url, tmp_path, "upload", str(tmp_path / "nothing"), "-w", "w", "-m", "m", "-v", "1.0.0", MPDP_API_KEY="mpdp_ak_x")
    assert missing.returncode == ExitCode.USAGE and "no such file" in missing.stderr
    signed_out = mpdp_at(url, tmp_path, "miniprograms", "-w", "w")
    assert signed_out.returncode == ExitCode.AUTH == 3 and "mpdp login" in signed_out.stderr
    unreachable = mpdp_at(url, tmp_path, "miniprograms", "-w", "w", MPDP_API_KEY="mpdp_ak_x")
    assert unreachable.returncode == ExitCode.UNAVAILABLE == 7 and "cannot reach" in unreachable.stderr
    wrong_password = mpdp_at(url, tmp_path, "login", "--email", "ada@example.com", MPDP_PASSWORD="secret")
    assert wrong_password.returncode == ExitCode.UNAVAILABLE


def test_a_pipeline_tells_refusals_apart_by_exit_code(team, platform, tmp_path):  # noqa: F811
    key = api_key(platform, team.ws, "developer", team.admin.account["id"])
    ci = {"MPDP_API_KEY": key}
    package = tmp_path / "build.zip"
    package.write_bytes(make_package())
    for _attempt in range(50):  # the catalog learns of the key by an event
        uploaded = mpdp(platform, tmp_path, "upload", str(package), "-w", team.ws, "-m", team.mp, "-v", "4.0.0", "-q", **ci)
        if uploaded.returncode == 0 or "401" not in uploaded.stderr:
            break
    assert uploaded.returncode == ExitCode.OK, uploaded.stderr
    again = mpdp(platform, tmp_path, "upload", str(package), "-w", team.ws, "-m", team.mp, "-v", "4.0.0", "-q", **ci)
    assert again.returncode == ExitCode.CONFLICT == 5, again.stderr
    elsewhere = mpdp(platform, tmp_path, "upload", str(package), "-w", team.ws, "-m", "mp_nothing", "-v", "4.0.0", "-q", **ci)
    assert elsewhere.returncode == ExitCode.NOT_FOUND == 4, elsewhere.stderr
    no_version = mpdp(platform, tmp_path, "launch", "create", "-w", team.ws, "-m", team.mp, "--version", "9.9.9", "--app", "a", **ci)
    assert no_version.returncode == ExitCode.NOT_FOUND and "9.9.9" in no_version.stderr
    badly_numbered = mpdp(platform, tmp_path, "upload", str(package), "-w", team.ws, "-m", team.mp, "-v", "four", "-q", **ci)
    assert badly_numbered.returncode == ExitCode.INVALID == 6, badly_numbered.stderr
    wrong_key = mpdp(platform, tmp_path, "miniprograms", "-w", team.ws, MPDP_API_KEY="mpdp_ak_" + "0" * 32)
    assert wrong_key.returncode == ExitCode.AUTH == 3, wrong_key.stderr
    wrong_password = mpdp(platform, tmp_path, "login", "--email", team.developer.account["email"], MPDP_PASSWORD="not the password")
    assert wrong_password.returncode == ExitCode.AUTH and "401" in wrong_password.stderr
