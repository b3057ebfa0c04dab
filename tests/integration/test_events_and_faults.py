"""The event backbone against the real RabbitMQ: delivery, dedupe, dead letters, broker outages."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys

import pytest

from .conftest import eventually, listening, workspace_created_event


@pytest.fixture
def identity_events(platform):
    """Each call answers what identity published since the last call (of one type, if given)."""
    with listening(platform, "identity") as drain:
        yield lambda event_type=None: [item for item in drain() if event_type is None or item["type"] == event_type]


def memberships(user, ws):
    return [m for m in user.get("/api/v1/me").json()["memberships"] if m["workspace_id"] == ws]


def test_identity_publishes_member_events_with_the_full_envelope(make_user, make_workspace, identity_events):
    admin = make_user("admin")
    ws = make_workspace(admin)
    added = eventually(lambda: identity_events("identity.member.added"))
    event = next(item for item in added if item["workspace_id"] == ws)
    assert set(event) == {
        *("id", "type", "version", "occurred_at", "producer", "workspace_id", "aggregate_id", "correlation_id"),
        *("actor", "traceparent", "payload"),
    }
    assert event["producer"] == "identity" and event["version"] == 1
    # made by identity's consumer from the workspace's event: the admin who created the workspace caused it
    assert event["actor"] == {"kind": "account", "id": admin.account["id"]}
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", event["traceparent"]), event["traceparent"]
    assert event["payload"] == {"workspace_id": ws, "account_id": admin.account["id"], "role": "admin", "status": "active", "revision": 1}


def test_a_redelivered_event_has_one_effect(platform, make_user, identity_events):
    owner = make_user("owner")
    ws, event_id = secrets.token_hex(16), secrets.token_hex(16)
    for _ in range(3):
        platform.publish("workspace", workspace_created_event(ws, owner.account["id"], event_id), "workspace.workspace.created")
    eventually(lambda: memberships(owner, ws))
    added = eventually(lambda: [e for e in identity_events("identity.member.added") if e["workspace_id"] == ws])
    # Give the duplicates time to be processed; still one member and one event.
    second_ws = secrets.token_hex(16)
    platform.publish("workspace", workspace_created_event(second_ws, owner.account["id"]), "workspace.workspace.created")
    eventually(lambda: memberships(owner, second_ws))
    later = [e for e in identity_events("identity.member.added") if e["workspace_id"] == ws]
    assert len(added) + len(later) == 1
    assert len(memberships(owner, ws)) == 1


def test_a_failing_handler_ends_in_the_dead_letter_queue_and_the_consumer_goes_on(platform, make_user):
    owner = make_user("owner")
    broken = json.loads(workspace_created_event(secrets.token_hex(16), owner.account["id"]))
    del broken["payload"]["created_by"]
    platform.publish("workspace", json.dumps(broken).encode(), "workspace.workspace.created")
    platform.publish("workspace", b"this is not an event", "workspace.workspace.created")

    connection, channel = platform.broker_channel()
    try:
        dead_queue = f"{platform.prefix}.identity.dead"

        def parked():
            return channel.queue_declare(dead_queue, durable=True, passive=True).method.message_count >= 2

        eventually(parked, timeout=15)
        bodies, attempts = [], []
        for _ in range(2):
            method, properties, body = channel.basic_get(dead_queue, auto_ack=False)
            bodies.append(body)
            attempts.append((properties.headers or {}).get("x-mpdp-attempt"))
        assert b"this is not an event" in bodies
        broken_copy = next(json.loads(body) for body in bodies if body != b"this is not an event")
        assert broken_copy["id"] == broken["id"]
        assert 4 in attempts  # three tries failed; the fourth would have been next
        channel.basic_nack(method.delivery_tag, multiple=True, requeue=True)
    finally:
        connection.close()

    # What an operator sees: both, each with the error that parked it; looking leaves them parked.
    listed = mpdpctl(platform, "dead-letters", "identity", "--json")
    assert {item["event_id"] for item in listed} >= {broken["id"]}
    by_id = {item["event_id"]: item for item in listed}
    assert "created_by" in by_id[broken["id"]]["error"]
    assert any(item["error"].startswith("unreadable") for item in listed)
    assert len(mpdpctl(platform, "dead-letters", "identity", "--json")) == len(listed)

    ws = secrets.token_hex(16)
    platform.publish("workspace", workspace_created_event(ws, owner.account["id"]), "workspace.workspace.created")
    eventually(lambda: memberships(owner, ws))


def mpdpctl(platform, *args: str):
    done = subprocess.run(
        [sys.executable, "-m", "mpdp_common.launcher", *args], env=platform.env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def rabbitmq(action: str) -> None:
    subprocess.run(["rabbitmqctl", action], check=True, capture_output=True, timeout=120)


@pytest.mark.skipif(subprocess.run(["which", "rabbitmqctl"], capture_output=True).returncode != 0, reason="needs rabbitmqctl")
def test_a_stopped_broker_fails_no_request_and_loses_no_event(platform, client, make_user, make_workspace, identity_events):
    admin = make_user("admin")
    ws = make_workspace(admin)
    identity_events()  # drain
    rabbitmq("stop_app")
    try:
        invitee = client.new_account("invitee")
        invited = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": invitee.account["email"], "role": "developer"})
        assert invited.status_code == 201
        assert invitee.post(f"/api/v1/invitations/{invited.json()['token']}/accept").status_code == 200
        assert admin.post(f"/api/v1/workspaces/{ws}/members/{invitee.account['id']}/block").status_code == 200
    finally:
        rabbitmq("start_app")
        subprocess.run(["rabbitmqctl", "await_startup"], capture_output=True, timeout=120)

    # Everything written while the broker was away goes out once it is back, in order.
    def delivered():
        seen = identity_events()
        delivered.events.extend(seen)
        types = [e["type"] for e in delivered.events if e["workspace_id"] == ws or e["aggregate_id"] == invitee.account["id"]]
        return types if {"identity.member.added", "identity.member.blocked", "identity.account.registered"} <= set(types) else None

    delivered.events = []
    types = eventually(delivered, timeout=60, interval=0.5)
    assert types.index("identity.member.added") < types.index("identity.member.blocked")

    # The consumer reconnected by itself.
    second = secrets.token_hex(16)
    platform.publish("workspace", workspace_created_event(second, admin.account["id"]), "workspace.workspace.created")
    eventually(lambda: memberships(admin, second), timeout=60, interval=0.5)


def children_of(parent: int, *words: str) -> list[int]:
    """PIDs of the processes started by `parent` whose command line has all of `words`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read().decode(errors="replace").split("\0")
            with open(f"/proc/{entry}/stat") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and all(word in argv for word in words):
            found.append(int(entry))
    return found


def _children(platform, *words: str) -> list[int]:
    """PIDs of the platform's processes whose command line has all of `words`."""
    return children_of(platform.process.pid, *words)


def test_a_killed_relay_and_consumer_lose_nothing(platform, make_user, identity_events):
    owner = make_user("owner")
    identity_events()
    # identity's relay and consumer are threads of its jobs process
    (jobs,) = _children(platform, "jobs", "identity")
    os.kill(jobs, signal.SIGKILL)

    # While both are gone: a change that publishes, and an event for identity to handle.
    ws = secrets.token_hex(16)
    platform.publish("workspace", workspace_created_event(ws, owner.account["id"]), "workspace.workspace.created")

    # The supervisor starts them again; the event is handled and identity's own event goes out.
    eventually(lambda: memberships(owner, ws), timeout=30, interval=0.3)
    eventually(lambda: [e for e in identity_events("identity.member.added") if e["workspace_id"] == ws], timeout=30)
    assert _children(platform, "jobs", "identity") != [jobs]
