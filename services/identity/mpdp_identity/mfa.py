"""TOTP second factor (RFC 6238: SHA-1, 6 digits, 30-second steps) and its recovery codes.

A secret is kept as SecretBox ciphertext; a code is accepted within one step either side of now,
and only for a step later than the last one accepted, so that a code works once. Recovery codes
are ten random codes, shown once and kept only as argon2 hashes; each works once."""

from __future__ import annotations

import secrets
import time

import pyotp
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mpdp_common.config import Settings
from mpdp_common.crypto import secret_box
from mpdp_common.db import utcnow

from . import passwords
from .models import Account, RecoveryCode, RefreshToken

ISSUER = "MPDP"
RECOVERY_CODES = 10
STEP_SECONDS = 30


def new_secret() -> str:
    return pyotp.random_base32()


def otpauth_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose code `code` is, within one step of now; None when it is none of them."""
    totp = pyotp.TOTP(secret)
    moment = time.time() if now is None else now
    step = int(moment // STEP_SECONDS)
    for candidate in (step, step - 1, step + 1):
        if secrets.compare_digest(totp.at(candidate * STEP_SECONDS), code):
            return candidate
    return None


def accept_code(account: Account, settings: Settings, code: str) -> bool:
    """Whether `code` is a current TOTP code of the account not used before; remembers its step."""
    if account.totp_secret_encrypted is None:
        return False
    step = matching_step(secret_box(settings).decrypt(account.totp_secret_encrypted), code)
    if step is None or (account.totp_last_step is not None and step <= account.totp_last_step):
        return False
    account.totp_last_step = step
    return True


def new_recovery_codes(session: Session, account: Account) -> list[str]:
    """Ten new recovery codes for the account (the old ones stop working), to show once."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(account_id=account.id, code_hash=passwords.hasher().hash(code)) for code in codes)
    return codes


def spend_recovery_code(session: Session, account: Account, code: str) -> bool:
    """Whether `code` is an unused recovery code of the account; it is used up."""
    given = code.strip().lower()
    unused = session.scalars(
        select(RecoveryCode).where(RecoveryCode.account_id == account.id, RecoveryCode.used_at.is_(None)).with_for_update()
    ).all()
    for row in unused:
        try:
            passwords.hasher().verify(row.code_hash, given)
        except (VerificationError, InvalidHashError):
            continue
        row.used_at = utcnow()
        return True
    return False


def turn_off(session: Session, account: Account) -> None:
    """TOTP off. The sign-ins made with it no longer count as two-factor: their next access
    tokens say `amr: ["pwd"]` (a workspace that requires it refuses them)."""
    account.totp_secret_encrypted = account.totp_pending_encrypted = None
    account.totp_enabled_at = account.totp_last_step = None
    session.execute(delete(RecoveryCode).where(RecoveryCode.account_id == account.id))
    session.execute(update(RefreshToken).where(RefreshToken.account_id == account.id).values(amr="pwd"))
