"""Each dependency fails under a steady load; what a user would count must hold."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import closing
from pathlib import Path
from statistics import median

import pytest
import requests

from .conftest import PROBLEM, Load, commit_to_effect_seconds

pytestmark = pytest.mark.faults


def _rabbitmq(action: str) -> None:
    subprocess.run(["rabbitmqctl", action], check=True, capture_output=True, timeout=120)


def test_postgresql_stopped_for_ten_seconds(faulty):
    normal = median(commit_to_effect_seconds(faulty.gateway) for _ in range(3))
    with Load(faulty.gateway) as load:
        time.sleep(2)
        down_at = time.monotonic()
        faulty.postgres.stop()
        time.sleep(10)
        faulty.postgres.start()
        up_at = time.monotonic()
        time.sleep(6)

    during = load.between(down_at + 0.5, up_at)
    failed = [item for item in during if item.status >= 400 or item.status == 0]
    assert failed, "the outage was not felt at all"
    # Only clean 503 problems while the database is away.
    assert {(item.status, item.problem) for item in failed} == {(503, True)}, load.summary(during)
    # Full service within 2 s of its return.
    after = load.between(up_at + 2, up_at + 6)
    assert after and all(item.status < 400 for item in after), load.summary(after)
    load.every_workspace_reaches_its_creator()
    # The relays LISTEN again: a commit reaches its effect as fast as before, not at the next poll (5 s here).
    again = median(commit_to_effect_seconds(faulty.gateway) for _ in range(3))
    assert again < max(1.0, normal * 3), (normal, again)


@pytest.mark.skipif(subprocess.run(["which", "rabbitmqctl"], capture_output=True).returncode != 0, reason="needs rabbitmqctl")
def test_rabbitmq_stopped_for_thirty_seconds_under_load(faulty):
    with Load(faulty.gateway) as load:
        time.sleep(2)
        started = time.monotonic()
        _rabbitmq("stop_app")
        try:
            time.sleep(30)
        finally:
            _rabbitmq("start_app")
        time.sleep(3)
    outcomes = load.between(started, time.monotonic())
    # Requests never wait on the broker: nothing fails while it is away.
    assert outcomes and all(200 <= item.status < 300 for item in outcomes), load.summary(outcomes)
    # Relays and consumers reconnect by themselves, and every event held in the outboxes arrives.
    load.every_workspace_reaches_its_creator(timeout=90)


def test_redis_stopped_the_gateway_fails_open(faulty):
    with Load(faulty.gateway) as load:
        time.sleep(2)
        down_at = time.monotonic()
        faulty.redis.stop()
        time.sleep(5)
        faulty.redis.start()
        up_at = time.monotonic()
        time.sleep(4)
    outcomes = load.between(down_at, time.monotonic())
    assert outcomes and all(200 <= item.status < 300 for item in outcomes), load.summary(outcomes)
    assert load.between(up_at + 1, up_at + 4), "the gateway stopped serving after Redis came back"


def _platform_processes(faulty) -> dict[str, list[int]]:
    """The platform's processes by role ("web identity", "jobs identity", ...), from /proc."""
    roles: dict[str, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if f"MPDP_DATABASE_PREFIX={faulty.platform.prefix}".encode() not in environ or b"mpdp_common.launcher" not in command:
            continue
        words = [part.decode() for part in command if part]
        role = " ".join(words[words.index("mpdp_common.launcher") + 1 :])
        roles.setdefault(role, []).append(int(entry.name))
    return roles


def test_a_web_worker_a_relay_and_a_consumer_killed_mid_load(faulty):
    before = _platform_processes(faulty)
    with Load(faulty.gateway) as load:
        time.sleep(2)
        # A gunicorn worker (the arbiter is the lowest pid of its role), and the process of the
        # workspace's relay and consumer, then identity's.
        os.kill(max(before["web workspace"]), signal.SIGKILL)
        os.kill(before["jobs workspace"][0], signal.SIGKILL)
        os.kill(before["jobs identity"][0], signal.SIGKILL)
        time.sleep(8)
    after = _platform_processes(faulty)
    assert after["jobs workspace"] != before["jobs workspace"] and after["jobs identity"] != before["jobs identity"]
    assert len(after["web workspace"]) == len(before["web workspace"])
    # Every workspace the service accepted is there, and its event had its effect.
    load.every_workspace_reaches_its_creator(timeout=60)
    answered = [item for item in load.outcomes if item.status]
    assert all(item.status < 500 or item.problem for item in answered), load.summary(answered)


def _package(size: int) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("app.json", '{"pages": ["pages/index"]}')
        archive.writestr("pages/index.js", "Page({})")
        archive.writestr("assets/noise.bin", os.urandom(size))
    return buffer.getvalue()


def test_the_package_store_full_during_an_upload(faulty):
    if faulty.blob_volume is None:
        pytest.skip("cannot mount a small volume for the package store here")
    from tests.integration.client import Client

    owner = Client(faulty.gateway).new_account("owner")
    ws = owner.post("/api/v1/workspaces", json={"name": "Full", "kind": "tenant"}).json()["id"]
    time.sleep(1)
    mp = owner.post(f"/api/v1/workspaces/{ws}/miniprograms", json={"name": "Big"})
    for _ in range(50):
        if mp.status_code == 201:
            break
        time.sleep(0.2)
        mp = owner.post(f"/api/v1/workspaces/{ws}/miniprograms", json={"name": "Big"})
    assert mp.status_code == 201, mp.text
    versions = f"/api/v1/workspaces/{ws}/miniprograms/{mp.json()['id']}/versions"

    ballast = faulty.blob_volume / "ballast"
    free = os.statvfs(faulty.blob_volume).f_bavail * os.statvfs(faulty.blob_volume).f_frsize
    ballast.write_bytes(b"\0" * (free - 512 * 1024))  # leave half a MiB
    try:
        full = owner.post(versions, data={"version": "1.0.0"}, files={"package": ("p.zip", _package(3 * 1024 * 1024), "application/zip")})
        assert full.status_code in (503, 507), full.text
        assert full.headers["Content-Type"] == PROBLEM
        assert owner.get(versions).json()["items"] == []  # no half-made version
        leftovers = [path for path in faulty.blob_volume.rglob("*") if path.is_file() and path != ballast]
        assert leftovers == [], leftovers  # no half-written blob or spool file
    finally:
        ballast.unlink()

    fine = owner.post(versions, data={"version": "1.0.0"}, files={"package": ("p.zip", _package(3 * 1024 * 1024), "application/zip")})
    assert fine.status_code == 201, fine.text


def test_readiness_names_what_is_down(faulty):
    faulty.postgres.stop()
    try:
        deadline = time.monotonic() + 10
        while True:
            ready = requests.get(faulty.platform.url("identity") + "/readyz", timeout=5)
            if ready.status_code == 503 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert ready.status_code == 503 and "database" in ready.json()["detail"]
        me = requests.get(faulty.gateway + "/api/v1/me", headers={"Authorization": "Bearer x"}, timeout=5)
        assert me.status_code in (401, 503)
    finally:
        faulty.postgres.start()


def test_an_smtp_server_down_then_back(faulty):
    """Invitations wait in identity's mail queue while the workspace's SMTP server is down, are
    retried with backoff, and are delivered once it is back; nothing else waits meanwhile."""
    from aiosmtpd.controller import Controller

    from tests.integration.client import Client

    class Inbox:
        def __init__(self):
            self.recipients: list[str] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            self.recipients += envelope.rcpt_tos
            return "250 OK"

    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there yet: the server is down
    admin = Client(faulty.gateway).new_account("admin")
    ws = admin.post("/api/v1/workspaces", json={"name": "Mail", "kind": "tenant"}).json()["id"]
    deadline = time.monotonic() + 30
    while not any(m["workspace_id"] == ws for m in admin.get("/api/v1/me").json()["memberships"]):
        assert time.monotonic() < deadline, "the workspace never became the admin's"
        time.sleep(0.2)
    service_email = {"sender": "noreply@acme.example", "smtp_host": "127.0.0.1", "smtp_port": port}
    deadline = time.monotonic() + 30
    while admin.put(f"/api/v1/workspaces/{ws}/settings", json={"service_email": service_email}).status_code != 200:
        assert time.monotonic() < deadline, "the workspace service never knew its admin"
        time.sleep(0.2)
    time.sleep(3)  # identity's copy of the SMTP settings arrives by event
    invited = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": "guest@example.com", "role": "developer"})
    assert invited.status_code == 201, invited.text

    started = time.monotonic()
    assert commit_to_effect_seconds(faulty.gateway) < 5  # membership events do not wait on the mail
    time.sleep(max(0.0, 3 - (time.monotonic() - started)))

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        deadline = time.monotonic() + 60
        while "guest@example.com" not in inbox.recipients:
            assert time.monotonic() < deadline, "the invitation never went out once the SMTP server was back"
            time.sleep(0.5)
    finally:
        controller.stop()
