"""The consumer: runs a service's handlers, exactly once in effect.

The inbox row `(consumer, event id)` is written in the same transaction as the handler's
effect; the broker message is acked only after that commit. A redelivered event finds its
inbox row and is acked without running the handler again.
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

    def deliver(self, event: Event) -> None:
        handler = self.spec.handlers.get(event.type)
        if handler is None:
            log.info("no handler for %s, skipped", event.type)
            return
        inbox = self.spec.inbox
        token = request_id.set(event.correlation_id or event.id)
        try:
            with session_scope(self.sessions) as session:
                if self._seen(session, event):
                    log.info("duplicate %s %s skipped", event.type, event.id)
                    return
                session.execute(
                    insert(inbox).values(
                        consumer=self.spec.service, event_id=event.id, type=event.type, processed_at=utcnow()
                    )
                )
                handler(session, event)
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
            session.execute(
                select(inbox.c.event_id).where(inbox.c.consumer == self.spec.service, inbox.c.event_id == event.id)
            ).first()
        )

    def run(self, stop: threading.Event) -> None:
        if not self.subscription.bindings:
            log.info("%s handles no events; consumer idle", self.spec.service)
            stop.wait()
            return
        self.broker.consume(self.subscription, self.deliver, stop)
