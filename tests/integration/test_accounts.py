"""Accounts people can trust, through the gateway: verified email, the platform's own mail (to files
under the data directory without an SMTP server, and through a real SMTP server with one)."""

from __future__ import annotations

import email
import email.policy
import re
import secrets

import pytest

from .client import Client, mailed_token, mails_to
from .conftest import _free_port, eventually, running_embedded


def sign_up(client: Client, name: str = "ada") -> tuple[str, str, dict]:
    address, password = f"{name}-{secrets.token_hex(4)}@example.com", "a long password"
    created = client.post("/api/v1/accounts", json={"email": address, "password": password, "name": name})
    assert created.status_code == 201, created.text
    return address, password, created.json()


def signed_in(client: Client, address: str, password: str) -> Client:
    tokens = client.post("/api/v1/auth/token", json={"email": address, "password": password})
    assert tokens.status_code == 200, tokens.text
    user = Client(client.base, tokens.json()["access_token"])
    user.refresh_token = tokens.json()["refresh_token"]
    return user


def test_an_unverified_account_reads_but_cannot_create_or_join_until_it_follows_the_link(client, make_user, make_workspace):
    address, password, created = sign_up(client)
    assert created["email_verified"] is False
    user = signed_in(client, address, password)
    me = user.get("/api/v1/me").json()
    assert me["email_verified"] is False and me["mfa_enabled"] is False
    assert user.get("/api/v1/workspaces").status_code == 200

    refused = user.post("/api/v1/workspaces", json={"name": "Acme", "kind": "tenant"})
    assert refused.status_code == 403 and refused.json()["type"] == "urn:mpdp:problem:email-unverified"
    admin = make_user("admin")
    ws = make_workspace(admin)
    invitation = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": address, "role": "developer"}).json()
    not_yet = user.post(f"/api/v1/invitations/{invitation['token']}/accept")
    assert not_yet.status_code == 403 and not_yet.json()["type"] == "urn:mpdp:problem:email-unverified"

    # A second link at most once a minute.
    too_soon = user.post("/api/v1/accounts/verify/resend")
    assert too_soon.status_code == 429 and int(too_soon.headers["Retry-After"]) <= 60

    (mail,) = eventually(lambda: mails_to(client.base, address))
    assert mail["Subject"] == "Confirm your email for MPDP"
    token = mailed_token(client.base, address, "verify-email")
    verified = client.post("/api/v1/accounts/verify", json={"token": token})
    assert verified.status_code == 200 and verified.json() == {"id": created["id"], "email": address, "email_verified": True}
    assert client.post("/api/v1/accounts/verify", json={"token": token}).status_code == 400

    # The invitation is the account's own business; a workspace needs tokens that say it is verified.
    assert user.post(f"/api/v1/invitations/{invitation['token']}/accept").status_code == 200
    renewed = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}).json()
    user.token = renewed["access_token"]
    assert user.post("/api/v1/workspaces", json={"name": "Acme", "kind": "tenant"}).status_code == 201
    assert user.get("/api/v1/me").json()["email_verified"] is True


def test_a_taken_email_answers_like_a_new_one_and_its_owner_is_told(client, make_user):
    owner = make_user("owner")
    address = owner.account["email"]
    again = client.post("/api/v1/accounts", json={"email": address.upper(), "password": "another password", "name": "Mallory"})
    assert again.status_code == 201
    assert set(again.json()) == set(owner.account)
    assert again.json()["id"] != owner.account["id"] and again.json()["email_verified"] is False
    notice = eventually(lambda: [m for m in mails_to(client.base, address) if "tried" in m["Subject"]])
    assert "/forgot-password" in notice[0].get_content() and "token=" not in notice[0].get_content()
    assert client.post("/api/v1/auth/token", json={"email": address, "password": "another password"}).status_code == 401
    assert owner.get("/api/v1/me").json()["name"] == "owner"


def test_the_link_is_logged_and_points_at_the_public_url(client, platform):
    address, _password, _created = sign_up(client, "logged")
    token = mailed_token(client.base, address, "verify-email")
    log = platform.log_path.read_text()
    assert f"http://127.0.0.1:8080/verify-email?token={token}" in log


@pytest.fixture(scope="module")
def smtp_inbox():
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    class Inbox:
        def __init__(self) -> None:
            self.messages: list[email.message.EmailMessage] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
            return "250 OK"

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"platform" and auth_data.password == b"mail-pass"
        return AuthResult(success=ok)

    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def test_with_an_smtp_url_the_platform_mail_goes_through_that_server(smtp_inbox, tmp_path):
    port, inbox = smtp_inbox
    env = {
        "MPDP_SMTP_URL": f"smtp://platform:mail-pass@127.0.0.1:{port}",
        "MPDP_MAIL_FROM": "Acme Console <console@acme.example>",
        "MPDP_PUBLIC_URL": "https://console.acme.example/",
    }
    with running_embedded(tmp_path, **env) as (gateway, _process):
        client = Client(gateway)
        address, password, _created = sign_up(client, "smtp")
        mail = eventually(lambda: [m for m in inbox.messages if m["To"] == address], timeout=20)[0]
        assert mail["From"] == "Acme Console <console@acme.example>"
        token = re.search(r"https://console\.acme\.example/verify-email\?token=([\w-]+)", mail.get_content()).group(1)
        assert client.post("/api/v1/accounts/verify", json={"token": token}).status_code == 200
        user = signed_in(client, address, password)
        assert user.post("/api/v1/workspaces", json={"name": "Acme", "kind": "tenant"}).status_code == 201
        assert not (tmp_path / "mail").exists()  # nothing written to files with a server configured


def test_a_forgotten_password_is_reset_by_mail_and_a_known_one_changed(client, make_user):
    user = make_user("forgetful")
    address = user.account["email"]
    assert client.post("/api/v1/auth/password-reset", json={"email": f"nobody-{secrets.token_hex(3)}@example.com"}).status_code == 202
    assert client.post("/api/v1/auth/password-reset", json={"email": address}).status_code == 202
    token = mailed_token(client.base, address, "reset-password")
    assert client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "a brand new password"}).status_code == 204
    assert client.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "a brand new password"}).status_code == 400
    # every refresh chain ended; the new password signs in
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}).status_code == 401
    again = signed_in(client, address, "a brand new password")

    wrong = again.post("/api/v1/me/password", json={"current_password": "not it", "new_password": "the third password"})
    assert wrong.status_code == 403
    changed = again.post("/api/v1/me/password", json={"current_password": "a brand new password", "new_password": "the third password"})
    assert changed.status_code == 204
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": again.refresh_token}).status_code == 401
    signed_in(client, address, "the third password")


def test_sessions_are_listed_with_their_client_and_one_can_be_ended(client, make_user):
    user = make_user("travelling")
    body = {"email": user.account["email"], "password": user.password}
    phone = client.post("/api/v1/auth/token", json=body, headers={"User-Agent": "MPDP-Test-Phone/1"}).json()
    listed = user.get("/api/v1/me/sessions").json()["items"]
    assert len(listed) == 2
    current = [s for s in listed if s["current"]]
    other = [s for s in listed if not s["current"]]
    assert len(current) == 1 and other[0]["user_agent"] == "MPDP-Test-Phone/1" and other[0]["ip"] == "127.0.0.1"
    assert user.delete(f"/api/v1/me/sessions/{other[0]['id']}").status_code == 204
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]}).status_code == 401
    assert [s["id"] for s in user.get("/api/v1/me/sessions").json()["items"]] == [current[0]["id"]]
    assert user.delete(f"/api/v1/me/sessions/{other[0]['id']}").status_code == 204  # ended already: still its own
    assert make_user("other").delete(f"/api/v1/me/sessions/{current[0]['id']}").status_code == 404
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}).status_code == 200


def test_two_factor_sign_in_through_the_gateway(client, make_user):
    import jwt
    import pyotp

    user = make_user("careful")
    setup = user.post("/api/v1/me/mfa/totp").json()
    totp = pyotp.parse_uri(setup["otpauth_uri"])
    codes = user.post("/api/v1/me/mfa/totp/confirm", json={"code": totp.now()}).json()["recovery_codes"]
    assert len(codes) == 10 and user.get("/api/v1/me").json()["mfa_enabled"] is True

    first = client.post("/api/v1/auth/token", json={"email": user.account["email"], "password": user.password}).json()
    assert first["mfa_required"] is True and "access_token" not in first
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {first['mfa_token']}"}).status_code == 401
    pair = client.post("/api/v1/auth/token/mfa", json={"mfa_token": first["mfa_token"], "recovery_code": codes[0]})
    assert pair.status_code == 200, pair.text
    assert jwt.decode(pair.json()["access_token"], options={"verify_signature": False})["amr"] == ["pwd", "otp"]
    second = client.post("/api/v1/auth/token", json={"email": user.account["email"], "password": user.password}).json()
    assert client.post("/api/v1/auth/token/mfa", json={"mfa_token": second["mfa_token"], "recovery_code": codes[0]}).status_code == 401

    removed = user.delete("/api/v1/me/mfa", json={"password": user.password, "code": codes[1]})
    assert removed.status_code == 204
    assert "access_token" in client.post("/api/v1/auth/token", json={"email": user.account["email"], "password": user.password}).json()


def _two_factor(client: Client, user: Client) -> tuple[Client, list[str]]:
    """Turn TOTP on for `user`; answer a sign-in made with its second step, and the recovery codes left."""
    import pyotp

    setup = user.post("/api/v1/me/mfa/totp").json()
    totp = pyotp.parse_uri(setup["otpauth_uri"])
    codes = user.post("/api/v1/me/mfa/totp/confirm", json={"code": totp.now()}).json()["recovery_codes"]
    first = client.post("/api/v1/auth/token", json={"email": user.account["email"], "password": user.password}).json()
    pair = client.post("/api/v1/auth/token/mfa", json={"mfa_token": first["mfa_token"], "recovery_code": codes[0]})
    assert pair.status_code == 200, pair.text
    signed = Client(client.base, pair.json()["access_token"])
    signed.account, signed.password, signed.refresh_token = user.account, user.password, pair.json()["refresh_token"]
    return signed, codes[1:]


def _join(admin: Client, user: Client, ws: str, role: str) -> None:
    invitation = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": user.account["email"], "role": role})
    assert invitation.status_code == 201, invitation.text
    assert user.post(f"/api/v1/invitations/{invitation.json()['token']}/accept").status_code == 200
    eventually(lambda: user.get(f"/api/v1/workspaces/{ws}").json().get("role") == role)


MFA_REQUIRED = "urn:mpdp:problem:mfa-required"


def test_a_workspace_that_requires_two_factor_sign_in_refuses_members_without_it_in_every_service(client, make_user, make_workspace):
    admin, dev = make_user("admin"), make_user("dev")
    ws = make_workspace(admin)
    _join(admin, dev, ws, "developer")

    refused = admin.put(f"/api/v1/workspaces/{ws}/settings", json={"require_mfa": True})
    assert refused.status_code == 409 and refused.json()["type"] == MFA_REQUIRED, refused.text
    careful, _ = _two_factor(client, admin)
    assert dev.put(f"/api/v1/workspaces/{ws}/settings", json={"require_mfa": True}).status_code == 403
    on = careful.put(f"/api/v1/workspaces/{ws}/settings", json={"require_mfa": True})
    assert on.status_code == 200 and on.json()["require_mfa"] is True, on.text
    mp = eventually(lambda: careful.post(f"/api/v1/workspaces/{ws}/miniprograms", json={"name": f"Shop {secrets.token_hex(3)}"}))
    assert mp.status_code == 201, mp.text

    paths = {
        "workspace": f"/api/v1/workspaces/{ws}/settings",
        "identity": f"/api/v1/workspaces/{ws}/invitations",
        "catalog": f"/api/v1/workspaces/{ws}/miniprograms",
        "approval": f"/api/v1/workspaces/{ws}/approvals",
        "telemetry": f"/api/v1/workspaces/{ws}/quality/summary?miniprogram_id={mp.json()['id']}",
    }
    for service, path in paths.items():
        # the member without two-factor sign-in, and the admin's password-only sign-in, within a moment of the change
        for member in (dev, admin):
            eventually(lambda member=member, path=path: member.get(path).status_code == 403)
            answer = member.get(path)
            assert answer.status_code == 403 and answer.json()["type"] == MFA_REQUIRED, (service, answer.text)
        assert careful.get(path).status_code != 403, service
    # the workspace and its members list still answer: a member learns there what it asks
    assert dev.get(f"/api/v1/workspaces/{ws}").status_code == 200
    assert dev.get(f"/api/v1/workspaces/{ws}/members").status_code == 200

    dev_signed, _ = _two_factor(client, dev)
    assert eventually(lambda: dev_signed.get(paths["catalog"]).status_code == 200)
    off = careful.put(f"/api/v1/workspaces/{ws}/settings", json={"require_mfa": False})
    assert off.status_code == 200 and off.json()["require_mfa"] is False
    assert eventually(lambda: admin.get(paths["catalog"]).status_code == 200)


def test_an_account_is_erased_with_its_password_and_its_email_signs_up_anew(client, make_user, make_workspace):
    ada, bob = make_user("ada"), make_user("bob")
    shared = make_workspace(bob)
    _join(bob, ada, shared, "developer")
    own = make_workspace(ada)

    last_admin = ada.delete("/api/v1/me", json={"password": ada.password})
    assert last_admin.status_code == 409, last_admin.text
    assert last_admin.json()["workspace_ids"] == [own] and "last active admin" in last_admin.json()["detail"]
    _join(ada, bob, own, "admin")

    assert ada.delete("/api/v1/me", json={"password": "not the password"}).status_code == 403
    erased = ada.delete("/api/v1/me", json={"password": ada.password})
    assert erased.status_code == 204, erased.text

    address = ada.account["email"]
    assert client.post("/api/v1/auth/token", json={"email": address, "password": ada.password}).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": ada.refresh_token}).status_code == 401
    assert ada.get("/api/v1/me").status_code == 401
    for ws in (shared, own):
        assert ada.account["id"] not in {m["account_id"] for m in bob.get(f"/api/v1/workspaces/{ws}/members").json()["items"]}
        # every service drops the membership
        eventually(lambda ws=ws: ada.get(f"/api/v1/workspaces/{ws}/miniprograms").status_code == 404)
        eventually(lambda ws=ws: ada.get(f"/api/v1/workspaces/{ws}/settings").status_code == 404)

    again = client.post("/api/v1/accounts", json={"email": address, "password": "another long password", "name": "Ada"})
    assert again.status_code == 201 and again.json()["id"] != ada.account["id"]
    signed_in(client, address, "another long password")
