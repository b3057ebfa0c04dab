"""Access tokens (EdDSA-signed JWTs) and refresh tokens (opaque, rotated, reuse detected)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import has_request_context, request
from sqlalchemy import update
from sqlalchemy.orm import Session

from mpdp_common.auth import unauthorized
from mpdp_common.config import Settings
from mpdp_common.crypto import digest, secret_box
from mpdp_common.db import new_id, utcnow
from mpdp_common.idempotency import client_address
from mpdp_common.keys import load_signing_key

from .models import Account, RefreshToken

#: how long a just-rotated refresh token answers its new pair again (parallel refreshes)
REFRESH_REUSE_GRACE = timedelta(seconds=5)
#: how long the second step of a sign-in with TOTP may take
MFA_TOKEN_LIFETIME = timedelta(minutes=5)


class Signer:
    def __init__(self, private_key: Ed25519PrivateKey, settings: Settings):
        self.private_key = private_key
        self.public_key: Ed25519PublicKey = private_key.public_key()
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
        # RFC 7638 thumbprint: a stable key id that changes with the key.
        canonical = json.dumps(self.jwk, separators=(",", ":"), sort_keys=True).encode()
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
        self.jwk.update(kid=self.kid, use="sig", alg="EdDSA")
        self.settings = settings

    @classmethod
    def from_settings(cls, settings: Settings) -> Signer:
        return cls(load_signing_key(settings.jwt_private_key_file), settings)

    def access_token(self, account: Account, session_id: str, amr: list[str]) -> str:
        now = utcnow()
        claims = {
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "sub": account.id,
            "iat": now,
            "exp": now + timedelta(seconds=self.settings.access_token_ttl_seconds),
            "jti": new_id(),
            # what the other services check without asking identity (see mpdp_common.auth)
            "email_verified": account.email_verified,
            # the refresh chain it came from: the sign-in that GET /me/sessions calls current
            "sid": session_id,
            # how the sign-in was authenticated: ["pwd"], or ["pwd", "otp"] with the second factor
            "amr": amr,
        }
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})

    def mfa_token(self, account: Account) -> str:
        """What a password alone earns an account with TOTP on: five minutes to give a code. Its
        audience is not the platform's, so no service takes it for an access token."""
        now = utcnow()
        claims = {
            "iss": self.settings.jwt_issuer,
            "aud": f"{self.settings.jwt_audience}:mfa",
            "sub": account.id,
            "iat": now,
            "exp": now + MFA_TOKEN_LIFETIME,
            "jti": new_id(),
        }
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})

    def mfa_subject(self, token: str) -> str:
        """The account an unexpired mfa_token was given to; 401 for any other token."""
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["EdDSA"],
                audience=f"{self.settings.jwt_audience}:mfa",
                issuer=self.settings.jwt_issuer,
                options={"require": ["exp", "sub", "aud", "iss"]},
            )
        except jwt.PyJWTError:
            raise unauthorized("The mfa_token is not valid or has expired; sign in again.") from None
        return str(claims["sub"])

    def key_for(self, token: str) -> Ed25519PublicKey:
        """Identity verifies its own tokens with its own key: no HTTP call to itself."""
        if jwt.get_unverified_header(token).get("kid") != self.kid:
            raise jwt.InvalidKeyError("unknown key id")
        return self.public_key

    def jwks(self) -> dict:
        return {"keys": [self.jwk]}


def _issue(session: Session, signer: Signer, account: Account, family_id: str | None = None, amr: str = "pwd") -> tuple[RefreshToken, dict]:
    refresh = secrets.token_urlsafe(32)
    token = RefreshToken(
        id=new_id(),
        family_id=family_id or new_id(),
        account_id=account.id,
        token_hash=digest(refresh),
        expires_at=utcnow() + timedelta(seconds=signer.settings.refresh_token_ttl_seconds),
        user_agent=request.headers.get("User-Agent", "")[:300] or None if has_request_context() else None,
        ip=client_address()[:64] or None if has_request_context() else None,
        amr=amr,
    )
    session.add(token)
    pair = {
        "access_token": signer.access_token(account, token.family_id, amr.split()),
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": signer.settings.access_token_ttl_seconds,
    }
    return token, pair


def issue_pair(session: Session, signer: Signer, account: Account, *, amr: str = "pwd") -> dict:
    """A new sign-in: a new refresh chain; `amr` says how it was authenticated ("pwd", "pwd otp")."""
    return _issue(session, signer, account, amr=amr)[1]


def rotate(session: Session, signer: Signer, presented: str) -> dict:
    """Spend a refresh token for a new pair. Presenting a spent one revokes its whole chain, except
    within REFRESH_REUSE_GRACE of its rotation while its successor is unspent: then it answers the
    same new pair again, so that tabs refreshing one token at once all stay signed in."""
    current = session.query(RefreshToken).filter_by(token_hash=digest(presented)).with_for_update().one_or_none()
    if current is None or current.expires_at <= utcnow():
        raise unauthorized("The refresh token is not valid.")
    if current.used_at is not None and current.revoked_at is None:
        replay = _answer_again(session, signer, current)
        if replay is not None:
            return replay
    if current.used_at is not None or current.revoked_at is not None:
        revoke_family(session, current.family_id)
        session.commit()
        raise unauthorized("The refresh token was already used; every token of its sign-in is now revoked.")
    successor, pair = _issue(session, signer, session.get_one(Account, current.account_id), current.family_id, current.amr)
    current.used_at, current.replaced_by = utcnow(), successor.id
    current.rotation_encrypted = secret_box(signer.settings).encrypt(json.dumps(pair))
    # The pair the previous token was rotated into is spent now: it is not kept any longer.
    session.execute(update(RefreshToken).where(RefreshToken.replaced_by == current.id).values(rotation_encrypted=None))
    return pair


def _answer_again(session: Session, signer: Signer, spent: RefreshToken) -> dict | None:
    """The pair that `spent` was rotated into, while the grace window lasts and it is unspent."""
    if spent.used_at is None or spent.used_at < utcnow() - REFRESH_REUSE_GRACE or not spent.rotation_encrypted:
        return None
    successor = session.get(RefreshToken, spent.replaced_by)
    if successor is None or successor.used_at is not None or successor.revoked_at is not None:
        return None
    return json.loads(secret_box(signer.settings).decrypt(spent.rotation_encrypted))


def revoke_account(session: Session, account_id: str) -> None:
    """Every refresh chain of the account stops working (a password changed or reset, an erasure)."""
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.account_id == account_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), rotation_encrypted=None)
    )


def revoke_family(session: Session, family_id: str) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), rotation_encrypted=None)
    )
