"""The consumer: runs a service's handlers, exactly once in effect.

The inbox row `(consumer, event id)` is written in the same transaction as the handler's
effect; the broker message is acked only after that commit. A redelivered event finds its
inbox row and is acked without running the handler again.

The broker hands over whatever has arrived, up to the prefetch count, as one batch, handled in
one transaction: a busy queue costs one commit per batch rather than per event. When a handler
fails, the batch is rolled back and its events are handled one at a time, so that only the
failing event goes to the retry queue.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings
from ..db import session_scope, utcnow
from ..logs import request_id
from . import Event, EventSpec
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
        except IntegrityError as error:
            # Another delivery of the same event may have committed first.
            with session_scope(self.sessions) as session:
                if not self._seen(session, [event]):
                    return error
            log.info("duplicate %s %s skipped", event.type, event.id)
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
        """Run the handlers of `events` and record them in the inbox, in one transaction; an event
        already in the inbox, or without a handler here, is skipped."""
        with session_scope(self.sessions) as session:
            seen = self._seen(session, events)
            fresh = []
            for event in events:
                handler = self.spec.handler_for(event)
                if handler is None:
                    log.info("no handler for %s v%d, skipped", event.type, event.version)
                    continue
                if event.id in seen:
                    log.info("duplicate %s %s skipped", event.type, event.id)
                    continue
                seen.add(event.id)
                fresh.append({"consumer": self.spec.service, "event_id": event.id, "type": event.type, "processed_at": utcnow()})
                token = request_id.set(event.correlation_id or event.id)
                try:
                    handler(session, self.spec.read(event))
                finally:
                    request_id.reset(token)
            if fresh:
                session.execute(insert(self.spec.inbox), fresh)

    def _seen(self, session: Session, events: list[Event]) -> set[str]:
        inbox = self.spec.inbox
        ids = [event.id for event in events]
        return set(session.scalars(select(inbox.c.event_id).where(inbox.c.consumer == self.spec.service, inbox.c.event_id.in_(ids))))

    def run(self, stop: threading.Event) -> None:
        if not self.subscription.bindings:
            log.info("%s handles no events; consumer idle", self.spec.service)
            stop.wait()
            return
        self.broker.consume(self.subscription, self.deliver_batch, stop)
