"""Rate limits per client and per token, counted in fixed windows.

With Redis, every gateway process shares the counts, and a request costs one round trip: a Lua
script increments all of its counters at once. While Redis does not answer, each process counts on
its own and asks Redis again a second later; limits stay, only their sharing pauses (fail open).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import redis
from limits import parse

log = logging.getLogger(__name__)

#: Seconds between attempts to reach Redis again once it stopped answering.
RETRY_SECONDS = 1.0
#: Local counts kept at most while Redis is away; expired windows are dropped first.
LOCAL_CAPACITY = 100_000

_INCREMENT = """
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('INCR', key)
  if counts[i] == 1 then redis.call('EXPIRE', key, ARGV[i]) end
end
return counts
"""


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
        self._redis = None
        if storage_uri.startswith("redis"):
            # A request must never wait long on a store that has gone away.
            client = redis.Redis.from_url(storage_uri, socket_connect_timeout=0.25, socket_timeout=0.25)
            self._redis = client.register_script(_INCREMENT)
        self._redis_retry_at = 0.0
        self._local: dict[str, tuple[int, float]] = {}
        self._lock = threading.Lock()

    def hit(self, *counted: tuple[Limit, str]) -> Verdict:
        """Count one request against each (limit, key) and say whether it may pass."""
        now = time.time()
        keys, windows_end = [], []
        for limit, key in counted:
            window = int(now // limit.seconds)
            keys.append(f"{self.prefix}:limit:{limit.name}:{key}:{window}")
            windows_end.append((window + 1) * limit.seconds)
        counts = self._shared_counts(keys, [limit.seconds for limit, _ in counted], now)
        if counts is None:
            counts = self._local_counts(keys, windows_end, now)
        verdicts = [
            Verdict(limit, max(0, limit.amount - count), end, count <= limit.amount)
            for (limit, _), count, end in zip(counted, counts, windows_end, strict=True)
        ]
        return min(verdicts, key=lambda verdict: (verdict.allowed, verdict.remaining))

    def _shared_counts(self, keys: list[str], seconds: list[int], now: float) -> list[int] | None:
        if self._redis is None or now < self._redis_retry_at:
            return None
        try:
            counts = [int(count) for count in self._redis(keys=keys, args=seconds)]
        except redis.RedisError as error:
            if self._redis_retry_at == 0.0:
                log.warning("rate-limit store unavailable (%s): counting in this process until it answers", error.__class__.__name__)
            self._redis_retry_at = now + RETRY_SECONDS
            return None
        if self._redis_retry_at:
            log.warning("rate-limit store answers again: counts are shared again")
            self._redis_retry_at = 0.0
        return counts

    def _local_counts(self, keys: list[str], windows_end: list[int], now: float) -> list[int]:
        with self._lock:
            if len(self._local) >= LOCAL_CAPACITY:
                self._local = {key: entry for key, entry in self._local.items() if entry[1] > now}
            counts = []
            for key, end in zip(keys, windows_end, strict=True):
                count = self._local.get(key, (0, end))[0] + 1
                self._local[key] = (count, end)
                counts.append(count)
            return counts
