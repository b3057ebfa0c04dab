"""Brokers: RabbitMQ through pika for every deployment, and an in-process broker with the same
interface for the embedded mode and unit tests.

Topology (RabbitMQ): one durable topic exchange per producing service (`<prefix>.<producer>`),
one durable queue per consuming service (`<prefix>.<consumer>`) bound by routing key = event
type, a retry queue (`<queue>.retry`) whose messages expire back into the queue after a delay,
and a dead-letter queue (`<queue>.dead`) where a message is parked after the last attempt.
With MPDP_QUEUE_TYPE=quorum, all three are quorum queues, replicated over the cluster's nodes.
"""

from __future__ import annotations

import logging
import queue as queue_module
import random
import threading
import time
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic

from ..config import Settings
from ..metrics import DEAD_LETTERED, RETRIED
from . import Event, EventSpec

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-mpdp-attempt"
ERROR_HEADER = "x-mpdp-last-error"


class BrokerUnavailable(Exception):
    """The broker cannot be reached; the caller keeps its work and tries again later."""


class DependencyUnavailable(Exception):
    """A consumer cannot handle anything right now (its database is down): the batch is not the
    events' fault, so it is neither acked nor counted as an attempt, and comes back later."""


#: How long a relay waits at most for the broker to confirm a batch before sending it again.
CONFIRM_TIMEOUT_SECONDS = 30.0

#: How long a consumer waits at most before trying again while its database is down.
DEPENDENCY_BACKOFF_LIMIT = 2.0


@dataclass(frozen=True)
class Subscription:
    """One consuming service's queue and what it is bound to."""

    queue: str
    #: exchange name -> event types (routing keys) taken from it
    bindings: dict[str, list[str]]

    @property
    def retry_queue(self) -> str:
        return f"{self.queue}.retry"

    @property
    def dead_queue(self) -> str:
        return f"{self.queue}.dead"


@dataclass(frozen=True)
class Outgoing:
    """One outbox row on its way to the broker: the envelope is sent as the bytes it was stored as."""

    event_id: str
    type: str
    body: bytes


@dataclass(frozen=True)
class DeadLetter:
    """A message parked after its last attempt, with the error that parked it."""

    event_id: str | None
    type: str | None
    attempts: int
    error: str
    body: bytes


#: A message as the consuming channel hands it over: its delivery, properties and body.
Message = tuple[Basic.Deliver, pika.BasicProperties, bytes]

#: Takes a batch of events; answers, for each, None (handled) or the error that says "try again later".
Delivery = Callable[[list[Event]], list[Exception | None]]


class Broker(ABC):
    def __init__(self, max_attempts: int, retry_delay_ms: int):
        self.max_attempts = max_attempts
        self.retry_delay_ms = retry_delay_ms

    @abstractmethod
    def publish_batch(self, exchange: str, messages: list[Outgoing]) -> None:
        """Publish and return only once the broker has taken every message (or raise)."""

    @abstractmethod
    def declare(self, subscription: Subscription) -> None:
        """Create the queues and bindings, so that events published from now on wait for the consumer."""

    @abstractmethod
    def consume(self, subscription: Subscription, deliver: Delivery, stop: threading.Event) -> None:
        """Deliver events until `stop` is set, surviving broker restarts."""

    @abstractmethod
    def dead_letters(self, subscription: Subscription, *, replay: bool = False) -> list[DeadLetter]:
        """The messages parked in the subscription's dead-letter queue; with `replay`, each is sent
        back to the subscription's queue for a fresh round of attempts and leaves the dead letters."""

    @abstractmethod
    def ping(self) -> None:
        """Raise BrokerUnavailable when the broker does not answer."""

    def keepalive(self) -> None:
        """Called by an idle publisher now and then, so that its connection stays open."""
        return None

    def close(self) -> None:
        return None

    def _next_step(self, attempt: int, subscription: Subscription) -> str:
        """Where a failed event goes: the retry queue, or after its last attempt the dead letters (counted either way)."""
        if attempt >= self.max_attempts:
            DEAD_LETTERED.labels(subscription.queue).inc()
            return "dead"
        RETRIED.labels(subscription.queue).inc()
        return "retry"


class RabbitMQBroker(Broker):
    """pika, one connection per thread, created in that thread (never shared across a fork).

    Given several URLs (the nodes of a cluster), each connection goes to the first node that
    answers, starting from a random one, so that a process's connections spread over the nodes
    and a lost node's clients move to the others when they reconnect."""

    def __init__(self, url: str | Sequence[str], *, max_attempts: int, retry_delay_ms: int, prefetch: int, queue_type: str = "classic"):
        super().__init__(max_attempts, retry_delay_ms)
        self.nodes = [_parameters(one) for one in ([url] if isinstance(url, str) else url)]
        if not self.nodes:
            raise ValueError("no RabbitMQ URL given")
        if queue_type not in ("classic", "quorum"):
            raise ValueError(f"unknown queue type {queue_type!r}")
        self.queue_type = queue_type
        self.prefetch = prefetch
        self._local = threading.local()

    # -- connections -------------------------------------------------------------------------

    def _connect(self) -> pika.BlockingConnection:
        start = random.randrange(len(self.nodes))
        order = self.nodes[start:] + self.nodes[:start]
        try:
            return pika.BlockingConnection(order if len(order) > 1 else order[0])
        except (pika.exceptions.AMQPError, OSError) as error:
            where = ", ".join(f"{node.host}:{node.port}" for node in order)
            raise BrokerUnavailable(f"RabbitMQ at {where}: {error!r}") from error

    def _publishing_channel(self, exchange: str) -> BlockingChannel:
        channel = getattr(self._local, "channel", None)
        if channel is None or channel.is_closed or channel.connection.is_closed:
            self._drop_publishing_channel()
            connection = self._connect()
            channel = connection.channel()
            # Publisher confirms: the broker's ack of a message is its word that every queue the
            # message was routed to holds it (for a quorum queue, a majority of its nodes). A
            # transaction's commit-ok is not: a quorum queue whose leader died under a committed
            # batch lost part of it, where confirms wait for the new leader.
            # The last confirm of a batch wakes the I/O loop that waits for it (below), which
            # otherwise sleeps its time out: it returns early only for events of its own.
            confirms = _Confirms(wake=lambda: connection.add_callback_threadsafe(_nothing))
            channel._impl.confirm_delivery(confirms.on_confirm, callback=lambda _frame: confirms.selected.set())
            while not confirms.selected.is_set():
                connection.process_data_events(time_limit=0.1)
            self._local.channel = channel
            self._local.confirms = confirms
            self._local.declared = set()
        if exchange not in self._local.declared:
            channel.exchange_declare(exchange, exchange_type="topic", durable=True)
            self._local.declared.add(exchange)
        return channel

    def _drop_publishing_channel(self) -> None:
        channel = getattr(self._local, "channel", None)
        self._local.channel = None
        if channel is not None:
            try:
                channel.connection.close()
            except Exception:  # already gone
                pass

    # -- publishing --------------------------------------------------------------------------

    def keepalive(self) -> None:
        # pika answers heartbeats only while it runs its I/O loop; an idle relay would be cut off.
        channel = getattr(self._local, "channel", None)
        if channel is None:
            return
        try:
            channel.connection.process_data_events(time_limit=0)
        except (pika.exceptions.AMQPError, OSError) as error:
            log.info("publishing connection lost while idle (%r); it reopens on the next batch", error)
            self._drop_publishing_channel()

    def publish_batch(self, exchange: str, messages: list[Outgoing]) -> None:
        try:
            channel = self._publishing_channel(exchange)
            confirms: _Confirms = self._local.confirms
            # The blocking channel writes to the socket and waits after every message; its
            # underlying channel only queues the frames, sent together as the I/O loop runs
            # below, which then takes the broker's confirms of the whole batch.
            publish = channel._impl.basic_publish
            for message in messages:
                publish(exchange, message.type, message.body, _first_properties(message))
                confirms.sent()
            deadline = time.monotonic() + CONFIRM_TIMEOUT_SECONDS
            while confirms.pending:
                if channel.is_closed or time.monotonic() > deadline:
                    raise BrokerUnavailable(f"{len(confirms.pending)} of {len(messages)} messages not confirmed by the broker")
                channel.connection.process_data_events(time_limit=1.0)
            if confirms.take_nacked():
                raise BrokerUnavailable(f"the broker refused messages of a batch of {len(messages)}")
        except BrokerUnavailable:
            # Unconfirmed or refused: the batch stays in the outbox and goes again on a new channel
            # (consumers skip what they already had).
            self._drop_publishing_channel()
            raise
        except (pika.exceptions.AMQPError, OSError) as error:
            self._drop_publishing_channel()
            raise BrokerUnavailable(repr(error)) from error

    # -- consuming ---------------------------------------------------------------------------

    def queue_arguments(self, subscription: Subscription) -> dict[str, dict[str, str]]:
        """Each of the subscription's queues with the arguments it is declared with.

        Quorum queues (RabbitMQ 3.10 and later) take the retry queue's per-message TTL and its
        dead-lettering back into the service's queue; that dead-lettering is made at-least-once
        (which needs `x-overflow: reject-publish`), where a quorum queue's default would drop a
        retried event if the node holding it failed at the moment it expired."""
        quorum = {"x-queue-type": "quorum"} if self.queue_type == "quorum" else {}
        back = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": subscription.queue}
        if quorum:
            back |= {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}
        return {subscription.queue: dict(quorum), subscription.retry_queue: quorum | back, subscription.dead_queue: dict(quorum)}

    def _declare_on(self, channel: BlockingChannel, subscription: Subscription) -> None:
        for name, arguments in self.queue_arguments(subscription).items():
            channel.queue_declare(name, durable=True, arguments=arguments or None)
        for exchange, types in subscription.bindings.items():
            channel.exchange_declare(exchange, exchange_type="topic", durable=True)
            for event_type in types:
                channel.queue_bind(subscription.queue, exchange, routing_key=event_type)

    def declare(self, subscription: Subscription) -> None:
        connection = self._connect()
        try:
            self._declare_on(connection.channel(), subscription)
        except (pika.exceptions.AMQPError, OSError) as error:
            raise BrokerUnavailable(repr(error)) from error
        finally:
            _close_quietly(connection)

    def consume(self, subscription: Subscription, deliver: Delivery, stop: threading.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            connection = None
            try:
                connection = self._connect()
                channel = connection.channel()
                self._declare_on(channel, subscription)
                channel.confirm_delivery()
                channel.basic_qos(prefetch_count=self.prefetch)
                arrived: list[Message] = []
                channel.basic_consume(
                    subscription.queue, lambda _ch, method, properties, body, sink=arrived: sink.append((method, properties, body))
                )
                log.info("consuming %s", subscription.queue)
                backoff = 0.5
                while not stop.is_set():
                    # Returns as soon as messages have arrived (at most `prefetch` of them).
                    connection.process_data_events(time_limit=0.5)
                    if arrived:
                        batch, arrived[:] = list(arrived), []
                        self._handle_batch(channel, subscription, deliver, batch)
            except DependencyUnavailable as error:
                # Closing the connection puts every unacked message back on the queue, in order.
                log.warning("%s; events wait in the queue, retry in %.1fs", error, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, DEPENDENCY_BACKOFF_LIMIT)
            except (BrokerUnavailable, pika.exceptions.AMQPError, OSError) as error:
                log.warning("broker connection lost (%r); reconnecting in %.1fs", error, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
            finally:
                if connection is not None:
                    _close_quietly(connection)

    def _handle_batch(self, channel: BlockingChannel, subscription: Subscription, deliver: Delivery, batch: list[Message]) -> None:
        readable = []
        for _method, properties, body in batch:
            try:
                readable.append((Event.from_json(body), properties))
            except (ValueError, TypeError) as error:
                log.error("unreadable message %s parked in %s: %s", properties.message_id, subscription.dead_queue, error)
                properties.headers = dict(properties.headers or {}, **{ERROR_HEADER: f"unreadable: {error}"[:500]})
                channel.basic_publish("", subscription.dead_queue, body, properties)
        errors = deliver([item for item, _ in readable]) if readable else []
        for (item, properties), failure in zip(readable, errors, strict=True):
            if failure is not None:
                self._send_back(channel, subscription, item, properties, failure)
        # Every message before the last is in this batch: one ack covers them all.
        channel.basic_ack(batch[-1][0].delivery_tag, multiple=True)

    def _send_back(
        self, channel: BlockingChannel, subscription: Subscription, item: Event, properties: pika.BasicProperties, error: Exception
    ) -> None:
        """A failed event goes to the retry queue, or after the last attempt to the dead-letter queue."""
        attempt = int((properties.headers or {}).get(ATTEMPT_HEADER, 1))
        step = self._next_step(attempt, subscription)
        log.warning(
            "handler for %s %s failed (attempt %d of %d), %s: %r",
            item.type,
            item.id,
            attempt,
            self.max_attempts,
            "parked in dead-letter queue" if step == "dead" else "will retry",
            error,
        )
        next_properties = _properties(item, attempt + 1, error=repr(error)[:500])
        if step == "retry":
            next_properties.expiration = str(self.retry_delay_ms)
        target = subscription.dead_queue if step == "dead" else subscription.retry_queue
        channel.basic_publish("", target, item.to_json().encode(), next_properties)

    def dead_letters(self, subscription: Subscription, *, replay: bool = False) -> list[DeadLetter]:
        connection = self._connect()
        try:
            channel = connection.channel()
            self._declare_on(channel, subscription)
            if replay:
                # Each message is sent back, and taken off the dead letters only once the broker
                # has confirmed it (a transaction's commit is no such word on a quorum queue): a
                # failure in between leaves it in both, and the consumer's inbox skips the second.
                channel.confirm_delivery()
            found = []
            while True:
                method, properties, body = channel.basic_get(subscription.dead_queue, auto_ack=False)
                if method is None:
                    break
                headers = properties.headers or {}
                found.append(
                    DeadLetter(
                        event_id=properties.message_id,
                        type=properties.type or method.routing_key,
                        attempts=int(headers.get(ATTEMPT_HEADER, 1)) - 1,
                        error=str(headers.get(ERROR_HEADER, "")),
                        body=body,
                    )
                )
                if replay:
                    properties.headers = {ATTEMPT_HEADER: 1}
                    properties.expiration = None
                    channel.basic_publish("", subscription.queue, body, properties)
                    channel.basic_ack(method.delivery_tag)
            return found
        except (pika.exceptions.AMQPError, OSError) as error:
            raise BrokerUnavailable(repr(error)) from error
        finally:
            # Messages only looked at were never acked: closing puts them back, in order.
            _close_quietly(connection)

    def ping(self) -> None:
        _close_quietly(self._connect())

    def close(self) -> None:
        self._drop_publishing_channel()


class _Confirms:
    """The broker's acks and nacks of one publishing channel's messages, whose delivery tags
    count from 1 in the order they were published."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self.wake = wake
        self.selected = threading.Event()
        self.published = 0
        self.pending: set[int] = set()
        self.nacked = 0

    def sent(self) -> None:
        self.published += 1
        self.pending.add(self.published)

    def on_confirm(self, frame: Any) -> None:
        method = frame.method
        # A multiple confirm settles every tag up to its own: from the lowest still pending.
        first = min(self.pending, default=method.delivery_tag) if method.multiple else method.delivery_tag
        settled = [tag for tag in range(first, method.delivery_tag + 1) if tag in self.pending]
        self.pending.difference_update(settled)
        if isinstance(method, Basic.Nack):
            self.nacked += len(settled)
        if not self.pending:
            self.wake()

    def take_nacked(self) -> int:
        nacked, self.nacked = self.nacked, 0
        return nacked


def _nothing() -> None:
    return None


def _properties(item: Event, attempt: int, error: str | None = None) -> pika.BasicProperties:
    headers: dict[str, int | str] = {ATTEMPT_HEADER: attempt}
    if error:
        headers[ERROR_HEADER] = error
    return pika.BasicProperties(
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=item.id,
        type=item.type,
        correlation_id=item.correlation_id,
        headers=headers,
    )


def _parameters(url: str) -> pika.URLParameters:
    parameters = pika.URLParameters(url)
    parameters.heartbeat = 30
    parameters.blocked_connection_timeout = 30
    parameters.socket_timeout = 5
    parameters.connection_attempts = 1
    return parameters


def _first_properties(message: Outgoing) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=message.event_id,
        type=message.type,
        headers={ATTEMPT_HEADER: 1},
    )


def _close_quietly(connection: pika.BlockingConnection) -> None:
    try:
        if connection.is_open:
            connection.close()
    except Exception:
        pass


class MemoryBroker(Broker):
    """The in-process broker: the same contract (bindings, retries, dead letters), no durability."""

    def __init__(self, *, max_attempts: int, retry_delay_ms: int):
        super().__init__(max_attempts, retry_delay_ms)
        self._lock = threading.Lock()
        self._queues: dict[str, queue_module.Queue[tuple[Event, int]]] = {}
        self._routes: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.dead: dict[str, list[Event]] = defaultdict(list)

    def publish_batch(self, exchange: str, messages: list[Outgoing]) -> None:
        with self._lock:
            for message in messages:
                queues = self._routes.get((exchange, message.type), ())
                if queues:
                    item = Event.from_json(message.body)
                    for name in queues:
                        self._queues[name].put((item, 1))

    def declare(self, subscription: Subscription) -> None:
        with self._lock:
            self._queues.setdefault(subscription.queue, queue_module.Queue())
            for exchange, types in subscription.bindings.items():
                for event_type in types:
                    self._routes[(exchange, event_type)].add(subscription.queue)

    def consume(self, subscription: Subscription, deliver: Delivery, stop: threading.Event) -> None:
        self.declare(subscription)
        pending = self._queues[subscription.queue]
        while not stop.is_set():
            try:
                item, attempt = pending.get(timeout=0.2)
            except queue_module.Empty:
                continue
            try:
                (error,) = deliver([item])
            except DependencyUnavailable as unavailable:
                log.warning("%s; retry shortly", unavailable)
                pending.put((item, attempt))
                stop.wait(0.5)
                continue
            if error is not None:
                if self._next_step(attempt, subscription) == "dead":
                    log.warning("handler for %s %s failed %d times, parked: %r", item.type, item.id, attempt, error)
                    self.dead[subscription.queue].append(item)
                else:
                    timer = threading.Timer(self.retry_delay_ms / 1000, pending.put, ((item, attempt + 1),))
                    timer.daemon = True
                    timer.start()

    def dead_letters(self, subscription: Subscription, *, replay: bool = False) -> list[DeadLetter]:
        with self._lock:
            parked = self.dead[subscription.queue]
            found = [DeadLetter(item.id, item.type, self.max_attempts, "", item.to_json().encode()) for item in parked]
            if replay:
                for item in parked:
                    self._queues[subscription.queue].put((item, 1))
                parked.clear()
        return found

    def ping(self) -> None:
        return None


_memory_brokers: dict[str, MemoryBroker] = {}
_memory_lock = threading.Lock()


def broker_for(settings: Settings) -> Broker:
    """The broker named by settings.amqp_url; every `memory://` user in a process shares one."""
    if settings.amqp_url.startswith("memory://"):
        with _memory_lock:
            if settings.amqp_url not in _memory_brokers:
                _memory_brokers[settings.amqp_url] = MemoryBroker(
                    max_attempts=settings.event_max_attempts, retry_delay_ms=settings.event_retry_delay_ms
                )
            return _memory_brokers[settings.amqp_url]
    return RabbitMQBroker(
        settings.amqp_urls,
        max_attempts=settings.event_max_attempts,
        retry_delay_ms=settings.event_retry_delay_ms,
        prefetch=settings.event_prefetch,
        queue_type=settings.queue_type,
    )


def subscription_for(settings: Settings, spec: EventSpec) -> Subscription:
    return Subscription(
        queue=f"{settings.event_prefix}.{spec.service}",
        bindings={f"{settings.event_prefix}.{producer}": types for producer, types in spec.consumed_producers.items()},
    )


def topology_names(settings: Settings, services: Iterable[str]) -> tuple[list[str], list[str]]:
    """Every exchange and queue name the given services use: what a test run deletes afterwards."""
    exchanges = [f"{settings.event_prefix}.{name}" for name in services]
    queues = [f"{settings.event_prefix}.{name}{suffix}" for name in services for suffix in ("", ".retry", ".dead")]
    return exchanges, queues
