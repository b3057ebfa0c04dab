"""Identity in-process on SQLite: tokens, rotation, the workspace events it handles, mail safety."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import jwt
import pytest

from mpdp_common.db import session_scope
from mpdp_common.testing import Harness
from mpdp_identity import mailer
from mpdp_identity.models import Invitation, Member, WorkspaceMailSettings
from mpdp_identity.service import service


@pytest.fixture
def harness(tmp_path):
    harness = Harness(service, tmp_path)
    yield harness
    harness.close()


def sign_up(client, email="ada@example.com", password="a long password"):
    assert client.post("/api/v1/accounts", json={"email": email, "password": password, "name": "Ada"}).status_code == 201
    return client.post("/api/v1/auth/token", json={"email": email, "password": password}).get_json()


def test_tokens_are_eddsa_jwts_with_a_key_id_the_jwks_names(harness):
    client = harness.http
    pair = sign_up(client)
    header = jwt.get_unverified_header(pair["access_token"])
    assert header["alg"] == "EdDSA"
    assert header["kid"] == client.get("/.well-known/jwks.json").get_json()["keys"][0]["kid"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200 and me.get_json()["email"] == "ada@example.com"


def test_rotation_and_reuse_detection(harness):
    client = harness.http
    first = sign_up(client)["refresh_token"]
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first}).get_json()["refresh_token"]
    third = client.post("/api/v1/auth/refresh", json={"refresh_token": second}).get_json()["refresh_token"]
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": first}).status_code == 401
    # The reuse revoked the whole chain, the newest token included.
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": third}).status_code == 401


def test_workspace_events_make_and_unmake_members(harness):
    client = harness.http
    pair = sign_up(client)
    account_id = client.get("/api/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"}).get_json()["id"]
    created = {"workspace_id": "w1", "name": "Acme", "kind": "tenant", "parent_id": None, "created_by": account_id}
    harness.deliver("workspace.workspace.created", created, "w1")
    harness.deliver("workspace.workspace.created", created, "w1")  # a repeat changes nothing
    assert [(e["payload"]["role"], e["payload"]["revision"]) for e in harness.published("identity.member.added")] == [("admin", 1)]

    harness.deliver(
        "workspace.workspace.deleted", {"workspace_id": "w1", "kind": "tenant", "parent_id": None, "deleted_by": account_id}, "w1"
    )
    removed = harness.published("identity.member.removed")
    assert [(e["payload"]["status"], e["payload"]["revision"]) for e in removed] == [("removed", 2)]
    with session_scope(harness.sessions) as session:
        assert session.get(Member, ("w1", account_id)).status == "removed"


def test_an_smtp_password_is_not_sent_in_the_clear_to_another_host(monkeypatch):
    class PlainServer:
        def __init__(self, *args, **kwargs):
            self.logged_in = False

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def ehlo(self):
            return None

        def has_extn(self, name):
            return False

        def login(self, user, password):
            self.logged_in = True

        def send_message(self, message):
            return None

    monkeypatch.setattr(mailer.smtplib, "SMTP", PlainServer)
    mail = WorkspaceMailSettings(
        workspace_id="w1",
        sender="noreply@acme.example",
        smtp_host="smtp.acme.example",
        smtp_port=587,
        smtp_username="mailer",
        smtp_password_encrypted=None,
    )
    with pytest.raises(RuntimeError, match="no TLS"):
        mailer.send(mail, EmailMessage())
    mail.smtp_host = "127.0.0.1"
    mailer.send(mail, EmailMessage())  # a server on this host may take a login without TLS


def test_a_pending_invitation_expires_and_a_decided_one_keeps_its_status():
    now = datetime.now(UTC)
    invitation = Invitation(status="pending", expires_at=now + timedelta(days=1))
    assert invitation.current_status(now) == "pending"
    assert invitation.current_status(now + timedelta(days=2)) == "expired"
    invitation.status = "accepted"
    assert invitation.current_status(now + timedelta(days=2)) == "accepted"
