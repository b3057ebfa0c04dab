"""Identity's HTTP API for accounts: sign-up, tokens, the signed-in account, and the keys that verify its tokens."""

from __future__ import annotations

import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_smorest import Blueprint
from sqlalchemy import bindparam, select

from mpdp_common.auth import current_caller, public, unauthorized
from mpdp_common.crypto import digest
from mpdp_common.errors import conflict
from mpdp_common.idempotency import idempotent
from mpdp_common.openapi import problems
from mpdp_common.request_db import db_session

from . import schemas, throttle
from .events import events
from .models import Account, Member, RefreshToken, normalize_email
from .tokens import Signer, issue_pair, revoke_family, rotate

passwords = PasswordHasher()
# Verifying against this when an email is unknown keeps sign-in time the same for both cases.
_DUMMY_HASH = passwords.hash(secrets.token_urlsafe(16))

accounts = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Accounts, tokens and the signed-in account")
wellknown = Blueprint("wellknown", __name__, url_prefix="/.well-known", description="Token verification keys")


def _signer() -> Signer:
    return current_app.extensions["identity_signer"]


# -- accounts and tokens --------------------------------------------------------------------------


@accounts.route("/accounts", methods=["POST"])
@idempotent
@accounts.arguments(schemas.AccountCreateSchema)
@accounts.response(201, schemas.AccountSchema)
@public
def register(body: dict[str, Any]) -> Account:
    """Sign up: create an account

    409 when the email has an account."""
    session = db_session()
    email = normalize_email(body["email"])
    if session.scalar(select(Account.id).where(Account.email == email)):
        raise conflict("An account with that email exists.")
    account = Account(email=email, name=body["name"].strip(), password_hash=passwords.hash(body["password"]))
    session.add(account)
    session.flush()
    events.publish(
        session,
        "identity.account.registered",
        {"account_id": account.id, "email": account.email, "name": account.name},
        aggregate_id=account.id,
    )
    session.commit()
    return account


@accounts.route("/auth/token", methods=["POST"])
@accounts.arguments(schemas.CredentialsSchema)
@accounts.response(200, schemas.TokenPairSchema)
@public
@problems(401, 429)
def sign_in(body: dict[str, Any]) -> dict:
    """Sign in: an access token and a refresh token for an email and password

    401 when they are wrong; 429 after too many attempts for one email."""
    session = db_session()
    email = normalize_email(body["email"])
    throttle.count_attempt(session, email)
    account = session.scalar(select(Account).where(Account.email == email))
    try:
        passwords.verify(account.password_hash if account else _DUMMY_HASH, body["password"])
    except (VerificationError, InvalidHashError):
        account = None
    if account is None:
        raise unauthorized("The email or password is wrong.")
    throttle.forget(session, email)
    if passwords.check_needs_rehash(account.password_hash):
        account.password_hash = passwords.hash(body["password"])
    pair = issue_pair(session, _signer(), account.id)
    session.commit()
    return pair


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
    if not rows:
        raise unauthorized("The account of this token no longer exists.")
    account = rows[0][0]
    return {
        "id": account.id,
        "email": account.email,
        "name": account.name,
        "created_at": account.created_at,
        "memberships": [member for _, member in rows if member is not None],
    }


@wellknown.route("/jwks.json", methods=["GET"])
@wellknown.response(200, schemas.JwksSchema)
@wellknown.doc(operationId="wellknown_get_jwks")
@public
def jwks() -> dict:
    """The public keys that verify access tokens (JWKS)"""
    return _signer().jwks()
