"""The event bus on PostgreSQL and RabbitMQ: events/s for a backlog through the relay alone (the
consumer stopped), the consumer alone, and both at once, end to end, with the CPU each part spends
per event; then the time from a committed change to the consumer's committed effect (p50/p99 over
1,000 events, one transaction each). The relay and the consumer run as their own processes, as in
production.

    .venv/bin/python bench/events.py [--events 1000] [--backlog 20000] [--rate 200] [--short]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pika  # noqa: E402
from _platform import arguments, cpu_seconds, figures, percentile, processes_named  # noqa: E402
from marshmallow import fields  # noqa: E402
from sqlalchemy import String, func, insert, select, text  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker  # noqa: E402

from mpdp_common.config import Settings  # noqa: E402
from mpdp_common.contracts import Payload, declare  # noqa: E402
from mpdp_common.db import drop_database, ensure_database, make_engine, session_scope, utcnow  # noqa: E402
from mpdp_common.events import Event, EventSpec  # noqa: E402
from mpdp_common.events.brokers import RabbitMQBroker, Subscription  # noqa: E402
from mpdp_common.events.consumer import Consumer  # noqa: E402
from mpdp_common.events.relay import Relay  # noqa: E402

SERVER = os.environ.get("MPDP_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
BROKER = os.environ.get("MPDP_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


class Base(DeclarativeBase):
    pass


class Effect(Base):
    __tablename__ = "effects"
    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)


@declare("benchsource.thing.happened")
class ThingHappened(Payload):
    n = fields.Integer()


producer = EventSpec("benchsource", Base.metadata)
consumer_spec = EventSpec("benchsink", Base.metadata)


@consumer_spec.handles("benchsource.thing.happened")
def record(session, event: Event) -> None:
    session.add(Effect(event_id=event.id))


def _broker() -> RabbitMQBroker:
    return RabbitMQBroker(BROKER, max_attempts=3, retry_delay_ms=1000, prefetch=Settings.event_prefetch)


def run_relay(database: str, prefix: str, stop) -> None:
    Relay(
        producer,
        make_engine(database),
        _broker(),
        exchange=f"{prefix}.benchsource",
        batch_size=Settings.outbox_batch_size,
        poll_seconds=1.0,
    ).run(stop)


class TimedConsumer(Consumer):
    """Notes when each effect has committed."""

    def __init__(self, *args, done):
        super().__init__(*args)
        self.done = done

    def deliver_batch(self, events: list[Event]) -> list[Exception | None]:
        errors = super().deliver_batch(events)
        now = time.time()
        # One note per batch: a note per event would cost the consumer more than its handler.
        self.done.put([(event.id, now) for event, error in zip(events, errors, strict=True) if error is None])
        return errors


def run_consumer(database: str, prefix: str, stop, done) -> None:
    done.cancel_join_thread()  # exit without waiting for the main process to read every note
    TimedConsumer(consumer_spec, make_engine(database), _broker(), subscription_of(prefix), Settings(), done=done).run(stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--backlog", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=200.0, help="changes per second in the latency run")
    args = arguments(parser, events=100, backlog=1000)

    prefix = f"mpdp_bench{secrets.token_hex(3)}"
    database = f"{SERVER}/{prefix}"
    ensure_database(database)
    engine = make_engine(database)
    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine)
    outbox = producer.outbox
    _broker().declare(subscription_of(prefix))  # the queue keeps what the relay sends before the consumer runs
    context = multiprocessing.get_context("spawn")
    stop, done = context.Event(), context.Queue()
    relay = context.Process(target=run_relay, args=(database, prefix, stop))
    consumer = context.Process(target=run_consumer, args=(database, prefix, stop, done))
    committed: dict[str, float] = {}
    finished: dict[str, float] = {}

    def collect(expected: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(finished) < expected and time.monotonic() < deadline:
            try:
                finished.update(done.get(timeout=1))
            except Exception:
                pass

    def count(query) -> int:
        with session_scope(sessions) as session:
            return session.scalar(query)

    unsent = select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
    effects = select(func.count()).select_from(Effect)

    def until(done_when, timeout: float = 300) -> float:
        started = time.monotonic()
        while not done_when() and time.monotonic() - started < timeout:
            time.sleep(0.05)
        return time.monotonic() - started

    try:
        relay.start()
        # Warm up: both processes connected and their first transactions behind them.
        for _ in range(20):
            with session_scope(sessions) as session:
                producer.publish(session, "benchsource.thing.happened", {"n": 0})
        until(lambda: count(unsent) == 0)
        consumer.start()
        collect(20, 60)
        finished.clear()
        parts = {
            "relay": [relay.pid],
            "consumer": [consumer.pid],
            "PostgreSQL": server_processes(sessions),
            "RabbitMQ": processes_named("beam.smp"),
        }

        print(f"backlog of {args.backlog} events each way, machine load average {os.getloadavg()[0]:.1f}")
        # The relay alone: the consumer stopped at the queue, as when it is down or behind.
        consumer_paused(parts["consumer"], True)
        write_backlog(sessions, args.backlog)
        relay_alone = args.backlog / until(lambda: count(unsent) == 0)
        print(f"  relay alone: {relay_alone:,.0f} events/s published with confirmation")
        consumer_paused(parts["consumer"], False)
        consumer_alone = args.backlog / until(lambda: count(effects) >= 20 + args.backlog)
        print(f"  consumer alone: {consumer_alone:,.0f} events/s with committed effects")

        cpu_before = {name: cpu_seconds(pids) for name, pids in parts.items()}
        write_backlog(sessions, args.backlog)
        relay_seconds = until(lambda: count(unsent) == 0)
        total_seconds = relay_seconds + until(lambda: count(effects) >= 20 + 2 * args.backlog)
        spent = {name: (cpu_seconds(pids) - cpu_before[name]) / args.backlog * 1e6 for name, pids in parts.items()}
        print(
            f"  both at once: relay {args.backlog / relay_seconds:,.0f} events/s, end to end {args.backlog / total_seconds:,.0f} events/s"
        )
        shares = ", ".join(f"{name} {micros:.0f} µs" for name, micros in spent.items())
        print(f"  CPU per event: {shares} (the machine has {os.cpu_count()} cores)")

        collect(2 * args.backlog, 60)  # the backlogs' notes, out of the way
        finished.clear()
        collector = threading.Thread(target=collect, args=(args.events, 120))
        collector.start()
        gap = 1.0 / args.rate
        for _ in range(args.events):
            with session_scope(sessions) as session:
                event = producer.publish(session, "benchsource.thing.happened", {"n": 1})
            committed[event.id] = time.time()
            time.sleep(gap)
        collector.join()
        latencies = [finished[key] - committed[key] for key in committed if key in finished]
        print(f"commit -> committed effect, {len(latencies)} of {args.events} events, one transaction each, {args.rate:.0f}/s offered")
        p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
        print(f"  p50 {p50:.1f} ms   p99 {p99:.1f} ms   max {max(latencies) * 1000:.1f} ms")
        figures(
            "events",
            backlog=args.backlog,
            relay_alone_events_per_s=relay_alone,
            consumer_alone_events_per_s=consumer_alone,
            both_relay_events_per_s=args.backlog / relay_seconds,
            both_end_to_end_events_per_s=args.backlog / total_seconds,
            **{f"{name.lower()}_cpu_us_per_event": micros for name, micros in spent.items()},
            latency_events_sent=args.events,
            latency_events_done=len(latencies),
            latency_p50_ms=p50,
            latency_p99_ms=p99,
            latency_max_ms=max(latencies) * 1000,
        )
    finally:
        stop.set()
        for process in (relay, consumer):
            if process.pid is None:
                continue
            consumer_paused([process.pid], False)
            process.join(10)
            if process.is_alive():
                process.terminate()
        engine.dispose()
        drop_database(database)
        connection = pika.BlockingConnection(pika.URLParameters(BROKER))
        channel = connection.channel()
        for queue in (f"{prefix}.benchsink", f"{prefix}.benchsink.retry", f"{prefix}.benchsink.dead"):
            channel.queue_delete(queue)
        channel.exchange_delete(f"{prefix}.benchsource")
        connection.close()


def subscription_of(prefix: str) -> Subscription:
    return Subscription(queue=f"{prefix}.benchsink", bindings={f"{prefix}.benchsource": ["benchsource.thing.happened"]})


def write_backlog(sessions, size: int) -> None:
    """`size` events written in one transaction, relayed once it commits."""
    with session_scope(sessions) as session:
        rows = []
        for _ in range(size):
            item = Event(type="benchsource.thing.happened", payload={"n": 2}, producer="benchsource")
            rows.append({"event_id": item.id, "type": item.type, "envelope": item.to_json(), "created_at": utcnow()})
        session.execute(insert(producer.outbox), rows)
        session.execute(select(func.pg_notify("mpdp_outbox_benchsource", "")))


def server_processes(sessions) -> list[int]:
    """The relay's and the consumer's PostgreSQL connections and the server's writers, not other work."""
    with session_scope(sessions) as session:
        query = (
            "SELECT pid FROM pg_stat_activity WHERE (datname = current_database() AND pid <> pg_backend_pid())"
            " OR backend_type IN ('walwriter', 'checkpointer', 'background writer')"
        )
        return list(session.scalars(text(query)))


def consumer_paused(pids: list[int], paused: bool) -> None:
    for pid in pids:
        os.kill(pid, signal.SIGSTOP if paused else signal.SIGCONT)


if __name__ == "__main__":
    main()
