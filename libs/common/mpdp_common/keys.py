"""The identity service's signing key: an Ed25519 private key in a PEM file."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def ensure_signing_key(path: str) -> str:
    """Create the key file (mode 0600) unless it exists; return its path."""
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
    return path


def load_signing_key(path: str) -> Ed25519PrivateKey:
    if not path:
        raise SystemExit("configuration error: MPDP_JWT_PRIVATE_KEY_FILE must name the identity signing key")
    try:
        with open(path, "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
    except (OSError, ValueError) as error:
        raise SystemExit(f"configuration error: cannot read the signing key {path}: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SystemExit(f"configuration error: {path} is not an Ed25519 private key")
    return key
