"""What every service's unit tests share: the service's app on a SQLite file with the in-process
broker, tokens signed by a key of the test's own, and events delivered through the consumer's
own path (contract, inbox, one transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from .events import Event, EventSpec, UnknownEventType
from .events.brokers import MemoryBroker, Subscription
from .events.consumer import Consumer


def deliver(spec: EventSpec, engine: Engine, event_type: str, payload: dict[str, Any], *, version: int = 1, **envelope: Any) -> Event:
    """Hand one event to `spec`'s handler as its consumer does; raise what the handler raised."""
    event = Event(type=event_type, version=version, payload=payload, producer=event_type.split(".", 1)[0], **envelope)
    if spec.handler_for(event) is None:
        raise UnknownEventType(f"{spec.service} has no handler for {event_type} v{version}")
    consumer = Consumer(spec, engine, MemoryBroker(max_attempts=1, retry_delay_ms=0), Subscription(queue=spec.service, bindings={}))
    error = consumer.deliver(event)
    if error is not None:
        raise error
    return event
