"""Exponential backoff with jitter, and the wait a 429's or 503's `Retry-After` asks for."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class Backoff:
    """Waits of `base` · 2^attempt seconds, at most `cap`, each with up to a quarter of jitter;
    `attempts` tries in all (the first included)."""

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """The wait before try number `attempt + 1` (attempt counts from 0)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), max(self.cap, retry_after))
        wait = min(self.cap, self.base * 2**attempt)
        return wait * (0.75 + random.random() / 4)


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: a number of seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


#: the statuses worth another try: the platform's rate limit and its passing troubles
RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
