"""Identity in-process on SQLite: tokens, rotation, the workspace events it handles, mail safety."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import jwt
import pytest
from sqlalchemy import select

from mpdp_common import testing
from mpdp_common.config import Settings
from mpdp_common.crypto import generate_secret_key
from mpdp_common.db import session_scope
from mpdp_common.keys import ensure_signing_key
from mpdp_identity import mailer
from mpdp_identity.events import events
from mpdp_identity.models import Base, Invitation, Member, WorkspaceMailSettings
from mpdp_identity.service import service


@pytest.fixture
def app(tmp_path):
    settings = Settings(
        service="identity",
        mode="embedded",
        database_url=f"sqlite:///{tmp_path}/identity.db",
        amqp_url="memory://",
        secret_key=generate_secret_key(),
        jwt_private_key_file=ensure_signing_key(os.path.join(tmp_path, "signing.pem")),
    )
    app = service.create_app(settings)
    Base.metadata.create_all(app.extensions["mpdp"].engine)
    return app


def sign_up(client, email="ada@example.com", password="a long password"):
    assert client.post("/api/v1/accounts", json={"email": email, "password": password, "name": "Ada"}).status_code == 201
    return client.post("/api/v1/auth/token", json={"email": email, "password": password}).get_json()


def deliver(app, event_type, payload, workspace_id=None):
    testing.deliver(events, app.extensions["mpdp"].engine, event_type, payload, workspace_id=workspace_id)


def published(app, event_type):
    with session_scope(app.extensions["mpdp"].session_factory) as session:
        rows = session.execute(select(events.outbox.c.envelope).order_by(events.outbox.c.seq)).scalars().all()
    return [json.loads(row) for row in rows if json.loads(row)["type"] == event_type]


def test_tokens_are_eddsa_jwts_with_a_key_id_the_jwks_names(app):
    client = app.test_client()
    pair = sign_up(client)
    header = jwt.get_unverified_header(pair["access_token"])
    assert header["alg"] == "EdDSA"
    assert header["kid"] == client.get("/.well-known/jwks.json").get_json()["keys"][0]["kid"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200 and me.get_json()["email"] == "ada@example.com"


def test_rotation_and_reuse_detection(app):
    client = app.test_client()
    first = sign_up(client)["refresh_token"]
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first}).get_json()["refresh_token"]
    third = client.post("/api/v1/auth/refresh", json={"refresh_token": second}).get_json()["refresh_token"]
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": first}).status_code == 401
    # The reuse revoked the whole chain, the newest token included.
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": third}).status_code == 401


def test_workspace_events_make_and_unmake_members(app):
    client = app.test_client()
    pair = sign_up(client)
    account_id = client.get("/api/v1/me", headers={"Authorization": f"Bearer {pair['access_token']}"}).get_json()["id"]
    created = {"workspace_id": "w1", "name": "Acme", "kind": "tenant", "parent_id": None, "created_by": account_id}
    deliver(app, "workspace.workspace.created", created, "w1")
    deliver(app, "workspace.workspace.created", created, "w1")  # a repeat changes nothing
    assert [(e["payload"]["role"], e["payload"]["revision"]) for e in published(app, "identity.member.added")] == [("admin", 1)]

    deliver(app, "workspace.workspace.deleted", {"workspace_id": "w1", "kind": "tenant", "parent_id": None, "deleted_by": account_id}, "w1")
    removed = published(app, "identity.member.removed")
    assert [(e["payload"]["status"], e["payload"]["revision"]) for e in removed] == [("removed", 2)]
    with session_scope(app.extensions["mpdp"].session_factory) as session:
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
