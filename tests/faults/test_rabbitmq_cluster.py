"""Quorum queues on a three-node RabbitMQ cluster: the node that leads a service's queue is
killed (-9) while relays and consumers move events through it; no event may be lost and none
may have its effect twice.

The cluster is the test's own: three nodes started here (own ports, data, logs, Erlang cookie
and port mapper, bound to 127.0.0.1, no plugins), stopped and deleted afterwards. The relays and
consumers are the platform's own (`Relay`, `Consumer`, `RabbitMQBroker`, as `mpdpctl relay` and
`mpdpctl consume` run them), with MPDP_QUEUE_TYPE=quorum and the cluster's three URLs, on a
throwaway database of the local PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from marshmallow import fields
from sqlalchemy import Integer, String, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from mpdp_common.config import Settings
from mpdp_common.contracts import Payload, declare
from mpdp_common.db import drop_database, ensure_database, make_engine, session_scope
from mpdp_common.events import Event, EventSpec, brokers
from mpdp_common.events.brokers import BrokerUnavailable, broker_for, subscription_for
from mpdp_common.events.consumer import Consumer
from mpdp_common.events.relay import Relay
from mpdp_common.testing import TEST_DATABASE_SERVER, postgres_answers

from .conftest import _free_port, _wait_for_port

pytestmark = [pytest.mark.faults, pytest.mark.timeout(240)]

#: The server's own scripts: Debian's wrappers in /usr/sbin switch to the rabbitmq user and its
#: home, whose Erlang cookie is the local broker's.
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
NODES = 3
#: how long the load runs before the kill, and after it
BEFORE_KILL, AFTER_KILL = 8.0, 12.0
RELAYS, CONSUMERS = 2, 2


class Base(DeclarativeBase):
    pass


@declare("clustersource.thing.happened")
class ThingHappened(Payload):
    n = fields.Integer()


class Effect(Base):
    """One row per event handled; `applied` counts how many times its effect was committed."""

    __tablename__ = "cluster_effects"
    event_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    applied: Mapped[int] = mapped_column(Integer)


source = EventSpec("clustersource", Base.metadata)
sink = EventSpec("clustersink", Base.metadata)


class DuplicatesSkipped(logging.Handler):
    """Counts the deliveries the consumer skipped because its inbox had the event already."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("duplicate "):
            self.count += 1


@sink.handles("clustersource.thing.happened")
def apply_effect(session, event: Event) -> None:
    session.execute(
        text(
            "INSERT INTO cluster_effects (event_id, n, applied) VALUES (:id, :n, 1) "
            "ON CONFLICT (event_id) DO UPDATE SET applied = cluster_effects.applied + 1"
        ),
        {"id": event.id, "n": event.payload["n"]},
    )


class LocalCluster:
    """Three RabbitMQ nodes on this machine, of this test's own."""

    def __init__(self, base: Path):
        self.base = base
        self.home = base / "home"  # the Erlang cookie, for the nodes and rabbitmqctl alike
        self.epmd_port = _free_port()
        self.names = [f"mpdp-q{index}@localhost" for index in range(1, NODES + 1)]
        self.amqp_ports = {name: _free_port() for name in self.names}
        self.dist_ports = {name: _free_port() for name in self.names}
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def common_env(self) -> dict[str, str]:
        return {
            "PATH": os.environ["PATH"],
            "HOME": str(self.home),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "LANG": "C.UTF-8",
        }

    def urls(self) -> str:
        return ",".join(f"amqp://guest:guest@127.0.0.1:{self.amqp_ports[name]}/%2F" for name in self.names)

    def start(self) -> None:
        self.home.mkdir(parents=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16))
        cookie.chmod(0o400)
        plugins = self.base / "enabled_plugins"
        plugins.write_text("[].\n")  # no management plugin, nothing but the broker
        for name in self.names:
            node = self.base / name.split("@")[0]
            node.mkdir()
            (node / "rabbitmq.conf").write_text("cluster_partition_handling = pause_minority\n")
            env = self.common_env | {
                "RABBITMQ_NODENAME": name,
                "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
                "RABBITMQ_NODE_PORT": str(self.amqp_ports[name]),
                "RABBITMQ_DIST_PORT": str(self.dist_ports[name]),
                "RABBITMQ_MNESIA_BASE": str(node / "mnesia"),
                "RABBITMQ_LOG_BASE": str(node / "log"),
                "RABBITMQ_CONFIG_FILE": str(node / "rabbitmq"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(plugins),
                "RABBITMQ_PID_FILE": str(node / "pid"),
                # Erlang distribution on the loopback interface only.
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            }
            with open(node / "out", "wb") as out:
                self.processes[name] = subprocess.Popen(
                    [str(RABBITMQ_BIN / "rabbitmq-server")], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
        deadline = time.monotonic() + 90
        for name in self.names:
            # await_startup needs a node that has registered with the port mapper: wait for that first.
            while True:
                if self.processes[name].poll() is not None:
                    output = (self.base / name.split("@")[0] / "out").read_text(errors="replace")
                    raise RuntimeError(f"{name} exited with {self.processes[name].returncode}: {output[-2000:]}")
                try:
                    self.ctl(name, "await_startup", "--timeout", "60", timeout=70)
                    break
                except RuntimeError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            _wait_for_port(self.amqp_ports[name], timeout=30)
        first = self.names[0]
        for name in self.names[1:]:
            self.ctl(name, "stop_app")
            self.ctl(name, "join_cluster", first)
            self.ctl(name, "start_app")
        running = self.ctl(first, "eval", "length(rabbit_nodes:all_running()).")
        assert running.strip() == str(NODES), running

    def ctl(self, node: str, *args: str, timeout: float = 60) -> str:
        result = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-q", "-n", node, *args],
            env=self.common_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl -n {node} {' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout

    def leader(self, queue: str, ask: str) -> str:
        """The node that leads `queue`, as the node `ask` reports it."""
        for line in self.ctl(ask, "list_queues", "name", "leader", "--no-table-headers").splitlines():
            name, _, leader = line.partition("\t")
            if name == queue:
                return leader.strip()
        raise AssertionError(f"{queue} is not on the cluster")

    def queued(self, queue: str, ask: str) -> int:
        """How many messages `queue` holds, ready or delivered and not yet acked."""
        for line in self.ctl(ask, "list_queues", "name", "messages", "--no-table-headers").splitlines():
            name, _, messages = line.partition("\t")
            if name == queue:
                return int(messages)
        raise AssertionError(f"{queue} is not on the cluster")

    def kill(self, name: str) -> None:
        """SIGKILL to the node's Erlang VM (and what it started): no chance to hand anything over."""
        os.killpg(self.processes[name].pid, signal.SIGKILL)
        self.processes[name].wait(10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        # Their data is deleted next: a node that takes longer (the last of a cluster pauses as a
        # minority) is not waited for.
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        # The port mapper the first node started is detached from it: stopped by its own command.
        subprocess.run(["epmd", "-kill"], env=self.common_env, capture_output=True, timeout=10)


@pytest.fixture
def cluster() -> Iterator[LocalCluster]:
    if not (RABBITMQ_BIN / "rabbitmq-server").exists() or shutil.which("epmd") is None:
        pytest.skip(f"needs RabbitMQ's server scripts in {RABBITMQ_BIN} and epmd")
    if not postgres_answers():
        pytest.skip("needs the local PostgreSQL")
    base = Path(tempfile.mkdtemp(prefix="mpdp-rabbit-cluster-"))
    started = LocalCluster(base)
    try:
        started.start()
        yield started
    finally:
        started.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def database() -> Iterator[str]:
    url = f"{TEST_DATABASE_SERVER}/mpdp_cluster_{secrets.token_hex(4)}"
    ensure_database(url)
    try:
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def duplicates() -> Iterator[DuplicatesSkipped]:
    consumer_log = logging.getLogger("mpdp_common.events.consumer")
    counter, level = DuplicatesSkipped(), consumer_log.level
    consumer_log.addHandler(counter)
    consumer_log.setLevel(logging.INFO)
    try:
        yield counter
    finally:
        consumer_log.removeHandler(counter)
        consumer_log.setLevel(level)


def test_the_leader_of_a_quorum_queue_killed_under_load(cluster, database, duplicates, monkeypatch):
    began = time.monotonic()
    monkeypatch.setenv("MPDP_MODE", "real")
    monkeypatch.setenv("MPDP_AMQP_URL", cluster.urls())
    monkeypatch.setenv("MPDP_QUEUE_TYPE", "quorum")
    monkeypatch.setenv("MPDP_EVENT_PREFIX", f"mpdpq{secrets.token_hex(3)}")
    monkeypatch.setenv("MPDP_EVENT_RETRY_DELAY_MS", "200")
    # The worst case: every client connects to the first node, which leads the queue (declared
    # through it: a quorum queue's leader is placed on the declaring client's node), and moves to
    # the next node of the list when that one dies.
    monkeypatch.setattr(brokers.random, "randrange", lambda _stop: 0)
    settings = Settings.from_env("clustersink")
    engine = make_engine(database)
    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    subscription = subscription_for(settings, sink)
    broker_for(settings).declare(subscription)

    stop = threading.Event()
    source_settings = Settings.from_env("clustersource")
    workers = [
        threading.Thread(
            target=Relay(
                source, engine, broker_for(source_settings), exchange=source_settings.exchange, batch_size=100, poll_seconds=0.2
            ).run,
            args=(stop,),
            daemon=True,
        )
        for _ in range(RELAYS)
    ] + [
        threading.Thread(target=Consumer(sink, engine, broker_for(settings), subscription, settings).run, args=(stop,), daemon=True)
        for _ in range(CONSUMERS)
    ]
    for worker in workers:
        worker.start()

    sent: list[str] = []
    load_stop = threading.Event()

    def write_events() -> None:
        """Commits of 10 events each, every 20 ms: what a service's requests write to its outbox."""
        n = 0
        while not load_stop.is_set():
            with session_scope(sessions) as session:
                for _ in range(10):
                    sent.append(source.publish(session, "clustersource.thing.happened", {"n": n}).id)
                    n += 1
            time.sleep(0.02)

    writer = threading.Thread(target=write_events, daemon=True)
    try:
        writer.start()
        time.sleep(BEFORE_KILL)
        leader = cluster.leader(subscription.queue, ask=cluster.names[0])
        assert leader == cluster.names[0], f"{subscription.queue} is led by {leader}, not by the node it was declared on"
        survivor = next(name for name in cluster.names if name != leader)
        clients_cut = len(cluster.ctl(leader, "list_connections", "peer_port", "--no-table-headers").split())
        assert clients_cut >= RELAYS + CONSUMERS, f"only {clients_cut} clients on {leader}"
        applied_before = _applied(sessions)
        killed_at = time.monotonic()
        cluster.kill(leader)
        new_leader = leader
        while new_leader == leader and time.monotonic() - killed_at < 60:
            try:
                new_leader = cluster.leader(subscription.queue, ask=survivor)
            except RuntimeError:
                pass
            time.sleep(0.2)
        elected_after = time.monotonic() - killed_at
        assert new_leader != leader, f"no new leader for {subscription.queue} within 60 s"
        time.sleep(max(0.0, AFTER_KILL - elected_after))
    finally:
        load_stop.set()
        writer.join(10)

    expected = set(sent)
    deadline = time.monotonic() + 60
    while _applied(sessions) < len(expected) and time.monotonic() < deadline:
        time.sleep(0.5)
    drained_after = time.monotonic() - killed_at
    # What is still queued then came twice (a batch sent again when its confirms were lost with
    # the node): the consumers take it too, to show that it is skipped.
    while cluster.queued(subscription.queue, ask=survivor) and time.monotonic() < deadline + 20:
        time.sleep(0.5)
    stop.set()
    for worker in workers:
        worker.join(15)

    with session_scope(sessions) as session:
        effects = dict(session.execute(select(Effect.event_id, Effect.applied)).tuples().all())
        outbox_left = session.scalar(select(func.count()).select_from(source.outbox).where(source.outbox.c.published_at.is_(None)))
    try:
        dead = broker_for(settings).dead_letters(subscription)
    except BrokerUnavailable:
        dead = []
    engine.dispose()
    print(
        f"\nquorum cluster: {len(expected)} events sent, {len(effects)} effects, {sum(effects.values())} applications; "
        f"{duplicates.count} deliveries skipped as duplicates; {applied_before} effects before the kill of {leader} "
        f"({clients_cut} client connections cut); new leader {new_leader} after {elected_after:.1f} s; "
        f"every effect {drained_after:.1f} s after the kill; test {time.monotonic() - began:.0f} s"
    )
    assert outbox_left == 0, f"{outbox_left} events never left the outbox"
    lost = expected - effects.keys()
    assert not lost, f"{len(lost)} of {len(expected)} events lost, e.g. {sorted(lost)[:3]}"
    assert effects.keys() == expected
    twice = {event_id: applied for event_id, applied in effects.items() if applied != 1}
    assert not twice, f"{len(twice)} effects applied more than once: {list(twice.items())[:3]}"
    assert dead == [], f"{len(dead)} events parked as dead letters"
    assert applied_before > 0, "nothing went through before the kill"


def _applied(sessions: sessionmaker) -> int:
    with session_scope(sessions) as session:
        return session.scalar(select(func.count()).select_from(Effect)) or 0
