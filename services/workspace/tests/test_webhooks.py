"""Webhooks in the workspace service: a delivery per subscribed event and webhook, signed, sent
to the address that was checked, retried on the schedule and then given up; URLs inside the
platform's network refused."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from mpdp_common.db import session_scope
from mpdp_common.testing import unit_settings
from mpdp_workspace import webhooks
from mpdp_workspace.models import Webhook, WebhookAttempt, WebhookDelivery
from mpdp_workspace.service import service

from .conftest import WorkspaceHarness
from .test_audit import consume_outbox

UPLOADED = {
    "version_id": "v1",
    "miniprogram_id": "mp1",
    "version": "1.0.0",
    "sha256": "0" * 64,
    "size": 10,
    "uploaded_by": "bob",
    "uploaded_at": "2026-12-08T10:00:00+00:00",
}


@pytest.fixture
def local_harness(tmp_path):
    """The harness of an operator who lets webhooks reach 127.0.0.1, with quick retries."""
    harness = WorkspaceHarness(
        service, tmp_path, webhook_allowed_hosts=("127.0.0.1",), webhook_retry_seconds=(0, 0), webhook_timeout_seconds=1.0
    )
    yield harness
    harness.close()


class Receiver:
    """A loopback HTTP server answering the statuses it is told to (then 204), or never (`hang`)."""

    def __init__(self, hang: bool = False) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                if hang:
                    time.sleep(5)
                    return
                self.send_response(receiver.answers.pop(0) if receiver.answers else 204)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?x=1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


def create(harness, ws, url="https://hooks.example.com/mpdp", events=("version.uploaded",), account="alice"):
    return harness.call("POST", f"/api/v1/workspaces/{ws}/webhooks", account, json={"url": url, "events": list(events)})


def deliveries(harness) -> list[WebhookDelivery]:
    with session_scope(harness.sessions) as session:
        return session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at, WebhookDelivery.event)).all()


def send_due(harness) -> int:
    """What the worker does once: claim what is due and send it; how many were sent."""
    with session_scope(harness.sessions) as session:
        lanes = webhooks.claim(session, harness.settings, 10, set())
    for lane in lanes:
        for item in lane:
            outcome = webhooks.post(item.url, item.headers, item.body, harness.settings)
            with session_scope(harness.sessions) as session:
                webhooks.record(session, item.delivery_id, outcome, harness.settings)
    return sum(len(lane) for lane in lanes)


def test_a_webhook_is_created_by_an_admin_with_its_secret_shown_once(harness):
    ws = harness.tenant("alice", bob="developer")
    created = create(harness, ws)
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["secret"].startswith("whsec_") and body["url"] == "https://hooks.example.com/mpdp"
    listed = harness.call("GET", f"/api/v1/workspaces/{ws}/webhooks", "alice")
    assert listed.status_code == 200 and body["secret"] not in listed.get_data(as_text=True)
    with session_scope(harness.sessions) as session:
        assert body["secret"] not in session.scalars(select(Webhook)).one().secret_encrypted
    assert create(harness, ws, account="bob").status_code == 403
    assert create(harness, ws, url="http://127.0.0.1/", account="bob").status_code == 403


def test_urls_inside_the_platforms_network_are_refused_unless_the_operator_allows_the_host(harness, local_harness):
    ws = harness.tenant("alice")
    for url in ("http://127.0.0.1/hook", "http://10.0.0.7/", "http://[::1]:8080/", "http://169.254.169.254/", "http://0x7f000001/"):
        refused = create(harness, ws, url=url)
        assert refused.status_code == 422 and "url" in refused.get_json()["errors"], url
    for url in ("ftp://hooks.example.com/", "https://u:p@hooks.example.com/", "hooks.example.com/x", "http://exa mple.com:99999/"):
        assert create(harness, ws, url=url).status_code == 422, url
    local = local_harness.tenant("alice")
    assert create(local_harness, local, url="http://127.0.0.1:9/hook").status_code == 201
    assert create(local_harness, local, url="http://localhost:9/hook").status_code == 422


def test_the_sender_judges_the_address_again_and_refuses_an_internal_one(harness, monkeypatch):
    # The name resolved to a public address when it was saved; now it resolves inside.
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", 80))])
    outcome = webhooks.post("http://hooks.example.com/x", {}, b"{}", harness.settings)
    assert outcome.status_code is None and outcome.error.startswith("refused:") and "10.1.2.3" in outcome.error


def test_every_subscribed_event_is_queued_once_signed_and_retried_then_given_up(local_harness, receiver):
    harness = local_harness
    ws = harness.tenant("alice")
    secret = create(harness, ws, url=receiver.url, events=("version.uploaded", "launch.halted")).get_json()["secret"]
    create(harness, ws, url=receiver.url, events=("member.changed",))
    seen = consume_outbox(harness)
    event = harness.deliver("catalog.version.uploaded", UPLOADED | {"workspace_id": ws}, ws)
    harness.deliver("catalog.version.uploaded", UPLOADED | {"workspace_id": ws}, ws, id=event.id)  # the broker again
    consume_outbox(harness, seen)
    [delivery] = deliveries(harness)
    assert delivery.event == "version.uploaded" and delivery.status == "pending"

    receiver.answers += [500, 503, 500]
    assert send_due(harness) == 1
    headers, body = receiver.received[0]
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-MPDP-Signature-256"] == expected and headers["X-MPDP-Delivery"] == delivery.id
    sent = json.loads(body)
    assert sent == {
        "id": delivery.id,
        "event": "version.uploaded",
        "version": 1,
        "occurred_at": event.occurred_at,
        "workspace_id": ws,
        "data": {k: UPLOADED[k] for k in ("version_id", "miniprogram_id", "version", "size", "uploaded_by")}
        | {"uploaded_at": "2026-12-08T10:00:00Z"},
    }
    assert send_due(harness) == 1 and send_due(harness) == 1  # the two retries of the schedule
    [given_up] = deliveries(harness)
    assert given_up.status == "failed" and given_up.attempts == 3 and given_up.next_attempt_at is None
    assert given_up.status_code == 500 and "answered 500" in given_up.error
    assert send_due(harness) == 0

    with session_scope(harness.sessions) as session:
        webhooks.redeliver(session, session.get(WebhookDelivery, given_up.id))
    assert send_due(harness) == 1
    [delivered] = deliveries(harness)
    assert delivered.status == "delivered" and delivered.attempts == 4 and delivered.status_code == 204
    assert receiver.received[-1][1] == body
    with session_scope(harness.sessions) as session:
        codes = session.scalars(select(WebhookAttempt.status_code).order_by(WebhookAttempt.at)).all()
    assert codes == [500, 503, 500, 204]


def test_a_halt_is_told_as_a_status_change_and_as_a_halt(local_harness, receiver):
    harness = local_harness
    ws = harness.tenant("alice")
    create(harness, ws, url=receiver.url, events=("launch.status_changed", "launch.halted"))
    launch = {
        "launch_id": "l1",
        "miniprogram_id": "mp1",
        "workspace_id": ws,
        "app_id": "a1",
        "version_id": "v1",
        "version": "1.0.0",
        "status": "halted",
        "previous_status": "grayscale",
        "percentage": 10,
        "revision": 4,
        "reason": "crash-free sessions 0.91 below 0.99",
        "figures": {"version": {"sessions": 500}},
    }
    harness.deliver("catalog.launch.status_changed", launch, ws)
    assert sorted(delivery.event for delivery in deliveries(harness)) == ["launch.halted", "launch.status_changed"]
    harness.deliver("catalog.launch.status_changed", launch | {"previous_status": "halted", "revision": 5}, ws)
    assert len(deliveries(harness)) == 2  # a plan's change without a new status tells nothing


def test_a_receiver_that_never_answers_costs_the_timeout_and_no_more(tmp_path):
    hanging = Receiver(hang=True)
    try:
        settings = unit_settings("workspace", tmp_path, webhook_allowed_hosts=("127.0.0.1",), webhook_timeout_seconds=0.5)
        started = time.monotonic()
        outcome = webhooks.post(hanging.url, {"Content-Type": "application/json"}, b"{}", settings)
        assert time.monotonic() - started < 1.5
        assert outcome.status_code is None and "no answer within 0.5 s" in outcome.error
    finally:
        hanging.close()


def test_one_delivery_at_a_time_per_webhook_so_a_slow_receiver_holds_up_only_its_own(local_harness):
    harness = local_harness
    ws = harness.tenant("alice")
    slow = create(harness, ws, url="http://127.0.0.1:9/slow", events=("member.changed",)).get_json()["id"]
    fast = create(harness, ws, url="http://127.0.0.1:9/fast").get_json()["id"]
    for number in range(10):  # the slow receiver's backlog, older than anything else
        member = {"workspace_id": ws, "account_id": f"a{number}", "role": "developer", "status": "active", "revision": 1}
        harness.deliver("identity.member.added", member, ws)
    harness.deliver("catalog.version.uploaded", UPLOADED | {"workspace_id": ws}, ws)
    with session_scope(harness.sessions) as session:
        lanes = webhooks.claim(session, harness.settings, 1, {slow})
    assert [[item.webhook_id for item in lane] for lane in lanes] == [[fast]]
    with session_scope(harness.sessions) as session:
        lanes = webhooks.claim(session, harness.settings, 10, set())
    # the fast one's is taken already; the slow one's ten in one lane, oldest first
    assert [len(lane) for lane in lanes] == [10] and {item.webhook_id for item in lanes[0]} == {slow}
    with session_scope(harness.sessions) as session:
        webhooks.release(session, [item.delivery_id for item in lanes[0][1:]])
    with session_scope(harness.sessions) as session:
        assert [len(lane) for lane in webhooks.claim(session, harness.settings, 10, set())] == [9]


def test_the_documented_example_receiver_accepts_a_signed_delivery_and_nothing_else():
    path = Path(__file__).parents[3] / "docs" / "examples" / "webhook_receiver.py"
    spec = importlib.util.spec_from_file_location("webhook_receiver", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    secret, body = webhooks.new_secret(), b'{"id":"d1","event":"ping","version":1,"workspace_id":"w","data":{}}'
    assert example.verified(secret, body, webhooks.signature(secret, body))
    assert not example.verified(secret, body + b" ", webhooks.signature(secret, body))
    assert not example.verified("whsec_other", body, webhooks.signature(secret, body))
    assert not example.verified(secret, body, None)
