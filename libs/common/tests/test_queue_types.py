"""MPDP_QUEUE_TYPE: classic queues by default, or quorum queues for every service queue and its
retry and dead-letter queues; MPDP_AMQP_URL may name several nodes of a cluster."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from contextlib import closing
from typing import Any

import pika
import pytest

from mpdp_common.config import Settings
from mpdp_common.events.brokers import RabbitMQBroker, Subscription, broker_for

BROKER = os.environ.get("MPDP_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
SUBSCRIPTION = Subscription(queue="mpdp.identity", bindings={"mpdp.workspace": ["workspace.workspace.created"]})


class RecordingChannel:
    """What a channel is asked to declare."""

    def __init__(self) -> None:
        self.queues: dict[str, dict[str, Any]] = {}
        self.bindings: list[tuple[str, str, str]] = []

    def queue_declare(self, name: str, *, durable: bool, arguments: dict[str, Any] | None = None) -> None:
        assert durable, name  # quorum queues are durable only; classic ones are durable here too
        self.queues[name] = dict(arguments or {})

    def exchange_declare(self, name: str, *, exchange_type: str, durable: bool) -> None:
        assert exchange_type == "topic" and durable

    def queue_bind(self, queue: str, exchange: str, *, routing_key: str) -> None:
        self.bindings.append((queue, exchange, routing_key))


def _declared(queue_type: str) -> RecordingChannel:
    broker = RabbitMQBroker(BROKER, max_attempts=5, retry_delay_ms=100, prefetch=10, queue_type=queue_type)
    channel = RecordingChannel()
    broker._declare_on(channel, SUBSCRIPTION)  # type: ignore[arg-type]
    return channel


def test_classic_queues_are_declared_as_before():
    channel = _declared("classic")
    assert channel.queues == {
        "mpdp.identity": {},
        "mpdp.identity.retry": {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "mpdp.identity"},
        "mpdp.identity.dead": {},
    }
    assert channel.bindings == [("mpdp.identity", "mpdp.workspace", "workspace.workspace.created")]


def test_quorum_makes_every_queue_of_a_service_a_quorum_queue():
    channel = _declared("quorum")
    assert set(channel.queues) == {"mpdp.identity", "mpdp.identity.retry", "mpdp.identity.dead"}
    assert all(arguments["x-queue-type"] == "quorum" for arguments in channel.queues.values())
    # A retried event expires back into the service's queue, and is not dropped on the way.
    retry = channel.queues["mpdp.identity.retry"]
    assert retry["x-dead-letter-exchange"] == "" and retry["x-dead-letter-routing-key"] == "mpdp.identity"
    assert retry["x-dead-letter-strategy"] == "at-least-once" and retry["x-overflow"] == "reject-publish"
    assert channel.bindings == [("mpdp.identity", "mpdp.workspace", "workspace.workspace.created")]


def test_the_setting_reaches_the_broker(monkeypatch):
    monkeypatch.setenv("MPDP_MODE", "real")
    monkeypatch.setenv("MPDP_AMQP_URL", "amqp://u:p@rabbit-1:5672/%2F, amqp://u:p@rabbit-2:5672/%2F,amqp://u:p@rabbit-3:5673/%2F")
    monkeypatch.setenv("MPDP_QUEUE_TYPE", "Quorum")
    settings = Settings.from_env("identity")
    assert settings.queue_type == "quorum"
    broker = broker_for(settings)
    assert isinstance(broker, RabbitMQBroker) and broker.queue_type == "quorum"
    assert [(node.host, node.port) for node in broker.nodes] == [("rabbit-1", 5672), ("rabbit-2", 5672), ("rabbit-3", 5673)]
    monkeypatch.delenv("MPDP_QUEUE_TYPE")
    assert Settings.from_env().queue_type == "classic"


def test_an_unknown_queue_type_is_refused(monkeypatch):
    monkeypatch.setenv("MPDP_QUEUE_TYPE", "stream")
    with pytest.raises(SystemExit, match="MPDP_QUEUE_TYPE='stream' is not one of classic, quorum"):
        Settings.from_env()


def _local_broker_answers() -> bool:
    parameters = pika.URLParameters(BROKER)
    try:
        socket.create_connection((parameters.host, parameters.port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _local_broker_answers(), reason="no RabbitMQ at MPDP_TEST_AMQP_URL")
def test_on_rabbitmq_a_retried_event_comes_back_through_quorum_queues():
    """Per-message TTL and dead-lettering, which the retries need, on this RabbitMQ's quorum queues;
    one of the two URLs names a node that is down, and the client connects to the other."""
    with closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        down = probe.getsockname()[1]
    broker = RabbitMQBroker(
        [f"amqp://guest:guest@127.0.0.1:{down}/%2F", BROKER], max_attempts=5, retry_delay_ms=100, prefetch=10, queue_type="quorum"
    )
    name = f"mpdp-test-{secrets.token_hex(4)}"
    subscription = Subscription(queue=f"{name}.sink", bindings={f"{name}.source": ["thing.happened"]})
    for _ in range(4):  # whichever node the client tries first
        broker.declare(subscription)
    connection = pika.BlockingConnection(pika.URLParameters(BROKER))
    try:
        channel = connection.channel()
        if shutil.which("rabbitmqctl"):
            listed = subprocess.run(["rabbitmqctl", "-q", "list_queues", "name", "type"], capture_output=True, text=True, timeout=60)
            types = dict(line.split("\t") for line in listed.stdout.splitlines() if line.startswith(name))
            assert types == {queue: "quorum" for queue in (subscription.queue, subscription.retry_queue, subscription.dead_queue)}
        channel.basic_publish("", subscription.retry_queue, b"again", pika.BasicProperties(expiration="300", delivery_mode=2))
        deadline = time.monotonic() + 15
        method = None
        while method is None and time.monotonic() < deadline:
            method, _properties, body = channel.basic_get(subscription.queue, auto_ack=True)
            time.sleep(0.1)
        assert method is not None and body == b"again", "the retried message never came back to the service's queue"
    finally:
        for queue in (subscription.queue, subscription.retry_queue, subscription.dead_queue):
            connection.channel().queue_delete(queue)
        connection.channel().exchange_delete(f"{name}.source")
        connection.close()
