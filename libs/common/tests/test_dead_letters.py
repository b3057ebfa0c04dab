"""Dead letters on the real RabbitMQ: parked with the error that parked them, listed without being
taken, and replayed once their cause is fixed."""

from __future__ import annotations

import os
import secrets
import threading
import time

import pika
import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from mpdp_common.config import Settings
from mpdp_common.contracts import Payload, declare
from mpdp_common.db import make_engine, session_scope
from mpdp_common.events import Event, EventSpec
from mpdp_common.events.brokers import BrokerUnavailable, Outgoing, RabbitMQBroker, Subscription
from mpdp_common.events.consumer import Consumer

BROKER = os.environ.get("MPDP_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


class Base(DeclarativeBase):
    pass


class Effect(Base):
    __tablename__ = "effects"
    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)


@declare("deadsource.thing.happened")
class ThingHappened(Payload):
    pass


sink = EventSpec("deadsink", Base.metadata)
#: While set, the handler fails, as it would while a bug or a missing fact stands in its way.
cause = threading.Event()


@sink.handles("deadsource.thing.happened")
def record(session, event: Event) -> None:
    if cause.is_set():
        raise RuntimeError("the cause is not fixed yet")
    session.add(Effect(event_id=event.id))


def _broker() -> RabbitMQBroker:
    return RabbitMQBroker(BROKER, max_attempts=2, retry_delay_ms=50, prefetch=10)


def _broker_answers() -> bool:
    try:
        _broker().ping()
        return True
    except BrokerUnavailable:
        return False


pytestmark = pytest.mark.skipif(not _broker_answers(), reason="needs the local RabbitMQ")


def _eventually(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture
def consumer(tmp_path):
    prefix = f"mpdp_dl{secrets.token_hex(3)}"
    subscription = Subscription(queue=f"{prefix}.deadsink", bindings={f"{prefix}.deadsource": ["deadsource.thing.happened"]})
    engine = make_engine(f"sqlite:///{tmp_path}/sink.db")
    Base.metadata.create_all(engine)
    broker = _broker()
    broker.declare(subscription)
    stop = threading.Event()
    thread = threading.Thread(target=Consumer(sink, engine, broker, subscription, Settings()).run, args=(stop,), daemon=True)
    thread.start()
    yield prefix, subscription, sessionmaker(engine)
    stop.set()
    thread.join(10)
    cause.clear()
    connection = pika.BlockingConnection(pika.URLParameters(BROKER))
    channel = connection.channel()
    for queue in (subscription.queue, subscription.retry_queue, subscription.dead_queue):
        channel.queue_delete(queue)
    channel.exchange_delete(f"{prefix}.deadsource")
    connection.close()


def test_a_dead_letter_is_listed_with_its_error_and_replayed_once_the_cause_is_fixed(consumer):
    prefix, subscription, sessions = consumer
    cause.set()
    event = Event(type="deadsource.thing.happened", payload={}, producer="deadsource")
    _broker().publish_batch(f"{prefix}.deadsource", [Outgoing(event.id, event.type, event.to_json().encode())])

    operator = _broker()
    _eventually(lambda: len(operator.dead_letters(subscription)) == 1)
    (parked,) = operator.dead_letters(subscription)  # looking does not take it away
    assert parked.event_id == event.id and parked.type == event.type
    assert parked.attempts == 2 and "the cause is not fixed yet" in parked.error

    cause.clear()
    (replayed,) = operator.dead_letters(subscription, replay=True)
    assert replayed.event_id == event.id

    def effect_committed() -> bool:
        with session_scope(sessions) as session:
            return session.scalar(select(Effect.event_id)) == event.id

    _eventually(effect_committed)
    assert operator.dead_letters(subscription) == []
