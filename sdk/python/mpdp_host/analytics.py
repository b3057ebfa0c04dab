"""The analytics queue: events kept compactly in memory, sent in batches to `/ingest/v1/events`
with the app key, tried again with exponential backoff and the wait `Retry-After` asks for.

Each event gets its `event_id` when it is recorded, so a batch sent again after a lost answer
counts once. A batch the platform could not take (network down, 5xx, 429 past the tries allowed)
goes back to the front of the queue for the next flush; a batch it refused (400, 413, 422) is
dropped and counted. When the queue is full, the oldest events make room and are counted."""

from __future__ import annotations

import gzip
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from .errors import AuthenticationError, MPDPError, NetworkError, RateLimitedError, error_for
from .retry import RETRIED_STATUSES, Backoff, retry_after_seconds

log = logging.getLogger("mpdp_host")

INGEST_PATH = "/ingest/v1/events"
EVENT_TYPES = ("app_launch", "page_view", "session_end", "js_error", "custom")
#: the platform's limit of events in one batch
MAX_BATCH = 1000

# One queued event, a tuple rather than a dict (a third of the memory): its number, type, unix
# time, mini program, version, user, session, page, duration, name and properties.
_Event = tuple[int, str, float, str, str, str, str, str | None, int | None, str | None, dict[str, Any] | None]


@dataclass
class Stats:
    """What the queue did so far."""

    sent: int = 0
    rejected: int = 0
    dropped: int = 0
    batches: int = 0
    retries: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)


class Analytics:
    """A queue of analytics events for one host app key.

    Call `flush()` when it suits the host (it sends everything queued), or `start()` for a thread
    that flushes every `flush_interval` seconds and whenever `batch_size` events wait; `close()`
    flushes what is left and stops it."""

    def __init__(
        self,
        base_url: str,
        key_id: str,
        *,
        batch_size: int = 500,
        max_queue: int = 100_000,
        flush_interval: float = 5.0,
        compress: bool = True,
        timeout: float = 10.0,
        backoff: Backoff | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not 1 <= batch_size <= MAX_BATCH:
            raise MPDPError(f"batch_size is 1 to {MAX_BATCH} events, not {batch_size}")
        self.url = base_url.rstrip("/") + INGEST_PATH
        self.key_id = key_id
        self.batch_size, self.max_queue, self.flush_interval = batch_size, max_queue, flush_interval
        self.compress, self.timeout = compress, timeout
        self.backoff = backoff or Backoff()
        self.http = session or requests.Session()
        self.stats = Stats()
        self._sleep = sleep
        self._queue: deque[_Event] = deque()
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        self._prefix = secrets.token_hex(8)
        self._number = 0
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def __len__(self) -> int:
        return len(self._queue)

    # -- recording ---------------------------------------------------------------------------

    def record(
        self,
        type: str,
        *,
        miniprogram_id: str,
        version: str,
        user_id: str,
        session_id: str,
        timestamp: float | None = None,
        page: str | None = None,
        duration_ms: int | None = None,
        name: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> str:
        """Queue one event; answers its event_id."""
        if type not in EVENT_TYPES:
            raise MPDPError(f"event type {type!r} is none of {', '.join(EVENT_TYPES)}")
        if type == "custom" and not name:
            raise MPDPError("a custom event needs its name")
        with self._lock:
            self._number += 1
            number = self._number
            self._queue.append(
                (number, type, time.time() if timestamp is None else timestamp, miniprogram_id, version, user_id, session_id)
                + (page, duration_ms, name, properties)
            )
            if len(self._queue) > self.max_queue:
                self._queue.popleft()
                self.stats.dropped += 1
            waiting = len(self._queue)
        if waiting >= self.batch_size:
            self._wake.set()
        return self._event_id(number)

    def session(self, miniprogram_id: str, version: str, user_id: str, session_id: str | None = None) -> Session:
        """A user's session of one mini program version: its events carry all four."""
        return Session(self, miniprogram_id, version, user_id, session_id or secrets.token_hex(12))

    def _event_id(self, number: int) -> str:
        return f"{self._prefix}-{number}"

    def _body(self, event: _Event) -> dict[str, Any]:
        number, kind, moment, miniprogram_id, version, user_id, session_id, page, duration_ms, name, properties = event
        body: dict[str, Any] = {
            "event_id": self._event_id(number),
            "type": kind,
            "timestamp": _stamp(moment),
            "miniprogram_id": miniprogram_id,
            "version": version,
            "user_id": user_id,
            "session_id": session_id,
        }
        for key, value in (("page", page), ("duration_ms", duration_ms), ("name", name), ("properties", properties)):
            if value is not None:
                body[key] = value
        return body

    # -- sending -----------------------------------------------------------------------------

    def flush(self) -> int:
        """Send everything queued, batch by batch; answers the events the platform accepted.
        Raises NetworkError (the batch stays queued) when the platform cannot take it within the
        tries allowed, AuthenticationError when the key is refused."""
        accepted = 0
        with self._sending:
            while True:
                with self._lock:
                    batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
                if not batch:
                    return accepted
                try:
                    accepted += self._send(batch)
                except (NetworkError, RateLimitedError, AuthenticationError):
                    with self._lock:
                        self._queue.extendleft(reversed(batch))
                        while len(self._queue) > self.max_queue:
                            self._queue.pop()
                            self.stats.dropped += 1
                    raise

    def _send(self, batch: list[_Event]) -> int:
        for attempt in range(self.backoff.attempts):
            events = [self._body(event) for event in batch]
            body = json.dumps({"sent_at": _stamp(time.time()), "events": events}, separators=(",", ":")).encode()
            headers = {"X-MPDP-Key": self.key_id, "Content-Type": "application/json"}
            if self.compress:
                body, headers["Content-Encoding"] = gzip.compress(body, compresslevel=5), "gzip"
            try:
                answer = self.http.post(self.url, data=body, headers=headers, timeout=self.timeout)
            except requests.RequestException as error:
                if attempt + 1 >= self.backoff.attempts:
                    problem = f"{error.__class__.__name__}: {len(batch)} events stay queued"
                    raise NetworkError(f"POST {INGEST_PATH}: {problem}") from None
                self.stats.retries += 1
                self._sleep(self.backoff.delay(attempt))
                continue
            if answer.status_code == 202:
                result = answer.json()
                rejected = result.get("rejected") or []
                self.stats.sent += len(batch) - len(rejected)
                self.stats.rejected += len(rejected)
                self.stats.batches += 1
                if rejected:
                    self.stats.rejections = (self.stats.rejections + rejected)[-100:]
                    log.warning("mpdp_host: the platform rejected %d of %d events (first: %s)", len(rejected), len(batch), rejected[0])
                return int(result.get("accepted", len(batch) - len(rejected)))
            retry_after = retry_after_seconds(answer.headers.get("Retry-After"))
            problem = _problem(answer)
            if answer.status_code in RETRIED_STATUSES and attempt + 1 < self.backoff.attempts:
                self.stats.retries += 1
                self._sleep(self.backoff.delay(attempt, retry_after))
                continue
            refusal = error_for(answer.status_code, problem, retry_after)
            if answer.status_code in RETRIED_STATUSES:
                raise refusal if isinstance(refusal, RateLimitedError) else NetworkError(f"{refusal}: {len(batch)} events stay queued")
            if isinstance(refusal, AuthenticationError):
                raise refusal
            self.stats.dropped += len(batch)  # refused as a whole (400, 413, 422): sending it again cannot help
            log.warning("mpdp_host: the platform refused a batch of %d events: %s", len(batch), refusal)
            return 0
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the background thread ---------------------------------------------------------------

    def start(self) -> Analytics:
        """Flush from a thread of its own: every `flush_interval` seconds, and whenever a batch is full."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mpdp-analytics", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        failures = 0
        while not self._stopped.is_set():
            self._wake.wait(self.backoff.delay(failures) if failures else self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
                failures = 0
            except MPDPError as error:
                failures = min(failures + 1, 10)
                log.warning("mpdp_host: analytics flush failed, %d events kept: %s", len(self._queue), error)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread and flush what is left (errors raised as by `flush`)."""
        self._stopped.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.flush()

    def __enter__(self) -> Analytics:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Session:
    """One user's session of one mini program version, recording its events."""

    def __init__(self, analytics: Analytics, miniprogram_id: str, version: str, user_id: str, session_id: str):
        self.analytics, self.miniprogram_id, self.version, self.user_id, self.session_id = (
            analytics,
            miniprogram_id,
            version,
            user_id,
            session_id,
        )
        self._started = time.monotonic()

    def _record(
        self,
        kind: str,
        *,
        page: str | None = None,
        duration_ms: int | None = None,
        name: str | None = None,
        properties: dict[str, Any] | None = None,
    ) -> str:
        return self.analytics.record(
            kind,
            miniprogram_id=self.miniprogram_id,
            version=self.version,
            user_id=self.user_id,
            session_id=self.session_id,
            page=page,
            duration_ms=duration_ms,
            name=name,
            properties=properties,
        )

    def app_launch(self, duration_ms: int | None = None) -> str:
        return self._record("app_launch", duration_ms=duration_ms)

    def page_view(self, page: str, duration_ms: int | None = None) -> str:
        return self._record("page_view", page=page, duration_ms=duration_ms)

    def track(self, name: str, properties: dict[str, Any] | None = None) -> str:
        return self._record("custom", name=name, properties=properties)

    def js_error(self, message: str | None = None, page: str | None = None) -> str:
        return self._record("js_error", page=page, properties={"message": message} if message else None)

    def end(self, duration_ms: int | None = None) -> str:
        """session_end, with the session's duration (measured since it began unless given)."""
        elapsed = int((time.monotonic() - self._started) * 1000) if duration_ms is None else duration_ms
        return self._record("session_end", duration_ms=elapsed)


def _stamp(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _problem(answer: requests.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def events_of(analytics: Analytics) -> Iterable[dict[str, Any]]:
    """The queued events as the platform receives them (for tests and debugging)."""
    with analytics._lock:
        queued = list(analytics._queue)
    return [analytics._body(event) for event in queued]
