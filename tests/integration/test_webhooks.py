"""Webhooks through the gateway, posted to a real HTTP receiver on loopback: signed with the
secret shown once, retried after a 500, redelivered on request, every attempt listed; URLs inside
the platform's network refused; for admins only."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .conftest import eventually
from .test_catalog import new_miniprogram, upload

#: an event crosses the outbox, the relay, the broker and the consumer, then the webhook worker
HOPS = 30.0


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps what it is sent and answers the statuses it is told to (then 204)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.received.append((dict(self.headers), body))
                    status = receiver.answers.pop(0) if receiver.answers else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/mpdp?team=qa"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, event: str) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return [(headers, body) for headers, body in self.received if headers.get("X-MPDP-Event") == event]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def signed_by(secret: str, headers: dict[str, str], body: bytes) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["X-MPDP-Signature-256"], expected)


def test_a_webhook_gets_its_events_signed_retried_after_a_500_and_redelivered(make_user, make_workspace, receiver):
    admin = make_user("admin")
    ws = make_workspace(admin)
    hooks = f"/api/v1/workspaces/{ws}/webhooks"
    created = admin.post(hooks, json={"url": receiver.url, "events": ["version.uploaded"], "description": "CI"})
    assert created.status_code == 201, created.text
    webhook = created.json()
    secret = webhook["secret"]
    assert secret and webhook["active"] is True and webhook["events"] == ["version.uploaded"]
    listed = admin.get(hooks)
    assert listed.status_code == 200 and secret not in listed.text
    assert [item["id"] for item in listed.json()["items"]] == [webhook["id"]]

    # The receiver fails the first attempt; the delivery is retried and then delivered.
    receiver.answers.append(500)
    mp = new_miniprogram(admin, ws)["id"]
    version = eventually(lambda: upload(admin, ws, mp, "1.0.0"), timeout=HOPS).json()
    posts = eventually(lambda: len(found := receiver.of("version.uploaded")) >= 2 and found, timeout=HOPS)
    (first_headers, first_body), (headers, body) = posts[:2]
    assert body == first_body and headers["X-MPDP-Delivery"] == first_headers["X-MPDP-Delivery"]
    assert signed_by(secret, headers, body)
    assert not signed_by("whsec_not-the-secret", headers, body)
    sent = json.loads(body)
    assert sent["id"] == headers["X-MPDP-Delivery"] and sent["event"] == "version.uploaded" and sent["version"] == 1
    assert sent["workspace_id"] == ws and sent["occurred_at"]
    assert sent["data"]["version_id"] == version["id"] and sent["data"]["version"] == "1.0.0"
    assert sent["data"]["miniprogram_id"] == mp and sent["data"]["uploaded_by"] == admin.account["id"]

    deliveries = f"{hooks}/{webhook['id']}/deliveries"
    delivery = eventually(lambda: (items := admin.get(deliveries).json()["items"]) and items[0]["status"] == "delivered" and items[0])
    assert delivery["id"] == sent["id"] and delivery["event"] == "version.uploaded"
    assert delivery["attempts"] == 2 and delivery["status_code"] == 204 and delivery["delivered_at"]
    assert [attempt["status_code"] for attempt in delivery["history"]] == [500, 204]
    assert all(attempt["at"] and attempt["duration_ms"] >= 0 for attempt in delivery["history"])

    # Redeliver: the same delivery, id and body, signed alike.
    redelivered = admin.post(f"{deliveries}/{delivery['id']}/redeliver")
    assert redelivered.status_code == 202, redelivered.text
    again = eventually(lambda: len(found := receiver.of("version.uploaded")) >= 3 and found[2], timeout=HOPS)
    assert again[1] == body and again[0]["X-MPDP-Delivery"] == delivery["id"] and signed_by(secret, *again)
    assert eventually(lambda: admin.get(deliveries).json()["items"][0]["attempts"] == 3)

    # A ping goes out whatever the webhook subscribes to.
    pinged = admin.post(f"{hooks}/{webhook['id']}/ping")
    assert pinged.status_code == 202 and pinged.json()["event"] == "ping"
    ping_headers, ping_body = eventually(lambda: receiver.of("ping") and receiver.of("ping")[0], timeout=HOPS)
    assert json.loads(ping_body)["data"]["webhook_id"] == webhook["id"] and signed_by(secret, ping_headers, ping_body)

    # Paused, it queues nothing; deleted, it is gone.
    assert admin.patch(f"{hooks}/{webhook['id']}", json={"active": False}).json()["active"] is False
    assert admin.delete(f"{hooks}/{webhook['id']}").status_code == 204
    assert admin.get(f"{hooks}/{webhook['id']}").status_code == 404


def test_webhooks_are_for_admins_and_refuse_urls_inside_the_platforms_network(make_user, make_workspace, receiver):
    admin, developer = make_user("admin"), make_user("developer")
    ws = make_workspace(admin)
    hooks = f"/api/v1/workspaces/{ws}/webhooks"
    invited = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": developer.account["email"], "role": "developer"})
    assert developer.post(f"/api/v1/invitations/{invited.json()['token']}/accept").status_code == 200
    eventually(lambda: developer.get(f"/api/v1/workspaces/{ws}").status_code == 200)
    assert developer.post(hooks, json={"url": receiver.url, "events": ["alert.fired"]}).status_code == 403
    assert developer.get(hooks).status_code == 403
    assert make_user("stranger").get(hooks).status_code == 404

    # The tests' operator allows 127.0.0.1 (MPDP_WEBHOOK_ALLOWED_HOSTS); any other internal host is refused.
    port = receiver.server.server_address[1]
    for url in (
        f"http://localhost:{port}/",
        "http://10.0.0.7/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hooks",
        "http://2130706433/",
        "ftp://hooks.example.com/",
        "https://user:pass@hooks.example.com/",
    ):
        refused = admin.post(hooks, json={"url": url, "events": ["alert.fired"]})
        assert refused.status_code == 422, (url, refused.text)
        assert "url" in refused.json()["errors"], refused.text
    unknown_event = admin.post(hooks, json={"url": receiver.url, "events": ["launch.exploded"]})
    assert unknown_event.status_code == 422 and "events" in unknown_event.json()["errors"]


def test_a_member_change_reaches_the_webhook_and_the_audit_log_names_the_webhook_without_its_secret(make_user, make_workspace, receiver):
    admin, developer = make_user("admin"), make_user("developer")
    ws = make_workspace(admin)
    base = f"/api/v1/workspaces/{ws}"
    created = admin.post(f"{base}/webhooks", json={"url": receiver.url, "events": ["member.changed"]})
    assert created.status_code == 201, created.text
    invited = admin.post(f"{base}/invitations", json={"email": developer.account["email"], "role": "developer"})
    assert developer.post(f"/api/v1/invitations/{invited.json()['token']}/accept").status_code == 200

    headers, body = eventually(lambda: receiver.of("member.changed") and receiver.of("member.changed")[0], timeout=HOPS)
    assert signed_by(created.json()["secret"], headers, body)
    data = json.loads(body)["data"]
    assert data == {"account_id": developer.account["id"], "role": "developer", "status": "active", "change": "added"}

    entries = eventually(
        lambda: admin.get(f"{base}/audit-log", params={"action": "workspace.webhook.created"}).json()["items"], timeout=HOPS
    )
    assert entries[0]["subject"] == {"kind": "webhook", "id": created.json()["id"]}
    assert entries[0]["actor"] == {"kind": "account", "id": admin.account["id"]}
    assert "127.0.0.1" in entries[0]["summary"] and "team=qa" not in entries[0]["summary"]
    assert created.json()["secret"] not in admin.get(f"{base}/audit-log", params={"limit": 200}).text
