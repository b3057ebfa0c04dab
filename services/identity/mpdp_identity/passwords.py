"""Passwords and recovery codes are kept as argon2id hashes, at the cost the settings name
(`MPDP_PASSWORD_HASH_TIME_COST`, `MPDP_PASSWORD_HASH_MEMORY_KIB`; argon2-cffi's defaults, RFC
9106's second recommendation, unless an operator lowers them for small hosts or tests). A hash
keeps its own parameters, so changing them leaves every stored one valid; a sign-in rehashes a
password stored at other parameters."""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher

from mpdp_common.web import current_settings


def hasher() -> PasswordHasher:
    settings = current_settings()
    return _hasher(settings.password_hash_time_cost, settings.password_hash_memory_kib)


def dummy_hash() -> str:
    """A hash to verify a password against where there is no account: both answers take as long."""
    return _dummy(hasher())


@cache
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


@cache
def _dummy(of: PasswordHasher) -> str:
    return of.hash(secrets.token_urlsafe(16))
