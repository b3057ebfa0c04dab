"""The workspace service through the gateway: workspaces, developer workspaces decided by the
approval service's event, catalog facts, settings with SMTP, host apps, app keys and API keys,
and every role against every endpoint."""

from __future__ import annotations

import email
import email.policy
import io
import json
import secrets
import struct
import time
import zlib

import pytest
import requests

from .conftest import _free_port, eventually

APP = {"name": "Acme Super App", "platforms": ["ios", "android"], "bundle_id": "com.acme.superapp"}


def envelope(event_type: str, payload: dict, workspace_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "id": secrets.token_hex(16),
            "type": event_type,
            "version": 1,
            "occurred_at": "2026-11-25T10:00:00Z",
            "producer": event_type.split(".")[0],
            "workspace_id": workspace_id,
            "aggregate_id": None,
            "correlation_id": None,
            "payload": payload,
        }
    ).encode()


def png(padding: int = 0) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00\x00\x00\x00"))
        + b"\x00" * padding
        + chunk(b"IEND", b"")
    )


def join(admin, user, ws: str, role: str) -> None:
    """`user` becomes a member with `role`, and the workspace service knows it."""
    invitation = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": user.account["email"], "role": role})
    assert invitation.status_code == 201, invitation.text
    assert user.post(f"/api/v1/invitations/{invitation.json()['token']}/accept").status_code == 200
    eventually(lambda: user.get(f"/api/v1/workspaces/{ws}").json().get("role") == role)


@pytest.fixture
def team(make_user, make_workspace):
    """A workspace with one member of each kind, a stranger, and a host app."""
    admin, reviewer, developer, blocked, stranger = (make_user(name) for name in ("admin", "reviewer", "developer", "blocked", "stranger"))
    ws = make_workspace(admin)
    join(admin, reviewer, ws, "reviewer")
    join(admin, developer, ws, "developer")
    join(admin, blocked, ws, "developer")
    assert admin.post(f"/api/v1/workspaces/{ws}/members/{blocked.account['id']}/block").status_code == 200
    eventually(lambda: blocked.get(f"/api/v1/workspaces/{ws}").status_code == 403)
    app = admin.post(f"/api/v1/workspaces/{ws}/apps", json=APP)
    assert app.status_code == 201, app.text
    return {
        "ws": ws,
        "app": app.json()["id"],
        "admin": admin,
        "reviewer": reviewer,
        "developer": developer,
        "blocked": blocked,
        "stranger": stranger,
    }


def test_a_tenant_workspace_and_its_general_info(make_user, make_workspace):
    owner, stranger = make_user("owner"), make_user("stranger")
    ws = make_workspace(owner)
    detail = owner.get(f"/api/v1/workspaces/{ws}").json()
    assert detail["kind"] == "tenant" and detail["status"] == "active" and detail["role"] == "admin"
    assert ws in [item["id"] for item in owner.get("/api/v1/workspaces").json()["items"]]
    assert ws not in [item["id"] for item in stranger.get("/api/v1/workspaces").json()["items"]]

    changed = owner.patch(
        f"/api/v1/workspaces/{ws}",
        json={"name": "Acme Ltd", "business_address": "1 Main St", "contact_email": "ops@acme.example"},
    )
    assert changed.status_code == 200 and changed.json()["name"] == "Acme Ltd"
    assert owner.get(f"/api/v1/workspaces/{ws}").json()["contact_email"] == "ops@acme.example"
    bad = owner.patch(f"/api/v1/workspaces/{ws}", json={"contact_email": "not-an-email", "name": ""})
    assert bad.status_code == 422 and set(bad.json()["errors"]) == {"contact_email", "name"}
    assert bad.headers["Content-Type"] == "application/problem+json"
    assert owner.get(f"/api/v1/workspaces/{ws}").json()["name"] == "Acme Ltd"
    assert stranger.get(f"/api/v1/workspaces/{ws}").status_code == 404
    assert owner.get("/api/v1/workspaces/0123456789abcdef0123456789abcdef").status_code == 404
    assert requests.get(f"{owner.base}/api/v1/workspaces", timeout=5).status_code == 401


ADMIN_ONLY, MEMBERS = "admin", "members"
UPLOAD = object()


def _endpoints(team) -> list[tuple[str, str, dict, str, int]]:
    """(method, path, json body, who may, status when allowed)."""
    ws, app = team["ws"], team["app"]
    base = f"/api/v1/workspaces/{ws}"
    settings = {"tester_whitelist_enabled": True, "domains": {"primary": "console.acme.example", "alternatives": []}}
    return [
        ("GET", base, None, MEMBERS, 200),
        ("PATCH", base, {"business_address": "2 Main St"}, ADMIN_ONLY, 200),
        ("GET", f"{base}/developer-workspaces", None, MEMBERS, 200),
        ("DELETE", f"{base}/developer-workspaces/{'0' * 32}", None, ADMIN_ONLY, 404),
        ("GET", f"{base}/settings", None, MEMBERS, 200),
        ("PUT", f"{base}/settings", settings, ADMIN_ONLY, 200),
        ("POST", f"{base}/apps", APP | {"name": f"App {secrets.token_hex(3)}"}, ADMIN_ONLY, 201),
        ("GET", f"{base}/apps", None, MEMBERS, 200),
        ("GET", f"{base}/apps/{app}", None, MEMBERS, 200),
        ("PATCH", f"{base}/apps/{app}", {"bundle_id": "com.acme.app2"}, ADMIN_ONLY, 200),
        ("POST", f"{base}/apps/{app}/keys", {"label": "k"}, ADMIN_ONLY, 201),
        ("GET", f"{base}/apps/{app}/keys", None, ADMIN_ONLY, 200),
        ("DELETE", f"{base}/apps/{app}/keys/{'0' * 32}", None, ADMIN_ONLY, 404),
        ("POST", f"{base}/apps/{app}/keys/{'0' * 32}/rotate", {}, ADMIN_ONLY, 404),
        ("POST", f"{base}/api-keys", {"label": "ci", "role": "reviewer"}, ADMIN_ONLY, 201),
        ("GET", f"{base}/api-keys", None, ADMIN_ONLY, 200),
        ("DELETE", f"{base}/api-keys/{'0' * 32}", None, ADMIN_ONLY, 404),
        ("POST", f"{base}/settings/logo", UPLOAD, ADMIN_ONLY, 200),
        (
            "POST",
            "/api/v1/workspaces",
            {"name": "Studio", "kind": "developer", "parent_id": ws, "business_type": "self"},
            MEMBERS,
            202,
        ),
    ]


def test_every_role_against_every_endpoint(team):
    for method, path, body, who, allowed_status in _endpoints(team):
        for role in ("admin", "reviewer", "developer", "blocked", "stranger"):
            if role == "stranger":
                expected = 404
            elif role == "blocked":
                expected = 403
            elif who == MEMBERS or role == "admin":
                expected = allowed_status
            else:
                expected = 403
            if body is UPLOAD:
                answer = team[role].request(method, path, files={"file": ("logo.png", io.BytesIO(png()), "image/png")})
            else:
                answer = team[role].request(method, path, json=body)
            assert answer.status_code == expected, (role, method, path, answer.text[:300])
            if expected >= 400:
                assert answer.headers["Content-Type"] == "application/problem+json"


def test_apps_and_their_keys(team, make_user, make_workspace):
    admin, ws, app = team["admin"], team["ws"], team["app"]
    base = f"/api/v1/workspaces/{ws}"
    assert admin.post(f"{base}/apps", json=APP).status_code == 409
    fingerprint = ":".join(["0F"] * 32)
    patched = admin.patch(f"{base}/apps/{app}", json={"android_cert_fingerprints": [fingerprint.lower()]})
    assert patched.status_code == 200 and patched.json()["android_cert_fingerprints"] == [fingerprint]
    for bad in ({"android_cert_fingerprints": ["0F:0F"]}, {"platforms": ["symbian"]}, {"bundle_id": "nodots"}):
        assert admin.patch(f"{base}/apps/{app}", json=bad).status_code == 422, bad

    key = admin.post(f"{base}/apps/{app}/keys", json={"label": "prod"})
    assert key.status_code == 201
    key = key.json()
    assert key["secret"] and key["key_id"]
    assert "secret" not in admin.get(f"{base}/apps/{app}/keys").text
    rotated = admin.post(f"{base}/apps/{app}/keys/{key['id']}/rotate", json={"grace_seconds": 60})
    assert rotated.status_code == 201 and rotated.json()["replaces"]["status"] == "expiring"
    assert admin.post(f"{base}/apps/{app}/keys/{key['id']}/rotate", json={"grace_seconds": 60}).status_code == 409
    assert admin.post(f"{base}/apps/{app}/keys/{rotated.json()['id']}/rotate", json={"grace_seconds": -1}).status_code == 422
    assert admin.delete(f"{base}/apps/{app}/keys/{rotated.json()['id']}").status_code == 204
    statuses = {item["id"]: item["status"] for item in admin.get(f"{base}/apps/{app}/keys").json()["items"]}
    assert statuses == {key["id"]: "expiring", rotated.json()["id"]: "revoked"}

    # Another workspace's app and keys are not there.
    other_admin = make_user("other")
    other = make_workspace(other_admin)
    assert other_admin.get(f"/api/v1/workspaces/{other}/apps/{app}").status_code == 404
    assert other_admin.delete(f"/api/v1/workspaces/{other}/apps/{app}/keys/{key['id']}").status_code == 404
    other_app = other_admin.post(f"/api/v1/workspaces/{other}/apps", json=APP).json()["id"]  # names are per workspace
    assert admin.delete(f"{base}/apps/{other_app}/keys/{key['id']}").status_code == 404


def test_an_api_key_is_a_bearer_token_with_its_role_until_revoked(team, make_user, make_workspace):
    admin, ws = team["admin"], team["ws"]
    created = admin.post(f"/api/v1/workspaces/{ws}/api-keys", json={"label": "ci", "role": "developer"})
    assert created.status_code == 201
    key = created.json()
    assert key["token"].startswith("mpdp_ak_") and "token" not in admin.get(f"/api/v1/workspaces/{ws}/api-keys").text
    headers = {"Authorization": f"Bearer {key['token']}"}
    gateway = admin.base

    def call(method: str, path: str, **kwargs) -> int:
        return requests.request(method, gateway + path, headers=headers, timeout=10, **kwargs).status_code

    # Identity learns of the key by event; the workspace service owns it.
    eventually(lambda: call("GET", f"/api/v1/workspaces/{ws}/members") == 200)
    assert call("GET", f"/api/v1/workspaces/{ws}/apps") == 200
    assert call("POST", f"/api/v1/workspaces/{ws}/apps", json=APP | {"name": "By key"}) == 403
    assert call("POST", f"/api/v1/workspaces/{ws}/invitations", json={"email": "x@example.com", "role": "developer"}) == 403
    other = make_workspace(make_user("other"))
    assert call("GET", f"/api/v1/workspaces/{other}/apps") == 404
    assert call("GET", f"/api/v1/workspaces/{other}/members") == 404

    assert admin.delete(f"/api/v1/workspaces/{ws}/api-keys/{key['id']}").status_code == 204
    started = time.monotonic()
    assert call("GET", f"/api/v1/workspaces/{ws}/apps") == 401
    eventually(lambda: call("GET", f"/api/v1/workspaces/{ws}/members") == 401, timeout=1.0, interval=0.05)
    assert time.monotonic() - started < 1.0


def test_an_api_key_holds_only_while_its_creators_membership_holds(team, make_user):
    """A key acts for the account that made it: blocking that account blocks the key in every
    service, unblocking gives it back, removing the account ends it."""
    admin, ws = team["admin"], team["ws"]
    second = make_user("second")
    join(admin, second, ws, "admin")
    key = second.post(f"/api/v1/workspaces/{ws}/api-keys", json={"label": "ci", "role": "developer"}).json()
    headers = {"Authorization": f"Bearer {key['token']}"}
    paths = [f"/api/v1/workspaces/{ws}/members", f"/api/v1/workspaces/{ws}/apps", f"/api/v1/workspaces/{ws}/miniprograms"]

    def statuses() -> set[int]:
        return {requests.get(admin.base + path, headers=headers, timeout=10).status_code for path in paths}

    eventually(lambda: statuses() == {200})
    member = f"/api/v1/workspaces/{ws}/members/{second.account['id']}"
    assert admin.post(f"{member}/block").status_code == 200
    eventually(lambda: statuses() == {403})
    assert admin.post(f"{member}/unblock").status_code == 200
    eventually(lambda: statuses() == {200})
    assert admin.delete(member).status_code == 204
    eventually(lambda: statuses() == {404})


def test_developer_workspace_applied_for_approved_and_deleted(team, platform):
    admin, developer, ws = team["admin"], team["developer"], team["ws"]
    answer = developer.post("/api/v1/workspaces", json={"name": "Studio", "kind": "developer", "parent_id": ws, "business_type": "isv"})
    assert answer.status_code == 202 and answer.json()["status"] == "pending_approval"
    dev_ws = answer.json()["id"]
    assert developer.get(f"/api/v1/workspaces/{dev_ws}").json()["status"] == "pending_approval"
    assert (
        team["stranger"]
        .post("/api/v1/workspaces", json={"name": "S", "kind": "developer", "parent_id": ws, "business_type": "self"})
        .status_code
        == 404
    )

    def decide(dev_ws: str, decision: str, **body) -> None:
        """As the tenant's admin, through the approval service that the application opened."""
        approval = eventually(
            lambda: [
                item
                for item in admin.get(f"/api/v1/workspaces/{ws}/approvals", params={"type": "developer_workspace"}).json()["items"]
                if item["subject"] == {"kind": "developer_workspace", "id": dev_ws}
            ]
        )[0]
        assert approval["applicant_id"] == developer.account["id"] and approval["status"] == "pending"
        answer = admin.post(f"/api/v1/workspaces/{ws}/approvals/{approval['id']}/{decision}", json=body)
        assert answer.status_code == 200, answer.text

    decide(dev_ws, "approve", comment="welcome")
    eventually(lambda: any(m["workspace_id"] == dev_ws and m["role"] == "admin" for m in developer.get("/api/v1/me").json()["memberships"]))
    eventually(lambda: developer.get(f"/api/v1/workspaces/{dev_ws}").json().get("status") == "active")
    assert developer.get(f"/api/v1/workspaces/{dev_ws}").json()["role"] == "admin"

    # The catalog's facts: two mini programs, one with a grayscale launch.
    facts = [
        ("catalog.miniprogram.created", {"miniprogram_id": "mp-a", "workspace_id": dev_ws, "name": "Shop", "created_by": "x"}),
        ("catalog.miniprogram.created", {"miniprogram_id": "mp-b", "workspace_id": dev_ws, "name": "Pay", "created_by": "x"}),
        (
            "catalog.launch.status_changed",
            {
                "launch_id": "l-1",
                "miniprogram_id": "mp-a",
                "workspace_id": dev_ws,
                "app_id": team["app"],
                "version_id": "v",
                "status": "grayscale",
            },
        ),
    ]
    for event_type, payload in facts:
        platform.publish("catalog", envelope(event_type, payload, dev_ws), event_type)
    listed = lambda: admin.get(f"/api/v1/workspaces/{ws}/developer-workspaces").json()["items"]  # noqa: E731
    eventually(lambda: [(item["id"], item["miniprogram_count"]) for item in listed()] == [(dev_ws, 2)])
    eventually(lambda: admin.delete(f"/api/v1/workspaces/{ws}/developer-workspaces/{dev_ws}").status_code == 409)

    # Taken offline; but a version was uploaded days ago.
    offline = facts[2][1] | {"status": "offline"}
    platform.publish("catalog", envelope("catalog.launch.status_changed", offline, dev_ws), "catalog.launch.status_changed")
    uploaded = {
        "version_id": "v-2",
        "miniprogram_id": "mp-b",
        "workspace_id": dev_ws,
        "version": "1.0.0",
        "sha256": "0" * 64,
        "size": 10,
        "uploaded_by": "x",
        "uploaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 86400)),
    }
    platform.publish("catalog", envelope("catalog.version.uploaded", uploaded, dev_ws), "catalog.version.uploaded")
    time.sleep(1.0)
    assert admin.delete(f"/api/v1/workspaces/{ws}/developer-workspaces/{dev_ws}").status_code == 409

    # An upload over 30 days old does not hold the deletion back.
    old_upload = uploaded | {"version_id": "v-3", "miniprogram_id": "mp-c", "uploaded_at": "2020-01-01T00:00:00Z"}
    second = developer.post("/api/v1/workspaces", json={"name": "Old", "kind": "developer", "parent_id": ws, "business_type": "self"})
    old_ws = second.json()["id"]
    decide(old_ws, "approve")
    platform.publish(
        "catalog", envelope("catalog.version.uploaded", old_upload | {"workspace_id": old_ws}, old_ws), "catalog.version.uploaded"
    )
    eventually(lambda: any(item["id"] == old_ws and item["miniprogram_count"] == 1 for item in listed()))
    assert developer.delete(f"/api/v1/workspaces/{ws}/developer-workspaces/{old_ws}").status_code == 403
    assert admin.delete(f"/api/v1/workspaces/{ws}/developer-workspaces/{old_ws}").status_code == 204
    assert old_ws not in [item["id"] for item in listed()]
    # Its members are removed everywhere: identity, and so every service's read model.
    eventually(lambda: all(m["workspace_id"] != old_ws for m in developer.get("/api/v1/me").json()["memberships"]))

    # A rejected application.
    third = developer.post("/api/v1/workspaces", json={"name": "No", "kind": "developer", "parent_id": ws, "business_type": "self"})
    decide(third.json()["id"], "reject", comment="not a business we know")
    eventually(lambda: developer.get(f"/api/v1/workspaces/{third.json()['id']}").json().get("status") == "rejected")

    # An application withdrawn by its applicant; nobody else may withdraw it.
    fourth = developer.post("/api/v1/workspaces", json={"name": "Maybe", "kind": "developer", "parent_id": ws, "business_type": "self"})
    mine = eventually(
        lambda: [
            item
            for item in developer.get(f"/api/v1/workspaces/{ws}/approvals", params={"mine": "true"}).json()["items"]
            if item["subject"]["id"] == fourth.json()["id"]
        ]
    )[0]
    assert admin.post(f"/api/v1/workspaces/{ws}/approvals/{mine['id']}/withdraw").status_code == 403
    assert developer.post(f"/api/v1/workspaces/{ws}/approvals/{mine['id']}/withdraw").status_code == 200
    eventually(lambda: developer.get(f"/api/v1/workspaces/{fourth.json()['id']}").json().get("status") == "withdrawn")


SMTP_SETTINGS = {"sender": "noreply@acme.example", "smtp_host": "127.0.0.1", "smtp_username": "mailer"}


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    class Inbox:
        def __init__(self):
            self.messages: list[tuple[list[str], bytes]] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            self.messages.append((list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"mailer" and auth_data.password == b"smtp-pass-123"
        return AuthResult(success=ok)

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def test_invitations_are_emailed_through_the_workspace_smtp_server(make_user, make_workspace, smtp_server):
    port, inbox = smtp_server
    admin, invitee = make_user("admin"), make_user("invitee")
    ws = make_workspace(admin)
    settings = {
        "service_email": SMTP_SETTINGS | {"smtp_port": port, "smtp_password": "smtp-pass-123"},
        "domains": {"primary": "console.acme.example", "alternatives": ["mp.acme.example"]},
        "tester_whitelist_enabled": True,
        "about_us_url": "https://acme.example/about",
    }
    saved = admin.put(f"/api/v1/workspaces/{ws}/settings", json=settings)
    assert saved.status_code == 200, saved.text
    assert "smtp-pass-123" not in saved.text and saved.json()["service_email"]["smtp_password_set"] is True
    read = admin.get(f"/api/v1/workspaces/{ws}/settings")
    assert "smtp-pass-123" not in read.text and read.json()["service_email"]["smtp_port"] == port
    time.sleep(1.0)  # identity's read model of the SMTP settings, fed by workspace.settings.updated

    invitation = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": invitee.account["email"], "role": "developer"})
    assert invitation.status_code == 201
    token = invitation.json()["token"]
    eventually(lambda: inbox.messages, timeout=15)
    recipients, raw = inbox.messages[0]
    assert recipients == [invitee.account["email"]]
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["From"] == "noreply@acme.example" and message["To"] == invitee.account["email"]
    assert token in message.get_content()

    bad_port = admin.put(
        f"/api/v1/workspaces/{ws}/settings", json=settings | {"service_email": settings["service_email"] | {"smtp_port": 0}}
    )
    assert bad_port.status_code == 422 and "service_email" in bad_port.json()["errors"]
    bad_url = admin.put(f"/api/v1/workspaces/{ws}/settings", json=settings | {"terms_of_service_url": "not a url"})
    assert bad_url.status_code == 422 and "terms_of_service_url" in bad_url.json()["errors"]
    assert admin.get(f"/api/v1/workspaces/{ws}/settings").json()["service_email"]["smtp_port"] == port


def test_uploads_through_the_gateway(make_user, make_workspace, platform):
    admin = make_user("admin")
    ws = make_workspace(admin)

    def upload(kind: str, data: bytes, filename: str = "logo.png"):
        return admin.post(f"/api/v1/workspaces/{ws}/settings/{kind}", files={"file": (filename, io.BytesIO(data), "image/png")})

    uploaded = upload("logo", png())
    assert uploaded.status_code == 200, uploaded.text
    served = requests.get(platform.gateway + uploaded.json()["logo_url"], timeout=5)
    assert served.status_code == 200 and served.content == png() and served.headers["Content-Type"] == "image/png"

    not_an_image = upload("logo", b"MZ\x90\x00 this is an executable, not a picture", filename="logo.png")
    assert not_an_image.status_code == 422 and not_an_image.headers["Content-Type"] == "application/problem+json"
    too_big = upload("favicon", png(padding=300 * 1024), filename="favicon.ico")
    assert too_big.status_code == 413 and too_big.headers["Content-Type"] == "application/problem+json"
    assert admin.get(f"/api/v1/workspaces/{ws}/settings").json()["logo_url"] == uploaded.json()["logo_url"]
