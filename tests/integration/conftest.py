"""The real platform for the integration tests: every service as its own processes (gunicorn,
relay, consumer) on PostgreSQL and RabbitMQ, with databases, exchanges and queues of this run
only, driven over HTTP through the gateway.

PostgreSQL and RabbitMQ are found through MPDP_TEST_DATABASE_URL / MPDP_TEST_AMQP_URL (default:
the local servers); where they do not answer and a Docker engine runs, testcontainers starts them.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol, TypeVar

import pika
import pytest
import requests
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import create_engine, text

from mpdp_common.config import INTERNAL_PORTS, JOBS_PORTS, SERVICE_PORTS, Settings
from mpdp_common.events.brokers import topology_names
from mpdp_common.launcher import reachable, wait_until_ready
from mpdp_common.service import installed_services

from .client import MAIL_FOLDERS, Client

LOCAL_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432"
LOCAL_BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"
CONSOLE_DIR = Path(__file__).resolve().parents[2] / "console" / "dist"
SERVICES = list(installed_services())
T = TypeVar("T")


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def backing_services() -> Iterator[tuple[str, str]]:
    database = os.environ.get("MPDP_TEST_DATABASE_URL", LOCAL_DATABASE)
    broker = os.environ.get("MPDP_TEST_AMQP_URL", LOCAL_BROKER)
    containers = []
    if not (reachable(database, 5432) and reachable(broker, 5672)):
        try:
            from testcontainers.postgres import PostgresContainer
            from testcontainers.rabbitmq import RabbitMqContainer

            postgres = PostgresContainer("postgres:16", username="postgres", password="postgres", driver="psycopg").start()
            rabbit = RabbitMqContainer("rabbitmq:3.13-management").start()
        except Exception as error:
            pytest.fail(
                f"integration tests need PostgreSQL and RabbitMQ: {database} or {broker} does not answer, "
                f"and no Docker engine could start them ({error.__class__.__name__}). Run scripts/backing-services."
            )
        containers = [postgres, rabbit]
        database = postgres.get_connection_url().rsplit("/", 1)[0]
        params = rabbit.get_connection_params()
        broker = f"amqp://guest:guest@{params.host}:{params.port}/%2F"
    yield database, broker
    for container in containers:
        container.stop()


class Platform:
    def __init__(self, database: str, broker: str, workdir: Path):
        self.run_id = secrets.token_hex(4)
        self.prefix = f"mpdp_t{self.run_id}"
        self.database = database
        self.broker = broker
        self.workdir = workdir
        self.ports = {name: _free_port() for name in SERVICE_PORTS}
        self.internal_ports = {name: _free_port() for name in INTERNAL_PORTS}
        self.jobs_ports = {name: _free_port() for name in JOBS_PORTS}
        self.env = dict(
            os.environ,
            MPDP_MODE="real",
            MPDP_DATABASE_URL=database,
            MPDP_DATABASE_PREFIX=self.prefix,
            MPDP_AMQP_URL=broker,
            MPDP_EVENT_PREFIX=self.prefix,
            MPDP_EVENT_MAX_ATTEMPTS="3",
            MPDP_EVENT_RETRY_DELAY_MS="300",
            MPDP_OUTBOX_POLL_SECONDS="0.5",
            MPDP_DATA_DIR=str(workdir),
            MPDP_CONSOLE_DIR=str(CONSOLE_DIR),
            MPDP_WEB_WORKERS="1",
            MPDP_WEB_THREADS="8",
            MPDP_GATEWAY_CLIENT_TIMEOUT="4",
            MPDP_LOG_LEVEL="INFO",
            # the tests' own SMTP servers listen on this host
            MPDP_SMTP_ALLOW_PRIVATE_HOSTS="1",
            # the tests' webhook receivers listen on this address; their retries come within seconds
            MPDP_WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
            MPDP_WEBHOOK_RETRY_SECONDS="1,1,2,2,3",
            MPDP_WEBHOOK_TIMEOUT_SECONDS="3",
            # every test speaks from this host, and the OpenAPI conformance run sends thousands of requests
            MPDP_RATE_LIMIT_PER_CLIENT="100000/minute",
            MPDP_RATE_LIMIT_PER_TOKEN="100000/minute",
            # Low enough for a test to reach it with a few batches; each test uses its own app key.
            MPDP_INGEST_RATE_LIMIT="30000/minute",
            # rollout guards judge every second, so that a test's holds of a few seconds are judged too
            MPDP_RELEASE_GUARD_INTERVAL_SECONDS="1",
            # alert rules are evaluated every second, so that a test sees one fire within seconds
            MPDP_ALERT_INTERVAL_SECONDS="1",
            # the cheapest password hashing allowed: every test signs people up and in
            MPDP_PASSWORD_HASH_TIME_COST="1",
            MPDP_PASSWORD_HASH_MEMORY_KIB="8192",
            **{f"MPDP_{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
            **{f"MPDP_{name.upper()}_INTERNAL_PORT": str(port) for name, port in self.internal_ports.items()},
            **{f"MPDP_{name.upper()}_JOBS_PORT": str(port) for name, port in self.jobs_ports.items()},
        )
        for name in SERVICE_PORTS:
            self.env.pop(f"MPDP_{name.upper()}_URL", None)
        self.process: subprocess.Popen | None = None
        self.log_path = workdir / "platform.log"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def internal_url(self, service: str) -> str:
        """The listener of a service's metrics and readiness, where it has one of its own."""
        port = self.internal_ports.get(service, self.ports[service])
        return f"http://127.0.0.1:{port}"

    def readiness_url(self, service: str) -> str:
        return self.internal_url(service) + "/readyz"

    @property
    def gateway(self) -> str:
        return self.url("gateway")

    @property
    def mail_folder(self) -> Path:
        """Where it writes each mail without an SMTP server, for `mails_to` to read (see `MAIL_FOLDERS`)."""
        return self.workdir / "mail"

    @property
    def signing_key_file(self) -> Path:
        return self.workdir / "keys" / "identity-signing.pem"

    @property
    def secret_key(self) -> str:
        return (self.workdir / "keys" / "platform-secret").read_text().strip()

    def start(self) -> None:
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mpdp_common.launcher", "run"],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = self.process
        MAIL_FOLDERS[self.gateway] = self.mail_folder
        urls = {name: self.readiness_url(name) for name in SERVICES}
        # Migrating every database and starting some thirty processes takes minutes on a busy 2-core machine.
        if not wait_until_ready(urls, given_up=lambda: process.poll() is not None, timeout=240):
            raise RuntimeError(f"the platform did not start; its log:\n{self.log_path.read_text()[-5000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()

    def broker_channel(self) -> tuple[pika.BlockingConnection, BlockingChannel]:
        connection = pika.BlockingConnection(pika.URLParameters(self.broker))
        return connection, connection.channel()

    def publish(self, exchange_service: str, body: bytes, routing_key: str, message_id: str | None = None) -> None:
        connection, channel = self.broker_channel()
        try:
            channel.exchange_declare(f"{self.prefix}.{exchange_service}", exchange_type="topic", durable=True)
            channel.basic_publish(
                f"{self.prefix}.{exchange_service}",
                routing_key,
                body,
                pika.BasicProperties(content_type="application/json", delivery_mode=2, message_id=message_id),
            )
        finally:
            connection.close()

    def cleanup(self) -> None:
        try:
            exchanges, queues = topology_names(Settings(event_prefix=self.prefix), SERVICE_PORTS)
            connection, channel = self.broker_channel()
            for queue in queues:
                channel.queue_delete(queue)
            for exchange in exchanges:
                channel.exchange_delete(exchange)
            connection.close()
        except pika.exceptions.AMQPError:
            pass
        admin = create_engine(f"{self.database}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            names = conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :prefix"), {"prefix": f"{self.prefix}\\_%"}
            ).scalars()
            for name in list(names):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def listening(platform: Platform, producer: str) -> Iterator[Callable[[], list[dict]]]:
    """A durable queue of the test's own bound to everything `producer` publishes. `drain()`
    answers the events that arrived since its last call, over a fresh connection each time so
    that it works across a broker restart (nothing while the broker is down)."""
    queue = f"{platform.prefix}.test-{producer}-{secrets.token_hex(3)}"
    connection, channel = platform.broker_channel()
    channel.exchange_declare(f"{platform.prefix}.{producer}", exchange_type="topic", durable=True)
    channel.queue_declare(queue, durable=True)
    channel.queue_bind(queue, f"{platform.prefix}.{producer}", routing_key=f"{producer}.#")
    connection.close()

    def drain() -> list[dict]:
        got: list[dict] = []
        try:
            connection, channel = platform.broker_channel()
        except pika.exceptions.AMQPError:
            return got
        try:
            while True:
                method, _properties, body = channel.basic_get(queue, auto_ack=True)
                if method is None:
                    break
                got.append(json.loads(body))
        finally:
            connection.close()
        return got

    try:
        yield drain
    finally:
        connection, channel = platform.broker_channel()
        channel.queue_delete(queue)
        connection.close()


class TraceCollector:
    """An OTLP/HTTP receiver on loopback that keeps every batch of spans the platform exports."""

    def __init__(self) -> None:
        self.batches: list[bytes] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                collector.batches.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def spans(self, trace_id: str) -> list[dict]:
        """Every span of the trace received so far: service, name, kind, ids, start."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        found = []
        for batch in list(self.batches):
            request = ExportTraceServiceRequest.FromString(batch)
            for resource_spans in request.resource_spans:
                attributes = {item.key: item.value.string_value for item in resource_spans.resource.attributes}
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        if span.trace_id.hex() == trace_id:
                            found.append(
                                {
                                    "service": attributes.get("service.name", ""),
                                    "name": span.name,
                                    "kind": span.kind,
                                    "span_id": span.span_id.hex(),
                                    "parent_id": span.parent_span_id.hex(),
                                    "start": span.start_time_unix_nano,
                                }
                            )
        return sorted(found, key=lambda span: span["start"])


@pytest.fixture(scope="session")
def traces() -> Iterator[TraceCollector]:
    collector = TraceCollector()
    yield collector
    collector.server.shutdown()


@pytest.fixture(scope="session")
def platform(backing_services: tuple[str, str], tmp_path_factory: pytest.TempPathFactory, traces: TraceCollector) -> Iterator[Platform]:
    database, broker = backing_services
    running = Platform(database, broker, tmp_path_factory.mktemp("platform"))
    # The integration tests' platform traces every request and event to the tests' collector.
    running.env.update(OTEL_EXPORTER_OTLP_ENDPOINT=traces.endpoint, OTEL_BSP_SCHEDULE_DELAY="200")
    try:
        running.start()
        yield running
    finally:
        running.stop()
        running.cleanup()


def embedded_env(workdir: Path, ports: dict[str, int], console_dir: Path = CONSOLE_DIR, **extra: str) -> dict[str, str]:
    """The environment of `mpdpctl run` where no database or broker answers: the embedded mode
    (one process, SQLite files, the in-process broker), on the given public ports."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MPDP_")}
    env.update(
        MPDP_DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}",
        MPDP_AMQP_URL=f"amqp://guest:guest@127.0.0.1:{_free_port()}/%2F",
        MPDP_DATA_DIR=str(workdir),
        MPDP_CONSOLE_DIR=str(console_dir),
        **{f"MPDP_{name.upper()}_PORT": str(port) for name, port in ports.items()},
        **{f"MPDP_{name.upper()}_INTERNAL_PORT": str(_free_port()) for name in INTERNAL_PORTS},
        **extra,
    )
    return env


@contextmanager
def running_embedded(workdir: Path, console_dir: Path = CONSOLE_DIR, **extra_env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`mpdpctl run` in embedded mode, up and answering; yields its gateway's address and its
    process, which is stopped with Ctrl-C at the end (its log is `embedded.log` in `workdir`).
    `extra_env`: more of its environment (`MPDP_SMTP_URL=...`)."""
    ports = {name: _free_port() for name in SERVICE_PORTS}
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    MAIL_FOLDERS[gateway] = workdir / "mail"
    log_path = workdir / "embedded.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mpdp_common.launcher", "run"],
            env=embedded_env(workdir, ports, console_dir, **extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:

            def up() -> bool:
                try:
                    return requests.get(f"{gateway}/healthz", timeout=1).status_code == 200
                except requests.RequestException:
                    return process.poll() is not None

            eventually(up, timeout=60, interval=0.2)
            assert process.poll() is None, log_path.read_text()[-3000:]
            yield gateway, process
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="session")
def embedded_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The whole platform in embedded mode; yields its gateway's address."""
    with running_embedded(tmp_path_factory.mktemp("embedded")) as (gateway, _process):
        yield gateway


@pytest.fixture(params=["postgresql", "embedded"])
def gateway_in_each_mode(request: pytest.FixtureRequest) -> str:
    """The gateway of the platform as deployed (PostgreSQL, RabbitMQ, a process per service), then
    of the embedded mode (SQLite): for the rules that must hold on both databases."""
    if request.param == "embedded":
        return request.getfixturevalue("embedded_platform")
    return request.getfixturevalue("platform").gateway


@pytest.fixture
def client(platform: Platform) -> Client:
    return Client(platform.gateway)


class MakeUser(Protocol):
    def __call__(self, name: str = "user") -> Client: ...


@pytest.fixture
def make_user(client: Client) -> MakeUser:
    """A new signed-in account: `make_user("alice")` -> Client with .account and a token."""

    def make(name: str = "user") -> Client:
        return client.new_account(name)

    return make


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.1) -> T:
    """Poll `check` until it returns something truthy; return that, or fail with its last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def workspace_created_event(workspace_id: str, created_by: str, event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "id": event_id or secrets.token_hex(16),
            "type": "workspace.workspace.created",
            "version": 1,
            "occurred_at": "2026-11-25T10:00:00Z",
            "producer": "workspace",
            "workspace_id": workspace_id,
            "aggregate_id": workspace_id,
            "correlation_id": None,
            "payload": {"workspace_id": workspace_id, "name": "Acme", "kind": "tenant", "parent_id": None, "created_by": created_by},
        }
    ).encode()


@pytest.fixture
def make_workspace(platform: Platform) -> Callable[[Client], str]:
    """A tenant workspace whose admin is `owner`, created through the workspace service; ready once
    identity, told by `workspace.workspace.created`, shows the owner as its admin."""

    def make(owner: Client) -> str:
        created = owner.post("/api/v1/workspaces", json={"name": "Acme", "kind": "tenant"})
        assert created.status_code == 201, created.text
        workspace_id = created.json()["id"]
        eventually(
            lambda: any(m["workspace_id"] == workspace_id and m["role"] == "admin" for m in owner.get("/api/v1/me").json()["memberships"])
        )
        return workspace_id

    return make
