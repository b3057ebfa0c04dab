"""The event bus on a real PostgreSQL that goes away: the relay is woken by NOTIFY and listens
again after its connection dies; the consumer keeps events waiting, uncounted, while its database
is down, instead of spending their attempts and parking them."""

from __future__ import annotations

import secrets
import threading
import time

import pytest
from marshmallow import fields
from sqlalchemy import String, create_engine, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from mpdp_common.config import Settings
from mpdp_common.contracts import Payload, declare
from mpdp_common.db import drop_database, ensure_database, make_engine, session_scope
from mpdp_common.events import Event, EventSpec
from mpdp_common.events.brokers import MemoryBroker, Outgoing, Subscription
from mpdp_common.events.consumer import Consumer
from mpdp_common.events.relay import Relay
from mpdp_common.testing import TEST_DATABASE_SERVER, postgres_answers

SERVER = TEST_DATABASE_SERVER
#: Long enough that an event arriving sooner can only have been woken by NOTIFY.
POLL_SECONDS = 3.0
#: What a commit woken by NOTIFY takes at most, with room for a busy machine; well under a poll.
WOKEN_WITHIN = 1.5


class Base(DeclarativeBase):
    pass


@declare("relaypg.thing.happened")
class ThingHappened(Payload):
    n = fields.Integer()


class Effect(Base):
    __tablename__ = "effects"
    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)


spec = EventSpec("relaypg", Base.metadata)
sink = EventSpec("relaypgsink", Base.metadata)


@sink.handles("relaypg.thing.happened")
def record(session, event: Event) -> None:
    session.add(Effect(event_id=event.id))


pytestmark = pytest.mark.skipif(not postgres_answers(), reason="needs the local PostgreSQL")


@pytest.fixture
def relay_on_postgres():
    url = f"{SERVER}/mpdp_relay_{secrets.token_hex(4)}"
    ensure_database(url)
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    broker = MemoryBroker(max_attempts=3, retry_delay_ms=20)
    subscription = Subscription(queue="t.sink", bindings={"t.relaypg": ["relaypg.thing.happened"]})
    broker.declare(subscription)
    relay = Relay(spec, engine, broker, exchange="t.relaypg", batch_size=50, poll_seconds=POLL_SECONDS)
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    yield url, sessionmaker(engine, expire_on_commit=False), broker, subscription
    stop.set()
    thread.join(POLL_SECONDS + 5)
    engine.dispose()
    drop_database(url)


def _published(broker: MemoryBroker, subscription: Subscription) -> int:
    return broker._queues[subscription.queue].qsize()


def _commit_and_time(sessions, broker, subscription) -> float:
    before = _published(broker, subscription)
    started = time.monotonic()
    with session_scope(sessions) as session:
        spec.publish(session, "relaypg.thing.happened", {"n": before})
    while _published(broker, subscription) == before:
        if time.monotonic() - started > POLL_SECONDS * 2:
            pytest.fail("the event never left the outbox")
        time.sleep(0.01)
    return time.monotonic() - started


def _terminate_listener(url: str) -> int:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return conn.execute(
                text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'mpdp-relay-relaypg'")
            ).scalar()
    finally:
        admin.dispose()


def test_a_commit_wakes_the_relay_at_once(relay_on_postgres):
    url, sessions, broker, subscription = relay_on_postgres
    time.sleep(0.3)
    assert _commit_and_time(sessions, broker, subscription) < WOKEN_WITHIN


def test_the_relay_listens_again_after_its_connection_is_killed(relay_on_postgres):
    url, sessions, broker, subscription = relay_on_postgres
    time.sleep(0.3)
    assert _terminate_listener(url) == 1
    # The first commit after the loss may wait for one poll while the relay notices and reconnects.
    _commit_and_time(sessions, broker, subscription)
    time.sleep(0.3)
    latencies = [_commit_and_time(sessions, broker, subscription) for _ in range(3)]
    assert max(latencies) < WOKEN_WITHIN, latencies


def _connections(url: str, allowed: bool) -> None:
    """Open or close the database to new connections, cutting the ones it has: for its users,
    the database is down, while the server goes on serving everyone else."""
    name = url.rsplit("/", 1)[1]
    admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if allowed else "false"}'))
            if not allowed:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name})
    finally:
        admin.dispose()


def test_events_wait_uncounted_while_the_consumers_database_is_down():
    url = f"{SERVER}/mpdp_consumer_{secrets.token_hex(4)}"
    ensure_database(url)
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    broker = MemoryBroker(max_attempts=2, retry_delay_ms=20)
    subscription = Subscription(queue="t.down", bindings={"t.relaypg": ["relaypg.thing.happened"]})
    broker.declare(subscription)
    stop = threading.Event()
    thread = threading.Thread(target=Consumer(sink, engine, broker, subscription, Settings()).run, args=(stop,), daemon=True)
    thread.start()
    try:
        _connections(url, allowed=False)
        event = Event(type="relaypg.thing.happened", payload={"n": 1}, producer="relaypg")
        broker.publish_batch("t.relaypg", [Outgoing(event.id, event.type, event.to_json().encode())])
        time.sleep(2)  # long enough for every attempt to have been spent, were they counted
        assert broker.dead[subscription.queue] == []
        _connections(url, allowed=True)
        deadline = time.monotonic() + 10
        sessions = sessionmaker(engine)
        while True:
            with session_scope(sessions) as session:
                if session.scalar(select(Effect.event_id)) == event.id:
                    break
            assert time.monotonic() < deadline, "the event never had its effect"
            time.sleep(0.1)
        assert broker.dead[subscription.queue] == []
    finally:
        stop.set()
        thread.join(10)
        _connections(url, allowed=True)
        engine.dispose()
        drop_database(url)


def test_the_same_event_delivered_twice_at_once_or_twice_in_a_batch_has_one_effect():
    url = f"{SERVER}/mpdp_inbox_{secrets.token_hex(4)}"
    ensure_database(url)
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    try:
        broker = MemoryBroker(max_attempts=3, retry_delay_ms=20)
        consumers = [Consumer(sink, engine, broker, Subscription(queue="t.sink", bindings={}), Settings()) for _ in range(2)]
        events = [Event(type="relaypg.thing.happened", payload={"n": n}, producer="relaypg") for n in range(50)]
        outcomes: list[list] = []
        # Two consumers hand the same events over at the same moment, as after a redelivery.
        threads = [threading.Thread(target=lambda c=consumer: outcomes.append(c.deliver_batch(events))) for consumer in consumers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert outcomes == [[None] * 50, [None] * 50]
        assert consumers[0].deliver_batch([events[0], events[0], *events[1:3]]) == [None] * 4
        with session_scope(sessionmaker(engine)) as session:
            assert sorted(session.scalars(select(Effect.event_id))) == sorted(event.id for event in events)
            inbox = sink.inbox
            assert session.scalar(select(text("count(*)")).select_from(inbox)) == 50
    finally:
        engine.dispose()
        drop_database(url)
