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

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from ..db import session_scope, utcnow
from ..logs import request_id
from . import Event, EventSpec
from .brokers import Broker, Subscription

log = logging.getLogger(__name__)


class Consumer:
    def __init__(self, spec: EventSpec, engine: Engine, broker: Broker, subscription: Subscription):
        self.spec = spec
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.broker = broker
        self.subscription = subscription

    def deliver_batch(self, events: list[Event]) -> list[Exception | None]:
        """Handle the events; for each, None when its effect is committed, else the error."""
        if len(events) == 1:
            return [self._deliver_alone(events[0])]
        inbox = self.spec.inbox
        try:
            with session_scope(self.sessions) as session:
                seen = set(
                    session.scalars(
                        select(inbox.c.event_id).where(
                            inbox.c.consumer == self.spec.service, inbox.c.event_id.in_([event.id for event in events])
                        )
                    )
                )
                fresh = []
                for event in events:
                    handler = self.spec.handlers.get(event.type)
                    if handler is None or event.id in seen:
                        continue
                    seen.add(event.id)
                    fresh.append({"consumer": self.spec.service, "event_id": event.id, "type": event.type, "processed_at": utcnow()})
                    token = request_id.set(event.correlation_id or event.id)
                    try:
                        handler(session, event)
                    finally:
                        request_id.reset(token)
                if fresh:
                    session.execute(insert(inbox), fresh)
        except Exception as error:
            # Which event failed is found by handling them one at a time; the others still commit.
            log.info("batch of %d events failed (%r); handling them one by one", len(events), error)
            return [self._deliver_alone(event) for event in events]
        return [None] * len(events)

    def _deliver_alone(self, event: Event) -> Exception | None:
        try:
            self.deliver(event)
            return None
        except Exception as error:
            return error

    def _apply(self, session, event: Event) -> None:
        handler = self.spec.handlers.get(event.type)
        if handler is None:
            log.info("no handler for %s, skipped", event.type)
            return
        if self._seen(session, event):
            log.info("duplicate %s %s skipped", event.type, event.id)
            return
        session.execute(
            insert(self.spec.inbox).values(consumer=self.spec.service, event_id=event.id, type=event.type, processed_at=utcnow())
        )
        handler(session, event)

    def deliver(self, event: Event) -> None:
        token = request_id.set(event.correlation_id or event.id)
        try:
            with session_scope(self.sessions) as session:
                self._apply(session, event)
        except IntegrityError:
            # Another delivery of the same event committed first.
            with session_scope(self.sessions) as session:
                if not self._seen(session, event):
                    raise
            log.info("duplicate %s %s skipped", event.type, event.id)
        finally:
            request_id.reset(token)

    def _seen(self, session, event: Event) -> bool:
        inbox = self.spec.inbox
        return bool(
            session.execute(select(inbox.c.event_id).where(inbox.c.consumer == self.spec.service, inbox.c.event_id == event.id)).first()
        )

    def run(self, stop: threading.Event) -> None:
        if not self.subscription.bindings:
            log.info("%s handles no events; consumer idle", self.spec.service)
            stop.wait()
            return
        self.broker.consume(self.subscription, self.deliver_batch, stop)
