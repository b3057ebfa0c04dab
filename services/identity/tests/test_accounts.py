"""Accounts people can trust, in-process on SQLite: verified email and the platform's own mail."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import jwt
import pytest
from sqlalchemy import select

from mpdp_common.crypto import secret_box
from mpdp_common.db import session_scope, utcnow
from mpdp_common.testing import Harness
from mpdp_identity import mail_queue, mailer
from mpdp_identity.models import Account, MailToken, Member, QueuedMail
from mpdp_identity.service import service

PASSWORD = "a long password"


@pytest.fixture
def harness(tmp_path):
    harness = Harness(service, tmp_path)
    yield harness
    harness.close()


def queued_mail(harness: Harness) -> list[EmailMessage]:
    """The platform's mail in the queue, oldest first, as the worker would send it."""
    with session_scope(harness.sessions) as session:
        rows = session.scalars(select(QueuedMail).where(QueuedMail.workspace_id.is_(None)).order_by(QueuedMail.created_at)).all()
        return [
            email.message_from_string(secret_box(harness.settings).decrypt(row.message_encrypted), policy=email.policy.default)  # type: ignore[misc]
            for row in rows
            if row.message_encrypted
        ]


def link_token(message: EmailMessage, page: str) -> str:
    match = re.search(rf"/{page}\?token=(\S+)", message.get_body(("plain",)).get_content())
    assert match, message.get_content()
    return match.group(1)


def sign_up(harness: Harness, address: str = "ada@example.com") -> dict:
    answer = harness.http.post("/api/v1/accounts", json={"email": address, "password": PASSWORD, "name": "Ada"})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def sign_in(harness: Harness, address: str = "ada@example.com") -> dict:
    return harness.http.post("/api/v1/auth/token", json={"email": address, "password": PASSWORD}).get_json()


def bearer(pair: dict) -> dict:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def test_sign_up_mails_a_link_that_verifies_the_email_once(harness):
    created = sign_up(harness)
    assert created["email_verified"] is False
    pair = sign_in(harness)
    assert jwt.decode(pair["access_token"], options={"verify_signature": False})["email_verified"] is False
    me = harness.http.get("/api/v1/me", headers=bearer(pair)).get_json()
    assert me["email_verified"] is False and me["mfa_enabled"] is False

    (mail,) = queued_mail(harness)
    assert mail["To"] == "ada@example.com" and mail["From"] == harness.settings.mail_from
    token = link_token(mail, "verify-email")
    assert mail.get_content().count(harness.settings.public_url + "/verify-email?token=") == 1
    with session_scope(harness.sessions) as session:  # only a digest of it is kept
        assert token not in {row.token_hash for row in session.scalars(select(MailToken))}

    verified = harness.http.post("/api/v1/accounts/verify", json={"token": token})
    assert verified.status_code == 200 and verified.get_json() == {"id": created["id"], "email": "ada@example.com", "email_verified": True}
    assert [e["payload"] for e in harness.published("identity.account.verified")] == [{"account_id": created["id"]}]
    again = harness.http.post("/api/v1/accounts/verify", json={"token": token})
    assert again.status_code == 400
    assert harness.http.post("/api/v1/accounts/verify", json={"token": "made-up"}).status_code == 400
    assert harness.http.post("/api/v1/accounts/verify", json={}).status_code == 422
    # tokens issued from now on say so
    assert jwt.decode(sign_in(harness)["access_token"], options={"verify_signature": False})["email_verified"] is True
    assert harness.http.get("/api/v1/me", headers=bearer(sign_in(harness))).get_json()["email_verified"] is True


def test_a_verification_link_expires_after_a_day(harness):
    sign_up(harness)
    token = link_token(queued_mail(harness)[0], "verify-email")
    with session_scope(harness.sessions) as session:
        row = session.scalars(select(MailToken)).one()
        assert timedelta(hours=23, minutes=59) < row.expires_at - utcnow() <= timedelta(hours=24)
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert harness.http.post("/api/v1/accounts/verify", json={"token": token}).status_code == 400


def test_a_taken_email_answers_alike_and_mails_its_owner(harness):
    first = sign_up(harness)
    second = harness.http.post("/api/v1/accounts", json={"email": "ADA@example.com", "password": "another password", "name": "Eve"})
    assert second.status_code == 201
    assert set(second.get_json()) == set(first) and second.get_json()["id"] != first["id"]
    assert second.get_json()["email_verified"] is False
    verification, notice = queued_mail(harness)
    assert notice["To"] == "ada@example.com" and "/verify-email" not in notice.get_content()
    assert "tried" in notice["Subject"]
    with session_scope(harness.sessions) as session:
        assert session.scalars(select(Account)).one().name == "Ada"
    # the first password still signs in, the second does not
    assert "access_token" in sign_in(harness)
    refused = harness.http.post("/api/v1/auth/token", json={"email": "ada@example.com", "password": "another password"})
    assert refused.status_code == 401


def test_resending_the_link_waits_a_minute(harness):
    sign_up(harness)
    pair = sign_in(harness)
    too_soon = harness.http.post("/api/v1/accounts/verify/resend", headers=bearer(pair))
    assert too_soon.status_code == 429 and 1 <= int(too_soon.headers["Retry-After"]) <= 60
    with session_scope(harness.sessions) as session:
        account = session.scalars(select(Account)).one()
        account.verification_mailed_at = utcnow() - timedelta(minutes=1, seconds=1)
    resent = harness.http.post("/api/v1/accounts/verify/resend", headers=bearer(pair))
    assert resent.status_code == 202 and resent.json["detail"]
    assert len(queued_mail(harness)) == 2
    assert harness.http.post("/api/v1/accounts/verify/resend", headers=bearer(pair)).status_code == 429
    assert harness.http.post("/api/v1/accounts/verify/resend").status_code == 401
    # both links work, each once
    first, second = (link_token(mail, "verify-email") for mail in queued_mail(harness))
    assert harness.http.post("/api/v1/accounts/verify", json={"token": second}).status_code == 200
    assert harness.http.post("/api/v1/accounts/verify/resend", headers=bearer(pair)).status_code == 202
    assert len(queued_mail(harness)) == 2  # nothing more for a verified email


def test_an_unverified_account_cannot_accept_an_invitation(harness):
    admin = sign_up(harness, "admin@example.com")
    created = sign_up(harness, "bob@example.com")
    with session_scope(harness.sessions) as session:
        session.add(Member(workspace_id="w1", account_id=admin["id"], role="admin", status="active", revision=1))
    body = {"email": "bob@example.com", "role": "developer"}
    invited = harness.http.post("/api/v1/workspaces/w1/invitations", json=body, headers=bearer(sign_in(harness, "admin@example.com")))
    assert invited.status_code == 201
    pair = sign_in(harness, "bob@example.com")
    refused = harness.http.post(f"/api/v1/invitations/{invited.get_json()['token']}/accept", headers=bearer(pair))
    assert refused.status_code == 403 and refused.get_json()["type"] == "urn:mpdp:problem:email-unverified"
    token = link_token(queued_mail(harness)[1], "verify-email")
    assert harness.http.post("/api/v1/accounts/verify", json={"token": token}).status_code == 200
    accepted = harness.http.post(f"/api/v1/invitations/{invited.get_json()['token']}/accept", headers=bearer(pair))
    assert accepted.status_code == 200, accepted.get_json()
    assert created["id"]


def test_without_an_smtp_url_the_worker_writes_each_mail_to_the_mail_folder(harness, caplog):
    sign_up(harness)
    with session_scope(harness.sessions) as session:
        assert mail_queue.send_next(session, harness.settings) is False  # the workspaces' mail: none
        assert mail_queue.send_next(session, harness.settings, platform=True) is True
    (path,) = (Path(harness.settings.data_dir) / "mail").glob("*.eml")
    written = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    token = link_token(written, "verify-email")  # type: ignore[arg-type]
    assert f"{harness.settings.public_url}/verify-email?token={token}" in caplog.text
    with session_scope(harness.sessions) as session:
        assert session.scalars(select(QueuedMail)).one().status == "sent"


def test_with_an_smtp_url_the_platform_mail_goes_to_that_server(monkeypatch, tmp_path):
    seen = []

    class Server:
        def __init__(self, host, port, timeout):
            seen.append(("connect", host, port))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def ehlo(self):
            return None

        def has_extn(self, name):
            return False

        def login(self, user, password):
            seen.append(("login", user, password))

        def send_message(self, message):
            seen.append(("send", message["To"]))

    monkeypatch.setattr(mailer.smtplib, "SMTP", Server)
    harness = Harness(service, tmp_path)
    try:
        settings = dataclasses.replace(harness.settings, smtp_url="smtp://mailer:s%40cret@localhost:2525")
        message = mailer.verification_message(settings, to="ada@example.com", name="Ada", token="t")
        mailer.send_platform(message, settings)
        assert seen == [("connect", "localhost", 2525), ("login", "mailer", "s@cret"), ("send", "ada@example.com")]
        with pytest.raises(RuntimeError, match="no TLS"):
            mailer.send_platform(message, dataclasses.replace(settings, smtp_url="smtp://mailer:pw@mail.example.com"))
        assert not (Path(settings.data_dir) / "mail").exists()
    finally:
        harness.close()


# -- password reset and change --------------------------------------------------------------------


def test_a_reset_is_asked_for_alike_whatever_the_email_and_mailed_only_to_an_account(harness):
    sign_up(harness)
    # the last one is not mailed again
    emails = ("nobody@example.com", "ADA@example.com", "ada@example.com")
    answers = [harness.http.post("/api/v1/auth/password-reset", json={"email": email}) for email in emails]
    assert [answer.status_code for answer in answers] == [202, 202, 202]
    assert len({answer.get_data(as_text=True) for answer in answers}) == 1 and answers[0].json["detail"]  # the same words for each
    assert harness.http.post("/api/v1/auth/password-reset", json={}).status_code == 422
    mails = queued_mail(harness)
    assert [m["To"] for m in mails] == ["ada@example.com", "ada@example.com"]
    assert "/reset-password?token=" in mails[1].get_content()


def test_a_reset_link_sets_a_new_password_once_and_signs_out_everywhere(harness):
    sign_up(harness)
    pairs = [sign_in(harness), sign_in(harness)]
    harness.http.post("/api/v1/auth/password-reset", json={"email": "ada@example.com"})
    token = link_token(queued_mail(harness)[-1], "reset-password")
    short = harness.http.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "short"})
    assert short.status_code == 422
    done = harness.http.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "a new long password"})
    assert done.status_code == 204
    for pair in pairs:
        assert harness.http.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).status_code == 401
    again = harness.http.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "yet another password"})
    assert again.status_code == 400
    assert harness.http.post("/api/v1/auth/token", json={"email": "ada@example.com", "password": PASSWORD}).status_code == 401
    assert harness.http.post("/api/v1/auth/token", json={"email": "ada@example.com", "password": "a new long password"}).status_code == 200
    # following the link proved the mailbox
    with session_scope(harness.sessions) as session:
        assert session.scalars(select(Account)).one().email_verified


def test_a_reset_link_lasts_an_hour(harness):
    sign_up(harness)
    harness.http.post("/api/v1/auth/password-reset", json={"email": "ada@example.com"})
    token = link_token(queued_mail(harness)[-1], "reset-password")
    with session_scope(harness.sessions) as session:
        row = session.scalars(select(MailToken).where(MailToken.purpose == "reset_password")).one()
        assert timedelta(minutes=59) < row.expires_at - utcnow() <= timedelta(hours=1)
        row.expires_at = utcnow() - timedelta(seconds=1)
    expired = harness.http.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "a new long password"})
    assert expired.status_code == 400


def test_a_password_is_changed_with_the_current_one_and_every_sign_in_ends(harness):
    sign_up(harness)
    pair, other = sign_in(harness), sign_in(harness)
    wrong = harness.http.post(
        "/api/v1/me/password", json={"current_password": "not it", "new_password": "a new long password"}, headers=bearer(pair)
    )
    assert wrong.status_code == 403
    body = {"current_password": PASSWORD, "new_password": "a new long password"}
    assert harness.http.post("/api/v1/me/password", json=body | {"new_password": "short"}, headers=bearer(pair)).status_code == 422
    assert harness.http.post("/api/v1/me/password", json=body, headers=bearer(pair)).status_code == 204
    for each in (pair, other):
        assert harness.http.post("/api/v1/auth/refresh", json={"refresh_token": each["refresh_token"]}).status_code == 401
    assert harness.http.post("/api/v1/auth/token", json={"email": "ada@example.com", "password": "a new long password"}).status_code == 200
    assert [e["payload"]["account_id"] for e in harness.published("identity.account.password_changed")]


def test_current_password_guesses_are_throttled_like_sign_ins(harness):
    sign_up(harness)
    pair = sign_in(harness)
    answers = [
        harness.http.post(
            "/api/v1/me/password", json={"current_password": f"guess {n}", "new_password": "a new long password"}, headers=bearer(pair)
        )
        for n in range(6)
    ]
    assert [a.status_code for a in answers] == [403] * 5 + [429]


# -- sessions -------------------------------------------------------------------------------------


def test_each_sign_in_is_a_session_that_can_be_listed_and_ended(harness):
    sign_up(harness)
    body = {"email": "ada@example.com", "password": PASSWORD}
    laptop = harness.http.post(
        "/api/v1/auth/token", json=body, headers={"User-Agent": "Firefox/140", "X-Forwarded-For": "198.51.100.7"}
    ).get_json()
    phone = harness.http.post(
        "/api/v1/auth/token", json=body, headers={"User-Agent": "Safari/18", "X-Forwarded-For": "203.0.113.9"}
    ).get_json()
    phone = harness.http.post(
        "/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}, headers={"User-Agent": "Safari/18"}
    ).get_json()

    listed = harness.http.get("/api/v1/me/sessions", headers=bearer(laptop)).get_json()["items"]
    assert [(s["user_agent"], s["current"]) for s in listed] == [("Safari/18", False), ("Firefox/140", True)]
    assert listed[1]["ip"] == "198.51.100.7"
    assert listed[0]["last_used_at"] >= listed[0]["created_at"]
    claims = jwt.decode(phone["access_token"], options={"verify_signature": False})
    assert claims["sid"] == listed[0]["id"]

    assert harness.http.delete(f"/api/v1/me/sessions/{listed[0]['id']}", headers=bearer(laptop)).status_code == 204
    assert harness.http.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}).status_code == 401
    assert [s["user_agent"] for s in harness.http.get("/api/v1/me/sessions", headers=bearer(laptop)).get_json()["items"]] == ["Firefox/140"]
    assert harness.http.post("/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]}).status_code == 200

    # another account's session is not found
    sign_up(harness, "eve@example.com")
    eve = sign_in(harness, "eve@example.com")
    assert harness.http.delete(f"/api/v1/me/sessions/{listed[1]['id']}", headers=bearer(eve)).status_code == 404
    assert harness.http.delete("/api/v1/me/sessions/nope", headers=bearer(eve)).status_code == 404


def test_passwords_are_hashed_at_the_cost_the_settings_name_and_other_costs_are_told_apart(harness, tmp_path):
    created = sign_up(harness)
    stored = lambda: harness.sessions().get(Account, created["id"]).password_hash  # noqa: E731
    assert stored().startswith("$argon2id$v=19$m=8192,t=1,")
    costlier = Harness(service, tmp_path / "costlier", password_hash_time_cost=2, password_hash_memory_kib=16 * 1024)
    try:
        with costlier.app.app_context():
            from mpdp_identity import passwords

            assert passwords.hasher().check_needs_rehash(stored())
            assert passwords.hasher().hash(PASSWORD).startswith("$argon2id$v=19$m=16384,t=2,")
    finally:
        costlier.close()
    assert "access_token" in sign_in(harness)  # a hash made at other costs still verifies


def test_a_password_cost_below_argon2ids_least_is_a_configuration_error(monkeypatch):
    from mpdp_common.config import Settings

    monkeypatch.setenv("MPDP_PASSWORD_HASH_MEMORY_KIB", "1024")
    with pytest.raises(SystemExit, match="MPDP_PASSWORD_HASH_MEMORY_KIB=1024 is below its least value, 8192"):
        Settings.from_env("identity")
