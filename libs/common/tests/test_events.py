"""The event bus end to end in one process: outbox -> relay -> in-process broker -> consumer."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from marshmallow import fields
from sqlalchemy import String, func, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from mpdp_common.config import Settings
from mpdp_common.contracts import ContractViolation, Payload, declare
from mpdp_common.db import make_engine, session_scope
from mpdp_common.events import DuplicateHandler, Event, EventSpec, UnknownEventType
from mpdp_common.events import relay as relay_module
from mpdp_common.events.brokers import MemoryBroker, Subscription
from mpdp_common.events.consumer import Consumer
from mpdp_common.events.relay import Relay


class Base(DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    text: Mapped[str] = mapped_column(String(100))


@declare("alpha.note.written")
class NoteWritten(Payload):
    id = fields.String()
    text = fields.String()
    explode = fields.Boolean(load_default=False)


producer = EventSpec("alpha", Base.metadata)

consumer_spec = EventSpec("beta", Base.metadata)
failures: list[str] = []


@consumer_spec.handles("alpha.note.written")
def copy_note(session, event: Event) -> None:
    if event.payload["explode"]:
        failures.append(event.id)
        raise RuntimeError("this handler cannot take it")
    session.add(Note(id=event.payload["id"] + "-copy", text=event.payload["text"]))


@declare("alpha.note.written", version=2)
class NoteWrittenV2(Payload):
    """A breaking change: `text` became `body`."""

    id = fields.String()
    body = fields.String()


@consumer_spec.handles("alpha.note.written", version=2)
def copy_note_v2(session, event: Event) -> None:
    session.add(Note(id=event.payload["id"] + "-v2", text=event.payload["body"]))


@pytest.fixture
def bus(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/bus.db")
    Base.metadata.create_all(engine)
    broker = MemoryBroker(max_attempts=3, retry_delay_ms=20)
    subscription = Subscription(queue="t.beta", bindings={"t.alpha": ["alpha.note.written"]})
    consumer = Consumer(consumer_spec, engine, broker, subscription, Settings())
    relay = Relay(producer, engine, broker, exchange="t.alpha", batch_size=50, poll_seconds=0.05)
    stop = threading.Event()
    threads = [threading.Thread(target=consumer.run, args=(stop,)), threading.Thread(target=relay.run, args=(stop,))]
    broker.declare(subscription)
    for thread in threads:
        thread.start()
    yield sessionmaker(engine, expire_on_commit=False), broker, consumer
    stop.set()
    for thread in threads:
        thread.join(5)
    failures.clear()


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def copies(sessions) -> int:
    with session_scope(sessions) as session:
        return session.scalar(select(func.count()).select_from(Note).where(Note.id.like("%-copy")))


def test_committed_change_reaches_the_consumer(bus):
    sessions, _, _ = bus
    with session_scope(sessions) as session:
        session.add(Note(id="n1", text="hello"))
        producer.publish(session, "alpha.note.written", {"id": "n1", "text": "hello"})
    assert wait_for(lambda: copies(sessions) == 1)
    with session_scope(sessions) as session:
        assert session.get(Note, "n1-copy").text == "hello"

    # The relay marks the row sent once the broker has it, which may be just after the consumer's commit.
    def unsent() -> int:
        with session_scope(sessions) as session:
            return session.scalar(select(func.count()).select_from(producer.outbox).where(producer.outbox.c.published_at.is_(None)))

    assert wait_for(lambda: unsent() == 0)


def test_rolled_back_change_publishes_nothing(bus):
    sessions, _, _ = bus
    with pytest.raises(RuntimeError):
        with session_scope(sessions) as session:
            producer.publish(session, "alpha.note.written", {"id": "n2", "text": "never"})
            raise RuntimeError("the change fails")
    time.sleep(0.3)
    assert copies(sessions) == 0


def test_a_duplicate_delivery_has_one_effect(bus):
    sessions, _, consumer = bus
    event = Event(type="alpha.note.written", payload={"id": "n3", "text": "once"}, producer="alpha")
    consumer.deliver(event)
    consumer.deliver(event)
    assert copies(sessions) == 1


def test_a_failing_handler_is_retried_then_parked_and_the_consumer_goes_on(bus):
    sessions, broker, _ = bus
    with session_scope(sessions) as session:
        bad = producer.publish(session, "alpha.note.written", {"id": "bad", "text": "x", "explode": True})
    assert wait_for(lambda: [item.id for item in broker.dead["t.beta"]] == [bad.id])
    assert failures == [bad.id] * 3
    with session_scope(sessions) as session:
        producer.publish(session, "alpha.note.written", {"id": "n4", "text": "after"})
    assert wait_for(lambda: copies(sessions) == 1)


def test_only_declared_types_can_be_published(bus):
    sessions, _, _ = bus
    with session_scope(sessions) as session, pytest.raises(UnknownEventType):
        producer.publish(session, "alpha.note.deleted", {})
    with session_scope(sessions) as session, pytest.raises(UnknownEventType):
        producer.publish(session, "beta.note.written", {"id": "n5", "text": "not alpha's"})


def test_envelope_round_trips_and_rejects_garbage():
    event = Event(type="alpha.note.written", payload={"a": 1}, producer="alpha", workspace_id="w1", correlation_id="r1")
    assert Event.from_json(event.to_json()) == event
    for garbage in (b"[]", b'{"type": "x"}', b"not json", b'{"id": "1", "type": "x", "producer": "p", "payload": {}, "version": "2"}'):
        with pytest.raises(ValueError):
            Event.from_json(garbage)


def test_a_batch_commits_its_good_events_and_returns_only_the_failure(bus):
    sessions, _, consumer = bus
    good = [Event(type="alpha.note.written", payload={"id": f"b{n}", "text": "ok"}, producer="alpha") for n in range(3)]
    bad = Event(type="alpha.note.written", payload={"id": "bad", "text": "x", "explode": True}, producer="alpha")
    errors = consumer.deliver_batch([good[0], bad, good[1], good[1], good[2]])
    assert [error is None for error in errors] == [True, False, True, True, True]
    assert isinstance(errors[1], RuntimeError)
    assert copies(sessions) == 3
    # Delivered again, the same events change nothing.
    assert consumer.deliver_batch(good) == [None, None, None]
    assert copies(sessions) == 3


def test_a_new_payload_version_is_published_beside_the_old_and_each_reaches_its_handler(bus):
    sessions, _, _ = bus
    with session_scope(sessions) as session:
        old = producer.publish(session, "alpha.note.written", {"id": "v", "text": "both"})
        new = producer.publish(session, "alpha.note.written", {"id": "v", "body": "both"}, version=2)
    assert (old.version, new.version) == (1, 2)
    with session_scope(sessions) as session:
        assert wait_for(lambda: session.get(Note, "v-copy") is not None and session.get(Note, "v-v2") is not None)
        session.expire_all()
        assert session.get(Note, "v-v2").text == "both"


def test_a_payload_off_its_contract_is_refused_when_published_and_when_consumed(bus):
    sessions, _, consumer = bus
    for wrong in ({"id": "x"}, {"id": "x", "text": 1}, {"id": "x", "text": "t", "surprise": True}):
        with session_scope(sessions) as session, pytest.raises(ContractViolation):
            producer.publish(session, "alpha.note.written", wrong)
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count()).select_from(producer.outbox)) == 0
    # Sent by something that skipped the check: the consumer refuses it, and will be asked again.
    forged = Event(type="alpha.note.written", payload={"id": "forged"}, producer="alpha")
    assert isinstance(consumer.deliver(forged), ContractViolation)
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count()).select_from(consumer_spec.inbox)) == 0
    # A field the consumer does not know is ignored: adding one is not a breaking change.
    assert consumer.deliver(Event(type="alpha.note.written", payload={"id": "n6", "text": "t", "added": 1}, producer="alpha")) is None
    assert copies(sessions) == 1


def test_handlers_are_keyed_on_type_and_version_and_registered_once():
    spec = EventSpec("gamma", Base.metadata)
    spec.handles("alpha.note.written")(copy_note)
    spec.handles("alpha.note.written", version=2)(copy_note_v2)
    with pytest.raises(DuplicateHandler):
        spec.handles("alpha.note.written")(copy_note_v2)
    with pytest.raises(UnknownEventType):
        spec.handles("alpha.note.written", version=3)
    with pytest.raises(UnknownEventType):
        spec.handles("alpha.note.erased")
    assert spec.consumed_producers == {"alpha": ["alpha.note.written"]}


def test_a_concern_that_many_events_feed_runs_after_each_ones_own_handler():
    spec = EventSpec("epsilon", Base.metadata)
    ran: list[str] = []

    def own(_session, event):
        ran.append(f"own {event.version}")

    def noted(_session, event):
        ran.append(f"noted {event.version}")

    spec.handles("alpha.note.written")(own)
    spec.also_handles(["alpha.note.written"], noted)
    spec.also_handles(["alpha.note.written"], noted, version=2)
    for version in (1, 2):
        event = Event(type="alpha.note.written", version=version, payload={}, producer="alpha")
        spec.handler_for(event)(None, event)
    assert ran == ["own 1", "noted 1", "noted 2"]
    assert "own, then" in spec.handlers[("alpha.note.written", 1)].__qualname__
    with pytest.raises(DuplicateHandler):
        spec.handles("alpha.note.written", version=2)(own)
    with pytest.raises(UnknownEventType):
        spec.also_handles(["alpha.note.erased"], noted)


@pytest.mark.parametrize("seconds_since_boot", [30.0, 10_000_000.0])
def test_sent_events_are_kept_three_days_and_unsent_ones_until_they_are_sent(tmp_path, monkeypatch, seconds_since_boot):
    # The monotonic clock counts from boot: a relay on a machine up for half a minute cleans up too.
    monkeypatch.setattr(relay_module.time, "monotonic", lambda: seconds_since_boot)
    engine = make_engine(f"sqlite:///{tmp_path}/outbox.db")
    Base.metadata.create_all(engine)
    outbox, now = producer.outbox, datetime.now(UTC)
    rows = [  # (event id, created, sent)
        ("old-sent", now - timedelta(days=5), now - timedelta(days=5)),
        ("old-unsent", now - timedelta(days=4), None),
        ("recent-sent", now - timedelta(days=1), now - timedelta(days=1)),
        ("new-unsent", now, None),
    ]
    with engine.begin() as connection:
        connection.execute(
            insert(outbox),
            [
                {"event_id": name, "type": "alpha.note.written", "envelope": "{}", "created_at": created, "published_at": sent}
                for name, created, sent in rows
            ],
        )
    Relay(
        producer, engine, MemoryBroker(max_attempts=3, retry_delay_ms=20), exchange="t.alpha", batch_size=50, poll_seconds=0.05
    )._cleanup_sent()
    with engine.connect() as connection:
        assert sorted(connection.scalars(select(outbox.c.event_id))) == ["new-unsent", "old-unsent", "recent-sent"]


def test_the_relay_cleans_up_at_its_start_and_then_every_ten_minutes(tmp_path, monkeypatch):
    clock = [5.0]
    monkeypatch.setattr(relay_module.time, "monotonic", lambda: clock[0])
    engine = make_engine(f"sqlite:///{tmp_path}/outbox.db")
    Base.metadata.create_all(engine)
    outbox, long_ago = producer.outbox, datetime.now(UTC) - timedelta(days=5)

    def add_old_sent_event(name: str) -> None:
        with engine.begin() as connection:
            connection.execute(
                insert(outbox),
                {"event_id": name, "type": "alpha.note.written", "envelope": "{}", "created_at": long_ago, "published_at": long_ago},
            )

    def kept() -> list[str]:
        with engine.connect() as connection:
            return sorted(connection.scalars(select(outbox.c.event_id)))

    relay = Relay(producer, engine, MemoryBroker(max_attempts=3, retry_delay_ms=20), exchange="t.alpha", batch_size=50, poll_seconds=0.05)
    add_old_sent_event("first")
    relay._cleanup_sent()
    assert kept() == []
    add_old_sent_event("second")
    clock[0] += relay_module.CLEANUP_INTERVAL_SECONDS - 1
    relay._cleanup_sent()
    assert kept() == ["second"]
    clock[0] += 1
    relay._cleanup_sent()
    assert kept() == []
