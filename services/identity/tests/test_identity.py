"""Identity in-process on SQLite: tokens, rotation, the workspace events it handles, mail safety."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import jwt
import pytest
from sqlalchemy import select

from mpdp_common.addresses import NotPublic
from mpdp_common.crypto import secret_box
from mpdp_common.db import session_scope, utcnow
from mpdp_common.testing import Harness, unit_settings
from mpdp_identity import mail_queue, mailer
from mpdp_identity.models import Invitation, Member, QueuedMail, RefreshToken, WorkspaceMailSettings
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


def test_an_smtp_password_is_not_sent_in_the_clear_to_another_host(monkeypatch, tmp_path):
    logins = []

    class PlainServer:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def ehlo(self):
            return None

        def has_extn(self, name):
            return False

        def login(self, user, password):
            logins.append((user, password))

        def send_message(self, message):
            return None

    monkeypatch.setattr(mailer, "_connect", lambda address, host, port: PlainServer())
    settings = unit_settings("identity", tmp_path)
    mail = WorkspaceMailSettings(
        workspace_id="w1",
        sender="noreply@acme.example",
        smtp_host="93.184.215.14",
        smtp_port=587,
        smtp_username="mailer",
        smtp_password_encrypted=secret_box(settings).encrypt("smtp-pass"),
    )
    with pytest.raises(RuntimeError, match="no TLS"):
        mailer.send(mail, EmailMessage(), settings)
    assert logins == []
    mail.smtp_host = "127.0.0.1"
    # A server on this host may take a login without TLS.
    mailer.send(mail, EmailMessage(), dataclasses.replace(settings, smtp_allow_private_hosts=True))
    assert logins == [("mailer", "smtp-pass")]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "0x7f000001", "127.1", "169.254.169.254", "10.0.0.1"])
def test_mail_is_never_sent_to_an_internal_address_even_when_a_name_moves_there(monkeypatch, tmp_path, host):
    connected = []
    monkeypatch.setattr(mailer, "_connect", lambda address, host, port: connected.append(address))
    mail = WorkspaceMailSettings(workspace_id="w1", sender="noreply@acme.example", smtp_host=host, smtp_port=25)
    with pytest.raises(NotPublic):
        mailer.send(mail, EmailMessage(), unit_settings("identity", tmp_path))
    assert connected == []


def test_invitations_are_queued_and_the_worker_retries_with_backoff(harness, monkeypatch):
    settings = harness.settings
    harness.deliver(
        "workspace.settings.updated",
        {
            "workspace_id": "w1",
            "revision": 1,
            "logo_url": None,
            "favicon_url": None,
            "service_email": {
                "sender": "noreply@acme.example",
                "smtp_host": "93.184.215.14",
                "smtp_port": 25,
                "smtp_username": None,
                "smtp_password_encrypted": None,
            },
            "domains": {"primary": None, "alternatives": []},
            "tester_whitelist_enabled": False,
            "about_us_url": None,
            "terms_of_service_url": None,
        },
    )
    token = secret_box(settings).encrypt("invitation-token")
    payload = {"invitation_id": "i1", "email": "bob@example.com", "role": "developer", "expires_at": "2026-12-01T00:00:00Z"}
    harness.deliver("identity.invitation.created", payload | {"token_encrypted": token}, "w1")

    attempts = []

    def refuse(server, message, settings):
        attempts.append(message)
        raise ConnectionRefusedError("no")

    monkeypatch.setattr(mailer, "send", refuse)
    sessions = harness.sessions
    with session_scope(sessions) as session:
        assert mail_queue.send_next(session, settings) is True
    with session_scope(sessions) as session:
        queued = session.scalars(select(QueuedMail)).one()
        assert queued.status == "pending" and queued.attempts == 1 and "ConnectionRefusedError" in queued.last_error
        assert queued.next_attempt_at > utcnow() + mail_queue.RETRY_DELAYS[0] - timedelta(seconds=5)
        assert "invitation-token" not in queued.message_encrypted
        assert mail_queue.send_next(session, settings) is False  # not due yet
        queued.next_attempt_at = utcnow()
    monkeypatch.setattr(mailer, "send", lambda server, message, settings: attempts.append(message))
    with session_scope(sessions) as session:
        assert mail_queue.send_next(session, settings) is True
    with session_scope(sessions) as session:
        queued = session.scalars(select(QueuedMail)).one()
        assert queued.status == "sent" and queued.message_encrypted is None
    assert "invitation-token" in attempts[-1].get_content() and attempts[-1]["To"] == "bob@example.com"


def test_a_pending_invitation_expires_and_a_decided_one_keeps_its_status():
    now = datetime.now(UTC)
    invitation = Invitation(status="pending", expires_at=now + timedelta(days=1))
    assert invitation.current_status(now) == "pending"
    assert invitation.current_status(now + timedelta(days=2)) == "expired"
    invitation.status = "accepted"
    assert invitation.current_status(now + timedelta(days=2)) == "accepted"


def test_anonymous_idempotency_keys_are_per_client(harness):
    client, key = harness.http, "same-key-from-two-clients"

    def sign_up_from(address: str, email: str):
        body = {"email": email, "password": "a long password", "name": "Ada"}
        return client.post("/api/v1/accounts", json=body, headers={"Idempotency-Key": key, "X-Forwarded-For": address})

    first = sign_up_from("198.51.100.7", "first@example.com")
    other = sign_up_from("203.0.113.9", "other@example.com")
    assert first.status_code == other.status_code == 201
    assert other.get_json()["email"] == "other@example.com"
    again = sign_up_from("198.51.100.7", "first@example.com")
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()
    assert sign_up_from("198.51.100.7", "third@example.com").status_code == 422


def test_a_just_rotated_refresh_token_answers_its_pair_again_until_that_pair_is_spent(harness):
    client = harness.http
    first = sign_up(client)["refresh_token"]
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": first}).get_json()
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": first}).get_json()
    assert again == rotated
    newest = client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert newest.status_code == 200
    with session_scope(harness.sessions) as session:  # a spent pair is not kept
        assert [token.rotation_encrypted is None for token in session.scalars(select(RefreshToken).order_by(RefreshToken.created_at))] == [
            True,
            False,
            True,
        ]
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": first}).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": newest.get_json()["refresh_token"]}).status_code == 401
