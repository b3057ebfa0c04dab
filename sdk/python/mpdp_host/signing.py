"""The signature of delivery requests: hex(HMAC-SHA256(secret, "{timestamp}\\n{method}\\n{path}\\n{query}"))."""

from __future__ import annotations

import hashlib
import hmac
import time

KEY_HEADER = "X-MPDP-Key"
TIMESTAMP_HEADER = "X-MPDP-Timestamp"
SIGNATURE_HEADER = "X-MPDP-Signature"


def signature(secret: str, timestamp: int, method: str, path: str, query: str) -> str:
    message = f"{timestamp}\n{method.upper()}\n{path}\n{query}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(key_id: str, secret: str, method: str, path: str, query: str = "", *, timestamp: int | None = None) -> dict[str, str]:
    """The three headers of a signed request; `query` exactly as sent (without the `?`)."""
    moment = int(time.time()) if timestamp is None else timestamp
    return {KEY_HEADER: key_id, TIMESTAMP_HEADER: str(moment), SIGNATURE_HEADER: signature(secret, moment, method, path, query)}
