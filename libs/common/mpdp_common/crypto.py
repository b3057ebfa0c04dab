"""The platform secret (MPDP_SECRET_KEY): encrypts what must be used again later (an SMTP
password) and derives per-object secrets that are never stored (an app key's signing secret).
And the one digest under which tokens and secrets are kept."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets

from cryptography.fernet import Fernet, InvalidToken

from .config import Settings


def digest(value: str | bytes) -> str:
    """The SHA-256 of `value`, in hex: how a high-entropy token or secret is kept (it needs no slow hash)."""
    return hashlib.sha256(value.encode() if isinstance(value, str) else value).hexdigest()


def secret_box(settings: Settings) -> SecretBox:
    """The platform secret of `settings`, as every process reaches it (web, relay and consumer)."""
    return _box_for(settings.secret_key)


@functools.lru_cache(maxsize=4)
def _box_for(secret_key: str) -> SecretBox:
    return SecretBox(secret_key)


def generate_secret_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def ensure_secret_key_file(path: str) -> str:
    """Create the file holding a new platform secret (mode 0600) unless it exists; return the secret."""
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(generate_secret_key())
    with open(path) as handle:
        return handle.read().strip()


class SecretBox:
    def __init__(self, secret_key: str):
        if not secret_key:
            raise SystemExit("configuration error: MPDP_SECRET_KEY is not set")
        try:
            raw = base64.urlsafe_b64decode(secret_key.encode())
        except ValueError:
            raise SystemExit("configuration error: MPDP_SECRET_KEY is not base64") from None
        if len(raw) < 32:
            raise SystemExit("configuration error: MPDP_SECRET_KEY must hold at least 32 bytes")
        self._root = raw
        self._fernet = Fernet(base64.urlsafe_b64encode(self._subkey(b"encryption")))

    def _subkey(self, purpose: bytes) -> bytes:
        return hmac.new(self._root, b"mpdp:" + purpose, hashlib.sha256).digest()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            raise ValueError("cannot decrypt: another MPDP_SECRET_KEY encrypted this") from None

    def derive(self, purpose: str, identifier: str) -> str:
        """A secret for `identifier` that any holder of the platform secret can recompute."""
        digest = hmac.new(self._subkey(purpose.encode()), identifier.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
