"""Rate limits per client and per token, counted in fixed windows.

Each gateway process counts locally and, at most every SYNC_SECONDS, adds what it counted to the
shared counts in Redis and reads back the totals, in one round trip (a pipeline of INCRBY). A
request never waits on Redis except the one that happens to carry a synchronization. The price:
a process sees the others' requests up to SYNC_SECONDS late, so a client spread over N processes
may pass its limit by what it sends in SYNC_SECONDS to the N-1 others.

While Redis does not answer, each process keeps counting on its own and tries again a second
later, handing over what it counted meanwhile; limits stay, only their sharing pauses (fail open).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass

import redis
from limits import parse

log = logging.getLogger(__name__)

SYNC_SECONDS = 0.1
#: Seconds between attempts to reach Redis again once it stopped answering.
RETRY_SECONDS = 1.0


@dataclass(frozen=True)
class Limit:
    name: str
    amount: int
    seconds: int

    @classmethod
    def parse(cls, name: str, text: str) -> Limit:
        item = parse(text)
        return cls(name, item.amount, item.get_expiry())


@dataclass(frozen=True)
class Verdict:
    """The tightest of the limits a request was counted against."""

    limit: Limit
    remaining: int
    reset_at: int
    allowed: bool

    def headers(self) -> list[tuple[str, str]]:
        headers = [
            ("X-RateLimit-Limit", str(self.limit.amount)),
            ("X-RateLimit-Remaining", str(self.remaining)),
            ("X-RateLimit-Reset", str(self.reset_at)),
        ]
        if not self.allowed:
            headers.append(("Retry-After", str(max(1, self.reset_at - int(time.time())))))
        return headers


class RateLimiter:
    def __init__(self, storage_uri: str, prefix: str):
        self.prefix = prefix
        # A synchronization must never hold a request long on a store that has gone away.
        self._redis = (
            redis.Redis.from_url(storage_uri, socket_connect_timeout=0.25, socket_timeout=0.25) if storage_uri.startswith("redis") else None
        )
        #: per key: the best known count of its window (the shared total plus what came since)
        self._counts: Counter[str] = Counter()
        #: per key: what this process counted and has not handed to Redis yet
        self._unsent: Counter[str] = Counter()
        #: per key: when its window ends, and so when it is forgotten
        self._ends: dict[str, int] = {}
        self._lock = threading.Lock()
        self._next_sync = 0.0
        self._syncing = False
        self._redis_down = False

    def hit(self, *counted: tuple[Limit, str]) -> Verdict:
        """Count one request against each (limit, key) and say whether it may pass; the request that
        finds a synchronization due carries it (and forgets the windows that ended)."""
        now = time.time()
        keys = []
        with self._lock:
            for limit, key in counted:
                window = int(now // limit.seconds)
                name = f"{self.prefix}:limit:{limit.name}:{key}:{window}"
                keys.append(name)
                self._ends[name] = (window + 1) * limit.seconds
                self._counts[name] += 1
                self._unsent[name] += 1
            due = now >= self._next_sync and not self._syncing
            if due:
                self._syncing = True
        if due:
            self._synchronize(now)
        verdicts = [
            Verdict(limit, max(0, limit.amount - self._counts[name]), self._ends[name], self._counts[name] <= limit.amount)
            for (limit, _), name in zip(counted, keys, strict=True)
        ]
        return min(verdicts, key=lambda verdict: (verdict.allowed, verdict.remaining))

    def _synchronize(self, now: float) -> None:
        with self._lock:
            for name in [name for name, end in self._ends.items() if end <= now]:
                del self._ends[name], self._counts[name], self._unsent[name]
            sending, self._unsent = self._unsent, Counter()
            expiries = {name: self._ends[name] for name in sending}
            if self._redis is None:
                self._next_sync, self._syncing = now + SYNC_SECONDS, False
                return
        try:
            pipeline = self._redis.pipeline(transaction=False)
            for name, count in sending.items():
                pipeline.incrby(name, count)
                pipeline.expireat(name, expiries[name] + 1)
            totals = pipeline.execute()[::2]
        except redis.RedisError as error:
            with self._lock:
                self._unsent.update(sending)
                self._next_sync = time.time() + RETRY_SECONDS
                self._syncing = False
            if not self._redis_down:
                log.warning("rate-limit store unavailable (%s): counting in this process until it answers", error.__class__.__name__)
                self._redis_down = True
            return
        with self._lock:
            for name, total in zip(sending, totals, strict=True):
                self._counts[name] = int(total) + self._unsent[name]
            self._next_sync = time.time() + SYNC_SECONDS
            self._syncing = False
        if self._redis_down:
            log.warning("rate-limit store answers again: counts are shared again")
            self._redis_down = False
