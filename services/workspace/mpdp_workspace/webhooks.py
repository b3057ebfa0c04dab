"""Webhooks: the workspace's events posted, signed, to the URLs its admins registered.

The consumer only queues: for each public event a domain event makes (webhook_events.py) and
each active webhook of the workspace subscribed to it, one `WebhookDelivery` row holding the
exact body, in the transaction of the inbox row (so one per event and webhook, however often the
broker hands it over). The webhook worker (`mpdpctl work workspace webhooks`) sends them: due
deliveries are claimed with SKIP LOCKED, a batch of one webhook's at a time in a lane of its
own, sent one after another, and `MPDP_WEBHOOK_CONCURRENCY` lanes in all, so a receiver that hangs holds one lane, never the others nor
the consumer. An attempt is bounded by `MPDP_WEBHOOK_TIMEOUT_SECONDS` from connecting to the
last byte read; a 2xx delivers, anything else waits the next of `MPDP_WEBHOOK_RETRY_SECONDS`
and the delivery is given up after the last. Every attempt is kept.

A URL is judged when it is saved and again before every attempt, on the address then connected
(mpdp_common.addresses): inside the platform's network only hosts the operator lists in
`MPDP_WEBHOOK_ALLOWED_HOSTS` may be reached. Redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import secrets
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, text, true, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mpdp_common.addresses import NotPublic, Unresolvable, public_addresses
from mpdp_common.config import Settings
from mpdp_common.crypto import secret_box
from mpdp_common.db import dialect_insert, make_engine, new_id, on_postgresql, session_scope, utcnow
from mpdp_common.events import Event
from mpdp_common.events.relay import waiter_for
from mpdp_common.metrics import WEBHOOK_ATTEMPTS

from . import audit, webhook_events
from .models import Webhook, WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-MPDP-Signature-256"
USER_AGENT = "MPDP-Webhooks/1"
#: how much of a receiver's answer is read (and kept, as an error, when it is not a 2xx)
ANSWER_BYTES = 4096
#: the longest wait between looks at the queue; a commit that queues deliveries wakes the workers
POLL_SECONDS = 1.0
#: what that commit NOTIFYs
WAKE_CHANNEL = "mpdp_webhook_deliveries"
#: deliveries of one webhook a lane takes at once and sends in turn (one claim for them all)
LANE_BATCH = 20


# -- secrets and signatures -----------------------------------------------------------------------


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of the raw body under the webhook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- the URL guard --------------------------------------------------------------------------------


class RefusedUrl(ValueError):
    """The URL is not one the platform sends to."""


class UnresolvedHost(RefusedUrl):
    """The URL's host does not resolve (now: it may later, and is judged again then)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def target_of(url: str) -> Target:
    """The URL's parts, or RefusedUrl for one that is not an absolute http(s) URL without credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise RefusedUrl(f"Not a URL: {error}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedUrl("Must be an absolute http or https URL.")
    if parts.username is not None or parts.password is not None:
        raise RefusedUrl("Must not carry a user name or password; check the signature instead.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80), path)


def checked_address(target: Target, settings: Settings) -> str:
    """The address to connect to: a public one, or any for a host the operator allows; else
    RefusedUrl (NotPublic's reason, or the name not resolving)."""
    try:
        return public_addresses(target.host, target.port, allow_private=target.host in settings.webhook_allowed_hosts)[0]
    except Unresolvable as error:
        raise UnresolvedHost(str(error)) from None
    except NotPublic as error:
        raise RefusedUrl(str(error)) from None


# -- queueing -------------------------------------------------------------------------------------


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"{type(value).__name__} is not JSON")


def body_of(delivery_id: str, event: str, occurred_at: str, workspace_id: str, data: dict[str, Any]) -> str:
    document = {
        "id": delivery_id,
        "event": event,
        "version": webhook_events.VERSION,
        "occurred_at": occurred_at,
        "workspace_id": workspace_id,
        "data": data,
    }
    return json.dumps(document, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def queue(session: Session, webhook: Webhook, event: str, event_id: str, occurred_at: str, data: dict[str, Any]) -> str:
    """Queue one delivery, once per (webhook, event_id); its id (unused when it was queued before)."""
    delivery_id = new_id()
    session.execute(
        dialect_insert(session, WebhookDelivery)
        .values(
            id=delivery_id,
            webhook_id=webhook.id,
            workspace_id=webhook.workspace_id,
            event=event,
            event_id=event_id,
            body=body_of(delivery_id, event, occurred_at, webhook.workspace_id, data),
            status="pending",
            attempts=0,
            retries=0,
            next_attempt_at=utcnow(),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["webhook_id", "event_id"])
    )
    return delivery_id


def fan_out(session: Session, event: Event) -> None:
    """The consumer's part: a delivery for every webhook of the event's workspace that subscribes
    to a public event this domain event makes."""
    if not event.workspace_id or audit.retold(event):
        return
    told = webhook_events.told(event)
    if not told:
        return
    # A webhook hears of what happens once it exists, not of an event that reached the consumer late.
    occurred = datetime.fromisoformat(event.occurred_at.replace("Z", "+00:00"))
    hooks = session.scalars(
        select(Webhook).where(Webhook.workspace_id == event.workspace_id, Webhook.active.is_(True), Webhook.created_at <= occurred)
    ).all()
    queued = False
    for webhook in hooks:
        for name, data in told:
            if name in webhook.events:
                # one domain event may make two public ones (a halt is a status change too)
                queue(session, webhook, name, f"{event.id}:{name}", event.occurred_at, data)
                queued = True
    if queued:
        wake_workers(session)


def wake_workers(session: Session) -> None:
    """Wake the webhook workers when this transaction commits (NOTIFY is delivered at commit), so
    that a delivery goes out at once rather than at their next look."""
    if on_postgresql(session):
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": WAKE_CHANNEL})
    else:
        session.info.setdefault("outbox_services", set()).add(WAKE_CHANNEL)


def ping(session: Session, webhook: Webhook, by: str) -> str:
    now = utcnow().isoformat().replace("+00:00", "Z")
    wake_workers(session)
    return queue(session, webhook, webhook_events.PING, new_id(), now, {"webhook_id": webhook.id, "sent_by": by})


def redeliver(session: Session, delivery: WebhookDelivery) -> None:
    """Send a delivery again soon, with the same id and body, and its retries anew."""
    delivery.status, delivery.retries, delivery.next_attempt_at = "pending", 0, utcnow()
    wake_workers(session)


# -- sending --------------------------------------------------------------------------------------


class _Connection(http.client.HTTPConnection):
    """Connects to the address that was checked, and names the URL's host in `Host`."""

    def __init__(self, target: Target, address: str, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _TlsConnection(_Connection):
    """TLS verified against the URL's host, over the checked address."""

    context = ssl.create_default_context()

    def connect(self) -> None:
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, headers: dict[str, str], body: bytes, settings: Settings) -> Outcome:
    """One attempt: POST `body` to `url`, within the timeout from the first byte to the last."""
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        target = target_of(url)
        address = checked_address(target, settings)
    except RefusedUrl as error:
        return Outcome(None, elapsed(), f"refused: {error}"[:500])
    timeout = settings.webhook_timeout_seconds
    connection = (_TlsConnection if target.scheme == "https" else _Connection)(target, address, timeout)
    # A receiver that answers a byte at a time still has `timeout` in all: then its socket is shut.
    deadline = threading.Timer(timeout, _shut, (connection,))
    deadline.start()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read(ANSWER_BYTES)
        status = response.status
    except (OSError, http.client.HTTPException) as error:
        timed_out = isinstance(error, TimeoutError) or elapsed() >= timeout * 1000
        reason = f"no answer within {timeout:g} s" if timed_out else f"{error.__class__.__name__}: {error}"
        return Outcome(None, elapsed(), reason[:500])
    finally:
        deadline.cancel()
        connection.close()
    if 200 <= status < 300:
        return Outcome(status, elapsed(), None)
    return Outcome(status, elapsed(), f"answered {status}: {answer.decode('utf-8', 'replace')}"[:500])


def _shut(connection: http.client.HTTPConnection) -> None:
    if connection.sock is not None:
        try:
            connection.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def headers_for(delivery: WebhookDelivery, secret: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-MPDP-Event": delivery.event,
        "X-MPDP-Delivery": delivery.id,
        SIGNATURE_HEADER: signature(secret, delivery.body.encode()),
    }


def record(session: Session, delivery_id: str, outcome: Outcome, settings: Settings) -> None:
    """The attempt in the delivery's history, and what comes next: delivered, a retry, or given up."""
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None:
        return  # its webhook was deleted meanwhile
    now = utcnow()
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id, at=now, status_code=outcome.status_code, duration_ms=outcome.duration_ms, error=outcome.error
        )
    )
    delivery.attempts += 1
    delivery.status_code, delivery.duration_ms, delivery.error = outcome.status_code, outcome.duration_ms, outcome.error
    WEBHOOK_ATTEMPTS.labels("delivered" if outcome.delivered else "failed").inc()
    if outcome.delivered:
        delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
        return
    delivery.retries += 1
    schedule = settings.webhook_retry_seconds
    if delivery.retries > len(schedule):
        delivery.status, delivery.next_attempt_at = "failed", None
        log.warning("webhook delivery %s given up after %d attempts: %s", delivery.id, delivery.attempts, outcome.error)
    else:
        delivery.next_attempt_at = now + timedelta(seconds=schedule[delivery.retries - 1])


@dataclass(frozen=True)
class Claimed:
    delivery_id: str
    webhook_id: str
    url: str
    headers: dict[str, str]
    body: bytes


def claim(session: Session, settings: Settings, limit: int, busy: set[str]) -> list[list[Claimed]]:
    """Due deliveries for up to `limit` webhooks that are not `busy`, up to LANE_BATCH of each,
    oldest due first: each webhook's are sent one after another in one lane. Each is taken for
    as long as the attempts before it and its own may take (a worker that dies meanwhile leaves
    it due again after that)."""
    now = utcnow()
    rows = session.execute(
        select(WebhookDelivery, Webhook)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now, Webhook.active.is_(True))
        # a busy webhook's backlog, however old, must not hide the others' deliveries
        .where(WebhookDelivery.webhook_id.not_in(busy) if busy else true())
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit * LANE_BATCH)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    ).all()
    lanes: dict[str, list[Claimed]] = {}
    box = secret_box(settings)
    secrets_of: dict[str, str] = {}
    for delivery, webhook in rows:
        lane = lanes.get(webhook.id)
        if lane is None:
            if len(lanes) == limit:
                continue
            lane = lanes[webhook.id] = []
            secrets_of[webhook.id] = box.decrypt(webhook.secret_encrypted)
        if len(lane) == LANE_BATCH:
            continue
        lane.append(Claimed(delivery.id, webhook.id, webhook.url, headers_for(delivery, secrets_of[webhook.id]), delivery.body.encode()))
        delivery.next_attempt_at = now + timedelta(seconds=settings.webhook_timeout_seconds * len(lane) + 30)
    return list(lanes.values())


def release(session: Session, delivery_ids: list[str]) -> None:
    """Deliveries a lane took but did not try (its receiver failed one before them): due again now."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(delivery_ids), WebhookDelivery.status == "pending")
        .values(next_attempt_at=utcnow())
    )


def run_worker(settings: Settings, stop: threading.Event) -> None:
    """Send due deliveries until `stop` is set, `webhook_concurrency` at a time. The loop looks at
    the queue when a send ends, when a commit that queued deliveries NOTIFYs, and every second."""
    lanes = settings.webhook_concurrency
    engine = make_engine(settings.database_url, 2)
    sessions = sessionmaker(engine, expire_on_commit=False)
    busy: set[str] = set()
    lock = threading.Lock()
    wake = threading.Event()

    def send(lane: list[Claimed]) -> None:
        """A webhook's deliveries in turn; after one that fails, the rest wait for the next claim."""
        try:
            for number, claimed in enumerate(lane):
                outcome = post(claimed.url, claimed.headers, claimed.body, settings)
                _with_database(stop, partial(_record, sessions, claimed.delivery_id, outcome, settings))
                rest = [item.delivery_id for item in lane[number + 1 :]]
                if rest and (not outcome.delivered or stop.is_set()):
                    _with_database(stop, partial(_release, sessions, rest))
                    break
        finally:
            with lock:
                busy.discard(lane[0].webhook_id)
            wake.set()

    def listen() -> None:
        waiter = waiter_for(engine, settings.service, WAKE_CHANNEL)
        try:
            while not stop.is_set():
                waiter.wait(POLL_SECONDS, stop)
                wake.set()
        finally:
            waiter.close()

    log.info("webhook worker started (%d at a time)", lanes)
    threading.Thread(target=listen, name="webhook-wakeups", daemon=True).start()
    with ThreadPoolExecutor(lanes, thread_name_prefix="webhook") as pool:
        while not stop.is_set():
            wake.clear()
            with lock:
                free, held = lanes - len(busy), set(busy)
            claimed: list[list[Claimed]] = []
            if free:
                try:
                    with session_scope(sessions) as session:
                        claimed = claim(session, settings, free, held)
                except OperationalError as error:
                    log.warning("database unavailable (%s); the webhook worker waits", error.__class__.__name__)
                    stop.wait(5)
                    continue
            with lock:
                busy.update(lane[0].webhook_id for lane in claimed)
            for lane in claimed:
                pool.submit(send, lane)
            if len(claimed) < free or not free:
                wake.wait(POLL_SECONDS)
    wake.set()


def _record(sessions: sessionmaker[Session], delivery_id: str, outcome: Outcome, settings: Settings) -> None:
    with session_scope(sessions) as session:
        record(session, delivery_id, outcome, settings)


def _release(sessions: sessionmaker[Session], delivery_ids: list[str]) -> None:
    with session_scope(sessions) as session:
        release(session, delivery_ids)


def _with_database(stop: threading.Event, work: Any) -> None:
    """Run `work` again while the database is away: an attempt made is never forgotten."""
    while True:
        try:
            work()
            return
        except OperationalError as error:
            log.warning("database unavailable (%s); an attempt's outcome waits to be written", error.__class__.__name__)
            if stop.wait(2):
                return
