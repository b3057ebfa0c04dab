"""Access tokens checked at the edge, each once per process until it expires."""

from __future__ import annotations

import hashlib
import threading
import time

from mpdp_common.auth import TokenVerifier

#: Verified tokens remembered at most; beyond it, expired ones are forgotten first, then all.
CAPACITY = 50_000


class VerifiedTokens:
    """A bad token is refused here, before it costs a service anything (services verify again).
    A good one is remembered under its digest, never as itself, until its `exp`: a signature is
    checked once per token, not once per request."""

    def __init__(self, verifier: TokenVerifier):
        self.verifier = verifier
        self._expiry: dict[bytes, float] = {}
        self._lock = threading.Lock()

    def check(self, token: str) -> None:
        key = hashlib.sha256(token.encode()).digest()
        now = time.time()
        if self._expiry.get(key, 0) > now:
            return
        claims = self.verifier.verify(token)
        with self._lock:
            if len(self._expiry) >= CAPACITY:
                self._expiry = {known: expiry for known, expiry in self._expiry.items() if expiry > now}
                if len(self._expiry) >= CAPACITY:
                    self._expiry.clear()
            self._expiry[key] = float(claims["exp"])
