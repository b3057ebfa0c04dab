"""The consumer: runs a service's handlers, exactly once in effect.

The inbox row `(consumer, event id)` is claimed (inserted unless it is there) in the same
transaction as the handler's effect, before the handler runs; the broker message is acked only
after that commit. A redelivered event finds its inbox row, or waits on it while the first
delivery is still under way, and is acked without running the handler again.

While a handler runs, the events it publishes carry the handled event's correlation id, actor
and trace context: what follows from a change is the doing of whoever made the change.

The broker hands over whatever has arrived, up to the prefetch count, as one batch, handled in
one transaction: a busy queue costs one commit per batch rather than per event. When a handler
fails, the batch is rolled back and its events are handled one at a time, so that only the
failing event goes to the retry queue.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from sqlalchemy import Engine, String, bindparam, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .. import tracing
from ..config import Settings
from ..db import dialect_insert, on_postgresql, session_scope, utcnow
from ..logs import request_id
from ..metrics import BATCH_DURATION, EVENT_LAG, HANDLED
from . import Event, EventSpec
from .actors import acting
from .brokers import Broker, DependencyUnavailable, Subscription

log = logging.getLogger(__name__)


class Consumer:
    def __init__(self, spec: EventSpec, engine: Engine, broker: Broker, subscription: Subscription, settings: Settings):
        self.spec = spec
        # A handler reaches the settings through its session (events.handler_settings).
        self.sessions = sessionmaker(engine, expire_on_commit=False, info={"settings": settings})
        self.broker = broker
        self.subscription = subscription

    def deliver_batch(self, events: list[Event]) -> list[Exception | None]:
        """Handle the events; for each, None when its effect is committed, else the error.
        Raises DependencyUnavailable when the database is down: then no event is to blame."""
        if len(events) > 1:
            try:
                self._handle(events)
                return [None] * len(events)
            except Exception as error:
                self._unless_database_down(error)
                # Which event failed is found by handling them one at a time; the others still commit.
                log.info("batch of %d events failed (%r); handling them one by one", len(events), error)
        return [self.deliver(event) for event in events]

    def deliver(self, event: Event) -> Exception | None:
        """Handle one event: None when its effect is committed (or was already), else the error."""
        try:
            self._handle([event])
        except Exception as error:
            self._unless_database_down(error)
            return error
        return None

    def _unless_database_down(self, error: Exception) -> None:
        """A database error is the event's fault only if the database still answers."""
        if not isinstance(error, OperationalError | InterfaceError):
            return
        try:
            with self.sessions() as session:
                session.execute(text("SELECT 1"))
        except Exception:
            raise DependencyUnavailable(f"{self.spec.service} database unavailable ({error.__class__.__name__})") from error

    def _handle(self, events: list[Event]) -> None:
        """Record `events` in the inbox and run their handlers, in one transaction; an event
        already in the inbox, or without a handler here, is skipped."""
        handled = []
        for event in events:
            handler = self.spec.handler_for(event)
            if handler is None:
                log.info("no handler for %s v%d, skipped", event.type, event.version)
            else:
                handled.append((event, handler))
        if not handled:
            return
        started = time.perf_counter()
        with session_scope(self.sessions) as session:
            fresh = self._claim(session, [event for event, _ in handled])
            for event, handler in handled:
                if event.id not in fresh:
                    log.info("duplicate %s %s skipped", event.type, event.id)
                    continue
                fresh.discard(event.id)  # the same event twice in one batch runs once
                # What the handler publishes carries the handled event's correlation, actor and trace.
                token = request_id.set(event.correlation_id or event.id)
                attributes = {"messaging.message.id": event.id, "mpdp.event.type": event.type, "mpdp.consumer": self.spec.service}
                try:
                    with tracing.span(f"consume {event.type}", "consumer", event.traceparent, **attributes) as traceparent:
                        with acting(event.actor, traceparent):
                            handler(session, self.spec.read(event))
                finally:
                    request_id.reset(token)
        self._count([event for event, _ in handled], time.perf_counter() - started)

    def _count(self, events: list[Event], elapsed: float) -> None:
        """The batch in the consumer's metrics, once committed: its time, each event's lag and type."""
        service, now = self.spec.service, time.time()
        BATCH_DURATION.labels(service).observe(elapsed)
        for event in events:
            HANDLED.labels(service, event.type).inc()
            try:
                committed = datetime.fromisoformat(event.occurred_at.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
            EVENT_LAG.labels(service).observe(max(0.0, now - committed))

    def _claim(self, session: Session, events: list[Event]) -> set[str]:
        """Insert the inbox rows of `events`, skipping those already there, and answer the ids
        that are new. A concurrent delivery of the same event waits on the row until this
        transaction ends, then finds it taken."""
        now, inbox = utcnow(), self.spec.inbox
        if on_postgresql(session):
            # Two array parameters instead of four per event: far less for the driver to adapt.
            arrived = (
                func.unnest(
                    bindparam("ids", [event.id for event in events], type_=ARRAY(String)),
                    bindparam("types", [event.type for event in events], type_=ARRAY(String)),
                )
                .table_valued("event_id", "type")
                .render_derived(name="arrived")
            )
            consumer, processed_at = literal(self.spec.service, String), literal(now, inbox.c.processed_at.type)
            columns = select(consumer, arrived.c.event_id, arrived.c.type, processed_at)
            inserted = dialect_insert(session, inbox).from_select(["consumer", "event_id", "type", "processed_at"], columns)
            return set(session.scalars(inserted.on_conflict_do_nothing().returning(inbox.c.event_id)))
        rows = [{"consumer": self.spec.service, "event_id": event.id, "type": event.type, "processed_at": now} for event in events]
        return set(session.scalars(dialect_insert(session, inbox).on_conflict_do_nothing().returning(inbox.c.event_id), rows))

    def run(self, stop: threading.Event) -> None:
        if not self.subscription.bindings:
            log.info("%s handles no events; consumer idle", self.spec.service)
            stop.wait()
            return
        self.broker.consume(self.subscription, self.deliver_batch, stop)
