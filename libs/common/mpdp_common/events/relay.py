"""The outbox relay: sends committed outbox rows to the broker, in batches, in order.

It claims rows with FOR UPDATE SKIP LOCKED (so that several relays never send the same row at
once), is woken by NOTIFY when a transaction that wrote events commits, and polls as a fallback.
A row is marked sent only after the broker has taken it; until then, a stopped broker just
leaves events waiting in the outbox.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Engine, any_, bindparam, delete, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from ..db import on_postgresql, session_scope, utcnow
from . import EventSpec, local_wakeup, outbox_channel
from .brokers import Broker, BrokerUnavailable, Outgoing

log = logging.getLogger(__name__)

#: How long sent rows stay in the outbox for inspection before they are deleted.
SENT_RETENTION = timedelta(days=3)
CLEANUP_INTERVAL_SECONDS = 600


class Relay:
    def __init__(self, spec: EventSpec, engine: Engine, broker: Broker, *, exchange: str, batch_size: int, poll_seconds: float):
        self.spec = spec
        self.engine = engine
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.broker = broker
        self.exchange = exchange
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        # A deadline on the monotonic clock, not a last time: that clock counts from boot, so a
        # "last cleanup at 0" would look recent for the first minutes of a machine's life.
        self._next_cleanup: float | None = None

    def relay_batch(self) -> int:
        """Send one batch of unsent events; return how many went out."""
        outbox = self.spec.outbox
        with session_scope(self.sessions) as session:
            if on_postgresql(session):
                # An index scan in seq order, whatever the statistics say: it stops after the batch
                # and marks the index entries of sent rows dead as it passes them, where a bitmap
                # scan would read every sent row still in the index on every batch.
                session.execute(text("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off"))
            rows = session.execute(
                select(outbox.c.seq, outbox.c.event_id, outbox.c.type, outbox.c.envelope)
                .where(outbox.c.published_at.is_(None))
                .order_by(outbox.c.seq)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            self.broker.publish_batch(self.exchange, [Outgoing(row.event_id, row.type, row.envelope.encode()) for row in rows])
            session.execute(update(outbox).where(_among(outbox.c.seq, [row.seq for row in rows], session)).values(published_at=utcnow()))
        return len(rows)

    def run(self, stop: threading.Event) -> None:
        waiter = waiter_for(self.engine, self.spec.service)
        backoff = 0.5
        log.info("relay for %s publishing to %s", self.spec.service, self.exchange)
        try:
            while not stop.is_set():
                try:
                    sent = self.relay_batch()
                    backoff = 0.5
                except BrokerUnavailable as error:
                    log.warning("broker unavailable, events wait in the outbox (%s); retry in %.1fs", error, backoff)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                except Exception:
                    log.exception("relay batch failed; retry in %.1fs", backoff)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
                if sent:
                    log.debug("relayed %d events", sent)
                if sent < self.batch_size:
                    self._cleanup_sent()
                    waiter.wait(self.poll_seconds, stop)
                    self.broker.keepalive()
        finally:
            waiter.close()
            self.broker.close()

    def _cleanup_sent(self) -> None:
        now = time.monotonic()
        if self._next_cleanup is not None and now < self._next_cleanup:
            return
        self._next_cleanup = now + CLEANUP_INTERVAL_SECONDS
        outbox = self.spec.outbox
        with session_scope(self.sessions) as session:
            # Rows are in seq order of creation: the first one young enough to keep bounds the
            # delete, found by walking the primary key from the oldest instead of reading them all.
            young = outbox.c.created_at >= utcnow() - SENT_RETENTION
            kept = session.scalar(select(outbox.c.seq).where(young).order_by(outbox.c.seq).limit(1))
            old = outbox.c.published_at.is_not(None)
            session.execute(delete(outbox).where(old if kept is None else old & (outbox.c.seq < kept)))


def _among(column: ColumnElement[int], values: list[int], session: Session) -> ColumnElement[bool]:
    """`column IN values`; on PostgreSQL one array parameter, which is far cheaper to send than hundreds."""
    if on_postgresql(session):
        return column == any_(bindparam("seqs", values, type_=ARRAY(BigInteger)))
    return column.in_(values)


class _LocalWaiter:
    """Woken by a commit in this process (the embedded mode, SQLite)."""

    def __init__(self, service: str):
        self.event = local_wakeup(service)

    def wait(self, timeout: float, stop: threading.Event) -> None:
        self.event.wait(timeout)
        self.event.clear()

    def close(self) -> None:
        return None


class _PostgresWaiter:
    """LISTENs on the service's outbox channel; a commit that wrote events NOTIFYs it.

    When the database goes away the relay polls, and each wait tries to LISTEN again, so that
    once the database is back a commit reaches the broker at once instead of at the next poll.
    """

    def __init__(self, engine: Engine, service: str, channel: str | None = None):
        self.dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.channel = channel or outbox_channel(service)
        self.application_name = f"mpdp-{'relay' if channel is None else 'waiter'}-{service}"
        self.connection: Any = None
        try:
            self._connect()
        except Exception as error:  # the database is not up yet: poll, and LISTEN once it is
            log.warning("cannot LISTEN for outbox commits yet (%r); polling until the database answers", error)

    def _connect(self) -> None:
        import psycopg

        connection = psycopg.connect(self.dsn, autocommit=True, connect_timeout=2, application_name=self.application_name)
        connection.execute(f"LISTEN {self.channel}")
        self.connection = connection

    def _drop(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except Exception:  # already broken; nothing more to release
                pass
        self.connection = None

    def wait(self, timeout: float, stop: threading.Event) -> None:
        if self.connection is None:
            try:
                self._connect()
                log.info("outbox LISTEN connection re-established")
                return  # commits made while it was down are in the outbox: look now
            except Exception:
                stop.wait(timeout)
                return
        try:
            for _ in self.connection.notifies(timeout=timeout, stop_after=1):
                pass
        except Exception as error:  # the database went away: poll, and LISTEN again on the next wait
            log.warning("outbox LISTEN connection lost (%r), polling until it is back", error)
            self._drop()
            stop.wait(timeout)

    def close(self) -> None:
        self._drop()


def waiter_for(engine: Engine, service: str, channel: str | None = None) -> _PostgresWaiter | _LocalWaiter:
    """What a loop waits on between looks at its table: NOTIFYs on `channel` (the service's outbox
    channel by default) on PostgreSQL, else this process's own commits (`local_wakeup`)."""
    if on_postgresql(engine):
        return _PostgresWaiter(engine, service, channel)
    return _LocalWaiter(channel or service)
