"""Identity's HTTP API for accounts: sign-up, tokens, the signed-in account, and the keys that verify its tokens."""

from __future__ import annotations

import math
import secrets
from datetime import timedelta
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_smorest import Blueprint
from sqlalchemy import bindparam, select, update

from mpdp_common.auth import Caller, current_caller, public, unauthorized
from mpdp_common.crypto import digest, secret_box
from mpdp_common.db import new_id, utcnow
from mpdp_common.errors import Problem, conflict, not_found
from mpdp_common.idempotency import idempotent
from mpdp_common.openapi import problems
from mpdp_common.request_db import db_session
from mpdp_common.web import current_settings

from . import mail_queue, mailer, mfa, passwords, schemas, throttle
from .api_members import workspaces_left_without_admin
from .events import events, publish_member
from .models import Account, MailToken, Member, RefreshToken, normalize_email
from .tokens import MFA_TOKEN_LIFETIME, Signer, issue_pair, revoke_account, revoke_family, rotate

# Verifying against this when an email is unknown keeps sign-in time the same for both cases.

accounts = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Accounts, tokens and the signed-in account")
wellknown = Blueprint("wellknown", __name__, url_prefix="/.well-known", description="Token verification keys")


def _signer() -> Signer:
    return current_app.extensions["identity_signer"]


#: how long a mailed link works, and how soon another verification mail may be asked for
VERIFICATION_LIFETIME = timedelta(hours=24)
RESET_LIFETIME = timedelta(hours=1)
RESEND_INTERVAL = timedelta(minutes=1)


def _mail_token(session: Any, account: Account, purpose: str, lifetime: timedelta) -> str:
    """A new single-use token for `purpose`; only its digest is stored."""
    token = secrets.token_urlsafe(32)
    session.add(MailToken(account_id=account.id, purpose=purpose, token_hash=digest(token), expires_at=utcnow() + lifetime))
    return token


def _spend_mail_token(session: Any, token: str, purpose: str) -> MailToken | None:
    """The unused, unexpired token of `purpose`, now used; None for any other."""
    found = session.scalar(select(MailToken).where(MailToken.token_hash == digest(token), MailToken.purpose == purpose).with_for_update())
    if found is None or found.used_at is not None or found.expires_at <= utcnow():
        return None
    found.used_at = utcnow()
    return found


def _mail_verification(session: Any, account: Account) -> None:
    settings = current_settings()
    token = _mail_token(session, account, "verify_email", VERIFICATION_LIFETIME)
    account.verification_mailed_at = utcnow()
    mail_queue.enqueue(session, settings, None, mailer.verification_message(settings, to=account.email, name=account.name, token=token))


def _signed_in_account(session: Any, caller: Caller) -> Account:
    """The caller's own account (not by an API key: keys act in a workspace, never on an account)."""
    if caller.is_api_key:
        raise Problem(403, "An API key cannot act on an account; sign in as its owner.")
    account = session.get(Account, caller.account_id)
    if account is None or account.erased_at is not None:
        raise unauthorized("The account of this token no longer exists.")
    return account


# -- accounts and tokens --------------------------------------------------------------------------


@accounts.route("/accounts", methods=["POST"])
@idempotent
@accounts.arguments(schemas.AccountCreateSchema)
@accounts.response(201, schemas.AccountSchema)
@public
def register(body: dict[str, Any]) -> dict[str, Any]:
    """Sign up: create an account, and mail a link that verifies its email

    Until the link is followed the account signs in and reads, but cannot create a workspace or
    accept an invitation. An email that has an account already answers the same (nothing is
    made, and its owner is mailed that someone tried), so sign-up does not tell who has one."""
    session = db_session()
    email = normalize_email(body["email"])
    name = body["name"].strip()
    password_hash = passwords.hasher().hash(body["password"])  # hashed either way: both answers take as long
    existing = session.scalar(select(Account).where(Account.email == email))
    if existing is not None:
        if existing.erased_at is None:  # an erased account's address has no mailbox
            settings = current_settings()
            mail_queue.enqueue(session, settings, None, mailer.account_exists_message(settings, to=existing.email))
            session.commit()
        return {"id": new_id(), "email": email, "name": name, "created_at": utcnow(), "email_verified": False}
    account = Account(email=email, name=name, password_hash=password_hash)
    session.add(account)
    session.flush()
    events.publish(
        session,
        "identity.account.registered",
        {"account_id": account.id, "email": account.email, "name": account.name},
        aggregate_id=account.id,
    )
    _mail_verification(session, account)
    session.commit()
    return {"id": account.id, "email": account.email, "name": account.name, "created_at": account.created_at, "email_verified": False}


@accounts.route("/accounts/verify", methods=["POST"])
@accounts.arguments(schemas.TokenSchema)
@accounts.response(200, schemas.VerifiedSchema)
@public
@problems(400)
def verify_email(body: dict[str, Any]) -> dict[str, Any]:
    """Verify an account's email with the token of the mailed link

    400 for a token that is unknown, used or expired (24 hours). Tokens issued from now on say
    so; a client signed in before refreshes its tokens."""
    session = db_session()
    token = _spend_mail_token(session, body["token"], "verify_email")
    account = session.get(Account, token.account_id) if token else None
    if token is None or account is None:
        raise Problem(400, "This verification link is not valid: it is unknown, used or expired. Ask for another.")
    if account.email_verified_at is None:
        account.email_verified_at = utcnow()
        events.publish(session, "identity.account.verified", {"account_id": account.id}, aggregate_id=account.id)
    session.commit()
    return {"id": account.id, "email": account.email, "email_verified": True}


#: the answers of the 202s that queue a mail, which never say whether one went out
RESEND_QUEUED = "Unless the email is verified already, a new verification link is on its way."
RESET_QUEUED = "If the address has an account, a mail is on its way."


@accounts.route("/accounts/verify/resend", methods=["POST"])
@accounts.response(202, schemas.MailQueuedSchema)
@problems(403, 429)
def resend_verification() -> dict[str, str]:
    """Mail the signed-in account another verification link

    At most once a minute (429 with Retry-After); nothing is sent for a verified email."""
    session = db_session()
    _signed_in_account(session, current_caller())
    account = session.scalars(select(Account).where(Account.id == current_caller().account_id).with_for_update()).one()
    if account.email_verified:
        return {"detail": RESEND_QUEUED}
    last = account.verification_mailed_at
    if last is not None and last > utcnow() - RESEND_INTERVAL:
        wait = math.ceil((last + RESEND_INTERVAL - utcnow()).total_seconds())
        raise Problem(
            429,
            "A verification mail went out less than a minute ago; wait before asking again.",
            headers={"Retry-After": str(max(wait, 1))},
        )
    _mail_verification(session, account)
    session.commit()
    return {"detail": RESEND_QUEUED}


@accounts.route("/auth/token", methods=["POST"])
@accounts.arguments(schemas.CredentialsSchema)
@accounts.response(200, schemas.SignInSchema)
@public
@problems(401, 429)
def sign_in(body: dict[str, Any]) -> dict:
    """Sign in: an access token and a refresh token for an email and password

    For an account with TOTP on, no tokens yet: `{mfa_required: true, mfa_token, expires_in}`,
    and the second step is POST /auth/token/mfa. 401 when they are wrong; 429 after too many
    attempts for one email."""
    session = db_session()
    email = normalize_email(body["email"])
    throttle.count_attempt(session, email)
    account = session.scalar(select(Account).where(Account.email == email))
    try:
        passwords.hasher().verify(account.password_hash if account else passwords.dummy_hash(), body["password"])
    except (VerificationError, InvalidHashError):
        account = None
    if account is None or account.erased_at is not None:
        raise unauthorized("The email or password is wrong.")
    throttle.forget(session, email)
    if passwords.hasher().check_needs_rehash(account.password_hash):
        account.password_hash = passwords.hasher().hash(body["password"])
    if account.mfa_enabled:
        session.commit()
        return {"mfa_required": True, "mfa_token": _signer().mfa_token(account), "expires_in": int(MFA_TOKEN_LIFETIME.total_seconds())}
    pair = issue_pair(session, _signer(), account)
    session.commit()
    return pair


def _mfa_throttle_key(account: Account) -> str:
    return f"mfa:{account.id}"


@accounts.route("/auth/token/mfa", methods=["POST"])
@accounts.arguments(schemas.MfaSignInSchema)
@accounts.response(200, schemas.TokenPairSchema)
@public
@problems(401, 429)
def sign_in_second_step(body: dict[str, Any]) -> dict:
    """Sign in, second step: the token pair for an mfa_token and a TOTP code or a recovery code

    A recovery code works once. 401 for a wrong code or an expired mfa_token; wrong codes are
    throttled as passwords are (5 per account in 15 minutes, then 429)."""
    session = db_session()
    account_id = _signer().mfa_subject(body["mfa_token"])
    throttle.count_attempt(session, f"mfa:{account_id}")  # counted (and committed) first, then the account locked
    account = session.get(Account, account_id, with_for_update=True)
    if account is None or not account.mfa_enabled or account.erased_at is not None:
        raise unauthorized("Sign in again.")
    settings = current_settings()
    if "code" in body:
        accepted = mfa.accept_code(account, settings, body["code"])
    else:
        accepted = mfa.spend_recovery_code(session, account, body["recovery_code"])
    if not accepted:
        raise unauthorized("The code is wrong.")
    throttle.forget(session, _mfa_throttle_key(account))
    pair = issue_pair(session, _signer(), account, amr="pwd otp")
    session.commit()
    return pair


@accounts.route("/me/mfa/totp", methods=["POST"])
@accounts.response(200, schemas.TotpSetupSchema)
@problems(403, 409)
def set_up_totp() -> dict[str, str]:
    """Begin TOTP two-factor sign-in: a new secret and its otpauth:// URI

    Pending until confirmed with a first code; asking again replaces the pending secret. 409 while
    TOTP is on."""
    session = db_session()
    account = _signed_in_account(session, current_caller())
    if account.mfa_enabled:
        raise conflict("Two-factor sign-in is on already; turn it off first to set it up again.")
    secret = mfa.new_secret()
    account.totp_pending_encrypted = secret_box(current_settings()).encrypt(secret)
    session.commit()
    return {"secret": secret, "otpauth_uri": mfa.otpauth_uri(secret, account.email)}


@accounts.route("/me/mfa/totp/confirm", methods=["POST"])
@accounts.arguments(schemas.TotpConfirmSchema)
@accounts.response(200, schemas.RecoveryCodesSchema)
@problems(400, 409, 429)
def confirm_totp(body: dict[str, Any]) -> dict[str, list[str]]:
    """Turn TOTP on with a first code from the app: ten recovery codes, shown once

    400 for a wrong code or nothing set up; 409 while TOTP is on already."""
    session = db_session()
    account = _signed_in_account(session, current_caller())
    if account.mfa_enabled:
        raise conflict("Two-factor sign-in is on already.")
    if account.totp_pending_encrypted is None:
        raise Problem(400, "Set up two-factor sign-in first (POST /api/v1/me/mfa/totp).")
    throttle.count_attempt(session, _mfa_throttle_key(account))
    settings = current_settings()
    step = mfa.matching_step(secret_box(settings).decrypt(account.totp_pending_encrypted), body["code"])
    if step is None:
        raise Problem(400, "The code is wrong; check the app's clock and try the current code.")
    throttle.forget(session, _mfa_throttle_key(account))
    account.totp_secret_encrypted, account.totp_pending_encrypted = account.totp_pending_encrypted, None
    account.totp_enabled_at, account.totp_last_step = utcnow(), step
    codes = mfa.new_recovery_codes(session, account)
    events.publish(session, "identity.account.mfa_enabled", {"account_id": account.id}, aggregate_id=account.id)
    session.commit()
    return {"recovery_codes": codes}


@accounts.route("/me/mfa", methods=["DELETE"])
@accounts.arguments(schemas.MfaRemoveSchema)
@accounts.response(204)
@problems(403, 409, 429)
def remove_mfa(body: dict[str, Any]) -> None:
    """Turn two-factor sign-in off, with the password and a code

    `code` is a current TOTP code or an unused recovery code. 403 for a wrong password or code;
    409 when it is not on."""
    session = db_session()
    account = _signed_in_account(session, current_caller())
    if not account.mfa_enabled:
        raise conflict("Two-factor sign-in is not on.")
    _check_password(session, account, body["password"])
    throttle.count_attempt(session, _mfa_throttle_key(account))
    code = body["code"].strip()
    settings = current_settings()
    if not (
        mfa.accept_code(account, settings, code) if code.isdigit() and len(code) == 6 else mfa.spend_recovery_code(session, account, code)
    ):
        raise Problem(403, "The code is wrong.")
    throttle.forget(session, _mfa_throttle_key(account))
    mfa.turn_off(session, account)
    events.publish(session, "identity.account.mfa_disabled", {"account_id": account.id}, aggregate_id=account.id)
    session.commit()


@accounts.route("/auth/password-reset", methods=["POST"])
@accounts.arguments(schemas.PasswordResetSchema)
@accounts.response(202, schemas.MailQueuedSchema)
@public
def request_password_reset(body: dict[str, Any]) -> dict[str, str]:
    """Ask for a password reset link by mail

    202 whatever the email, so that the answer does not tell who has an account; a mail goes out
    only where one exists (at most one a minute), with a link that works once, for an hour."""
    session = db_session()
    account = session.scalar(select(Account).where(Account.email == normalize_email(body["email"])).with_for_update())
    if account is None or account.erased_at is not None:
        return {"detail": RESET_QUEUED}
    recent = session.scalar(
        select(MailToken.id).where(
            MailToken.account_id == account.id,
            MailToken.purpose == "reset_password",
            MailToken.created_at > utcnow() - RESEND_INTERVAL,
        )
    )
    if recent is not None:
        return {"detail": RESET_QUEUED}
    settings = current_settings()
    token = _mail_token(session, account, "reset_password", RESET_LIFETIME)
    mail_queue.enqueue(session, settings, None, mailer.password_reset_message(settings, to=account.email, token=token))
    session.commit()
    return {"detail": RESET_QUEUED}


def _set_password(session: Any, account: Account, password: str) -> None:
    """A new password: every refresh chain of the account is revoked, and its reset links spent."""
    account.password_hash = passwords.hasher().hash(password)
    revoke_account(session, account.id)
    session.execute(
        update(MailToken)
        .where(MailToken.account_id == account.id, MailToken.purpose == "reset_password", MailToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
    events.publish(session, "identity.account.password_changed", {"account_id": account.id}, aggregate_id=account.id)


@accounts.route("/auth/password-reset/confirm", methods=["POST"])
@accounts.arguments(schemas.PasswordResetConfirmSchema)
@accounts.response(204)
@public
@problems(400)
def confirm_password_reset(body: dict[str, Any]) -> None:
    """Choose a new password with the token of a reset link

    400 for a token that is unknown, used or expired (1 hour). Every refresh token of the account
    is revoked: it signs in again with the new password. Following the link also proves the email."""
    session = db_session()
    token = _spend_mail_token(session, body["token"], "reset_password")
    account = session.get(Account, token.account_id, with_for_update=True) if token else None
    if token is None or account is None:
        raise Problem(400, "This reset link is not valid: it is unknown, used or expired. Ask for another.")
    _set_password(session, account, body["password"])
    if account.email_verified_at is None:
        account.email_verified_at = utcnow()
        events.publish(session, "identity.account.verified", {"account_id": account.id}, aggregate_id=account.id)
    throttle.forget(session, account.email)
    session.commit()


@accounts.route("/me/password", methods=["POST"])
@accounts.arguments(schemas.PasswordChangeSchema)
@accounts.response(204)
@problems(403, 429)
def change_password(body: dict[str, Any]) -> None:
    """Change the signed-in account's password, giving the current one

    403 when the current password is wrong (guesses are throttled as sign-ins are: 429). Every
    refresh token of the account is revoked, this sign-in's too."""
    session = db_session()
    account = _signed_in_account(session, current_caller())
    _check_password(session, account, body["current_password"])
    _set_password(session, account, body["new_password"])
    session.commit()


#: what an erased account's email becomes: no mailbox, and no sign-up names it (`.invalid`, RFC 2606)
ERASED_DOMAIN = "erased.invalid"
#: not an argon2 hash: no password verifies against it
ERASED_PASSWORD = "!erased"


@accounts.route("/me", methods=["DELETE"])
@accounts.arguments(schemas.EraseAccountSchema)
@accounts.response(204)
@problems(403, 409, 429)
def erase_me(body: dict[str, Any]) -> None:
    """Erase the signed-in account, giving its password

    The email and name are removed (the id stays, for the audit trail, and can no longer sign
    in); every membership ends, as a removal does in every service; every refresh token is
    revoked. The email can then sign up again as a new account. 403 for a wrong password
    (guesses are throttled as sign-ins are: 429); 409 while the account is the last active
    admin of a workspace (`workspace_ids` names them): make another member admin first."""
    session = db_session()
    account = _signed_in_account(session, current_caller())
    _check_password(session, account, body["password"])
    account = session.get_one(Account, account.id, with_for_update=True)
    alone = workspaces_left_without_admin(session, account.id)
    if alone:
        raise Problem(
            409,
            "You are the last active admin of "
            + ("a workspace" if len(alone) == 1 else f"{len(alone)} workspaces")
            + ": make another member admin there (or delete it) before erasing the account.",
            title="Last admin of a workspace",
            type="urn:mpdp:problem:last-admin",
            extensions={"workspace_ids": alone},
        )
    memberships = session.scalars(
        select(Member).where(Member.account_id == account.id, Member.status != "removed").order_by(Member.workspace_id).with_for_update()
    ).all()
    for member in memberships:
        member.status, member.revision = "removed", member.revision + 1
        publish_member(session, "identity.member.removed", member)
    account.email = f"{account.id}@{ERASED_DOMAIN}"
    account.name = ""
    account.password_hash = ERASED_PASSWORD
    account.erased_at = utcnow()
    mfa.turn_off(session, account)
    revoke_account(session, account.id)
    session.execute(update(MailToken).where(MailToken.account_id == account.id, MailToken.used_at.is_(None)).values(used_at=utcnow()))
    events.publish(session, "identity.account.erased", {"account_id": account.id}, aggregate_id=account.id)
    session.commit()


def _check_password(session: Any, account: Account, password: str) -> None:
    """403 unless `password` is the account's; counted as a sign-in attempt (429 past the limit)."""
    throttle.count_attempt(session, account.email)
    try:
        passwords.hasher().verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise Problem(403, "The password is wrong.") from None
    throttle.forget(session, account.email)


@accounts.route("/auth/refresh", methods=["POST"])
@accounts.arguments(schemas.RefreshSchema)
@accounts.response(200, schemas.TokenPairSchema)
@public
@problems(401)
def refresh(body: dict[str, Any]) -> dict:
    """A new token pair for a refresh token, which is used up

    401 for a refresh token that is not (or no longer) valid."""
    session = db_session()
    pair = rotate(session, _signer(), body["refresh_token"])
    session.commit()
    return pair


@accounts.route("/auth/logout", methods=["POST"])
@accounts.arguments(schemas.RefreshSchema)
@accounts.response(204)
@public
def logout(body: dict[str, Any]) -> None:
    """Sign out: revoke a refresh token and those rotated from the same sign-in"""
    session = db_session()
    token = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(body["refresh_token"])))
    if token is not None:
        revoke_family(session, token.family_id)
        session.commit()


@accounts.route("/me/sessions", methods=["GET"])
@accounts.response(200, schemas.SessionListSchema)
@problems(403)
def list_sessions() -> dict[str, Any]:
    """The signed-in account's sessions: one per sign-in (refresh chain) still valid, newest first"""
    session = db_session()
    caller = current_caller()
    account = _signed_in_account(session, caller)
    tokens = session.scalars(select(RefreshToken).where(RefreshToken.account_id == account.id).order_by(RefreshToken.created_at)).all()
    chains: dict[str, list[RefreshToken]] = {}
    for token in tokens:
        chains.setdefault(token.family_id, []).append(token)
    now = utcnow()
    items: list[dict[str, Any]] = []
    for family_id, chain in chains.items():
        if not any(t.revoked_at is None and t.used_at is None and t.expires_at > now for t in chain):
            continue
        newest = chain[-1]
        items.append(
            {
                "id": family_id,
                "created_at": chain[0].created_at,
                "last_used_at": newest.created_at,
                "user_agent": newest.user_agent,
                "ip": newest.ip,
                "current": family_id == caller.session_id,
            }
        )
    items.sort(key=lambda item: item["last_used_at"], reverse=True)
    return {"items": items}


@accounts.route("/me/sessions/<session_id>", methods=["DELETE"])
@accounts.response(204)
@problems(403, 404)
def end_session(session_id: str) -> None:
    """End one of the signed-in account's sessions: its refresh tokens stop working

    Its access tokens run out on their own (minutes). 404 for a session that is not the account's."""
    session = db_session()
    account = _signed_in_account(session, current_caller())
    owner = session.scalar(select(RefreshToken.account_id).where(RefreshToken.family_id == session_id).limit(1))
    if owner != account.id:
        raise not_found("session")
    revoke_family(session, session_id)
    session.commit()


#: The signed-in account with its memberships, built once (the most frequent request of all).
_ME = (
    select(Account, Member)
    .outerjoin(Member, (Member.account_id == Account.id) & (Member.status != "removed"))
    .where(Account.id == bindparam("account_id"))
    .order_by(Member.joined_at)
)


@accounts.route("/me", methods=["GET"])
@accounts.response(200, schemas.MeSchema)
@accounts.doc(operationId="accounts_get_me")
def me() -> dict[str, Any]:
    """The signed-in account, with its memberships"""
    caller = current_caller()
    if caller.is_api_key:
        raise unauthorized("The account of this token no longer exists.")
    session = db_session()
    # One statement, and outside a transaction: no BEGIN and ROLLBACK around it.
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    rows = session.execute(_ME, {"account_id": caller.account_id}).all()
    if not rows or rows[0][0].erased_at is not None:
        raise unauthorized("The account of this token no longer exists.")
    account = rows[0][0]
    return {
        "id": account.id,
        "email": account.email,
        "name": account.name,
        "created_at": account.created_at,
        "email_verified": account.email_verified,
        "mfa_enabled": account.mfa_enabled,
        "memberships": [member for _, member in rows if member is not None],
    }


@wellknown.route("/jwks.json", methods=["GET"])
@wellknown.response(200, schemas.JwksSchema)
@wellknown.doc(operationId="wellknown_get_jwks")
@public
def jwks() -> dict:
    """The public keys that verify access tokens (JWKS)"""
    return _signer().jwks()
