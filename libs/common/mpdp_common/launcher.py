"""`mpdpctl`: run the platform, or one of a service's processes.

mpdpctl run               every service: real mode if PostgreSQL and RabbitMQ answer, else embedded
mpdpctl embedded          every service in one process, SQLite files, the in-process broker
mpdpctl migrate [NAME..]  create databases, apply migrations, declare the broker topology
mpdpctl wait-migrated NAME  wait until another process (a migration job) has migrated the service's database
mpdpctl web NAME          the service's HTTP API under gunicorn
mpdpctl jobs NAME         the service's relay, consumer and workers as threads of one process (as `run` starts them)
mpdpctl relay NAME        the service's outbox relay
mpdpctl consume NAME      the service's event consumer
mpdpctl work NAME WORKER  one of the service's own workers (identity mailer, telemetry folder)
mpdpctl dead-letters NAME the events the service's consumer parked, and why; --replay sends them back
mpdpctl announce NAME     publish again the state the service owns (catalog, workspace), for services that follow it
mpdpctl keygen PATH       create the identity signing key unless it exists
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from . import tracing
from .config import Settings
from .contracts import Actor
from .crypto import ensure_secret_key_file
from .db import make_engine
from .events.actors import acting
from .events.brokers import BrokerUnavailable, broker_for, subscription_for
from .keys import ensure_signing_key
from .logs import configure_logging, gunicorn_log_config
from .migrations import pending, upgrade
from .service import SERVICES_GROUP, Service, installed_services

if TYPE_CHECKING:  # imported in the worker only, after gevent's patches (see web())
    from flask import Flask

log = logging.getLogger("mpdpctl")


def reachable(url: str, default_port: int) -> bool:
    """Whether the server of a database or broker URL accepts connections."""
    parsed = urlparse(url.replace("postgresql+psycopg", "postgresql"))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    return stop


def _service(name: str) -> Service:
    """The one service a process runs, loaded alone: a process imports only the code it runs."""
    found = [entry for entry in entry_points(group=SERVICES_GROUP) if entry.name == name]
    if not found:
        installed = sorted(entry.name for entry in entry_points(group=SERVICES_GROUP))
        raise SystemExit(f"unknown service {name!r}; installed: {', '.join(installed)}")
    service = found[0].load()
    assert isinstance(service, Service) and service.name == name, f"the entry point {name!r} names the service {service.name!r}"
    return service


def _default_key_file(settings: Settings) -> str:
    return os.path.join(settings.data_dir, "keys", "identity-signing.pem")


def _provide_local_secrets(settings: Settings, env: MutableMapping[str, str]) -> None:
    """A developer's machine keeps generated keys in the data folder; deployments pass their own."""
    if not env.get("MPDP_JWT_PRIVATE_KEY_FILE"):
        env["MPDP_JWT_PRIVATE_KEY_FILE"] = ensure_signing_key(_default_key_file(settings))
    if not env.get("MPDP_SECRET_KEY"):
        env["MPDP_SECRET_KEY"] = ensure_secret_key_file(os.path.join(settings.data_dir, "keys", "platform-secret"))


# -- one process of one service -----------------------------------------------------------------


def migrate(names: list[str]) -> None:
    services = installed_services()
    for name in names or list(services):
        service = services[name] if name in services else _service(name)
        settings = Settings.from_env(service.name)
        if service.has_database:
            upgrade(service.package, settings.database_url)
            log.info("%s: database %s is up to date", service.name, settings.database_url.rsplit("/", 1)[-1])
        if service.events is not None and service.events.handlers:
            try:
                broker_for(settings).declare(subscription_for(settings, service.events))
            except BrokerUnavailable as error:
                log.warning("%s: broker topology not declared yet (%s); the consumer will declare it", service.name, error)


def wait_migrated(name: str, timeout: float) -> None:
    """Return once the service's database has every migration of this code; exit with status 1
    after `timeout` seconds. What a deployment's pods run before they start, while a job applies
    the migrations (`mpdpctl migrate`), so that no new code runs on an old schema."""
    service = _service(name)
    if not service.has_database:
        return
    settings = Settings.from_env(service.name)
    deadline = time.monotonic() + timeout
    while missing := pending(service.package, settings.database_url):
        if time.monotonic() > deadline:
            raise SystemExit(f"{name}: the database still lacks migrations {', '.join(missing)} after {timeout:.0f} s")
        log.info("%s: waiting for migrations %s", name, ", ".join(missing))
        time.sleep(2)
    log.info("%s: database is up to date", name)


#: the service whose web workers run under gevent (its Service.web_worker, mpdp_gateway.server)
GEVENT_SERVICE = "gateway"


def web(name: str) -> None:
    if name == GEVENT_SERVICE:
        # Each gevent worker patches the standard library as it starts, but it is forked from this
        # process, which imports urllib3 and PyJWT as it loads the services: classes they took from
        # ssl before the patch would stay blocking. So ssl is patched here, before they are imported
        # (nothing in this process uses TLS), and the workers patch the rest as before.
        from gevent import monkey

        monkey.patch_ssl()

    from gunicorn.app.base import BaseApplication

    from .httpserver import LIMIT_REQUEST_FIELD_SIZE, LIMIT_REQUEST_LINE

    service = _service(name)
    settings = Settings.from_env(service.name)

    class ServiceApplication(BaseApplication):
        def load_config(self) -> None:
            # The internal listener (metrics, readiness) is for operators, not the public.
            internal = [f"{settings.host}:{settings.internal_port}"] if settings.internal_port else []
            self.cfg.set("bind", [f"{settings.host}:{settings.port}", *internal])
            self.cfg.set("workers", settings.web_workers)
            self.cfg.set("threads", settings.web_threads)
            self.cfg.set("worker_class", service.web_worker)
            self.cfg.set("limit_request_line", LIMIT_REQUEST_LINE)
            self.cfg.set("limit_request_field_size", LIMIT_REQUEST_FIELD_SIZE)
            self.cfg.set("timeout", 120)
            self.cfg.set("graceful_timeout", 10)
            # Also how long a request's head may take to arrive under an asynchronous worker.
            self.cfg.set("keepalive", 5)
            self.cfg.set("proc_name", f"mpdp-{service.name}")
            self.cfg.set("control_socket_disable", True)
            self.cfg.set("logconfig_dict", gunicorn_log_config(settings))
            if name != GEVENT_SERVICE:
                # The workers fork from a master that has loaded the app, and share its pages
                # until they write them; gevent's workers patch the standard library as they start,
                # so the gateway's load after the fork.
                self.cfg.set("preload_app", True)
                self.cfg.set("post_fork", _fresh_connections_after_fork)
            if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
                from prometheus_client import multiprocess

                self.cfg.set("child_exit", lambda _server, worker: multiprocess.mark_process_dead(worker.pid))

        def load(self) -> Flask:
            from .web import create_app  # in the worker, after gevent's patches

            return create_app(service, settings)

    ServiceApplication().run()


def _fresh_connections_after_fork(_server: object, worker: Any) -> None:
    """A forked web worker opens connections of its own rather than share its master's sockets."""
    engine = worker.app.callable.extensions["mpdp"].engine if worker.app.callable is not None else None
    if engine is not None:
        engine.dispose(close=False)


def _observed(service: Service, settings: Settings) -> None:
    """An event process's logs and traces (its probes and metrics: `_serve_operator_endpoints`)."""
    configure_logging(service.name, settings.log_level)
    tracing.configure(service.name)


def relay(name: str) -> None:
    service = _service(name)
    settings = Settings.from_env(service.name)
    _observed(service, settings)
    stop = _stop_on_signals()
    with _operator_endpoints(service, settings, [], stop):
        service.run_relay(settings, stop)


def consume(name: str) -> None:
    service = _service(name)
    settings = Settings.from_env(service.name)
    _observed(service, settings)
    stop = _stop_on_signals()
    with _operator_endpoints(service, settings, [], stop):
        service.run_consumer(settings, stop)


def dead_letters(name: str, *, replay: bool, as_json: bool) -> None:
    """Print the events parked in a service's dead-letter queue and why; `replay` sends them back."""
    service = _service(name)
    if service.events is None or not service.events.handlers:
        raise SystemExit(f"{name} consumes no events, so it has no dead letters")
    settings = Settings.from_env(service.name)
    found = broker_for(settings).dead_letters(subscription_for(settings, service.events), replay=replay)
    if as_json:
        rows = [
            {"event_id": item.event_id, "type": item.type, "attempts": item.attempts, "error": item.error, "replayed": replay}
            for item in found
        ]
        print(json.dumps(rows, indent=2))
        return
    for item in found:
        print(f"{item.event_id or '-'}  {item.type or '-'}  after {item.attempts} attempts: {item.error or 'no error recorded'}")
    verb = "sent back to" if replay else "parked for"
    print(f"{len(found)} dead letter(s) {verb} {name}" + ("" if replay or not found else "; --replay sends them back"))


def announce(name: str) -> None:
    """Write the state a service owns to its outbox again as its events; the relay delivers them."""
    service = _service(name)
    if service.announce is None:
        announcing = [other.name for other in installed_services().values() if other.announce is not None]
        raise SystemExit(f"{name} has no state to announce; services that do: {', '.join(announcing) or 'none'}")
    engine = make_engine(Settings.from_env(service.name).database_url)
    written: Counter[str] = Counter()
    try:
        # Events told again, not changes: the audit log leaves them out by this actor.
        with acting(Actor.system(f"{name}.announce")):
            for event_type, count in service.announce(engine):
                written[event_type] += count
                print(f"{event_type}: {written[event_type]} written", flush=True)
    finally:
        engine.dispose()
    print(f"{written.total()} event(s) written to the {name} outbox; its relay delivers them")


def event_map() -> list[tuple[str, int, str, list[str]]]:
    """Every declared (type, version) with its producer and the `service: module.handler` that take it."""
    from . import contracts

    takers: dict[tuple[str, int], list[str]] = {}
    for name, service in sorted(installed_services().items()):
        for key, handler in (service.events.handlers if service.events else {}).items():
            takers.setdefault(key, []).append(f"{name}: {handler.__module__}.{handler.__qualname__}")
    return [
        (event_type, version, event_type.split(".")[0], takers.get((event_type, version), []))
        for event_type, version in contracts.declared()
    ]


def print_events(as_json: bool) -> None:
    rows = event_map()
    if as_json:
        print(json.dumps([{"type": t, "version": v, "producer": p, "handlers": h} for t, v, p, h in rows], indent=2))
        return
    for event_type, version, producer, handlers in rows:
        print(f"{event_type} v{version}  (from {producer})")
        for handler in handlers or ["not handled by any service"]:
            print(f"    {handler}")


def jobs(name: str) -> None:
    """The service's relay, consumer and workers as threads of one process. They wait on the
    database and the broker far more than they compute, and one Python process for them all
    costs a fraction of the memory of one each. When one of them ends by itself, the others are
    stopped and the process exits with status 1, for its supervisor to start it again."""
    service = _service(name)
    settings = Settings.from_env(service.name)
    _observed(service, settings)
    stop = _stop_on_signals()
    failed = threading.Event()

    def run_job(job: str, target: Callable[[Settings, threading.Event], None]) -> None:
        try:
            target(settings, stop)
        except Exception:
            log.exception("the %s %s failed", name, job)
        if not stop.is_set():
            log.error("the %s %s stopped; stopping the service's other jobs", name, job)
            failed.set()
            stop.set()

    threads = [threading.Thread(target=run_job, args=item, name=item[0]) for item in service.jobs.items()]
    for thread in threads:
        thread.start()
    with _operator_endpoints(service, settings, threads, stop):
        for thread in threads:
            thread.join()
    if failed.is_set():
        raise SystemExit(1)


@contextmanager
def _operator_endpoints(service: Service, settings: Settings, threads: list[threading.Thread], stop: threading.Event) -> Iterator[None]:
    """/healthz, /readyz and /metrics on `settings.jobs_port` for an event process, which serves no
    HTTP of its own, so that an orchestrator and Prometheus reach it like a web process: alive
    while each of its `threads` runs; ready while its database and its broker answer (the web's
    /readyz checks); its metrics (mpdp_common.metrics). A port already taken is logged and
    skipped: the jobs run regardless."""
    if not settings.jobs_port:
        yield
        return
    try:
        server = _probes_server(service, settings, threads, stop)
    except OSError as error:
        log.warning("no probes or metrics on %s:%d (%s)", settings.host, settings.jobs_port, error)
        yield
        return
    log.info("probes and metrics at http://%s:%d/", settings.host, settings.jobs_port)
    try:
        yield
    finally:
        server.shutdown()


def _probes_server(service: Service, settings: Settings, threads: list[threading.Thread], stop: threading.Event) -> ThreadingHTTPServer:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest  # not at the top: see web()

    engine = make_engine(settings.database_url, connections=1) if service.has_database else None

    def checks() -> dict[str, str]:
        found: dict[str, str] = {}
        if engine is not None:
            try:
                with engine.connect() as connection:
                    connection.exec_driver_sql("SELECT 1")
                found["database"] = "ok"
            except Exception as error:
                found["database"] = f"unavailable: {error.__class__.__name__}"
        if service.events is not None:
            try:
                broker_for(settings).ping()
                found["broker"] = "ok"
            except BrokerUnavailable as error:
                found["broker"] = f"unavailable: {error}"
        return found

    class Probes(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's hook name
            body: dict[str, Any]
            if self.path == "/healthz":
                stopped = [thread.name for thread in threads if not thread.is_alive()]
                status, body = (503, {"stopped": stopped}) if stopped or stop.is_set() else (200, {"status": "ok"})
            elif self.path == "/readyz":
                found = checks()
                status, body = (200 if all(state == "ok" for state in found.values()) else 503), {"checks": found}
            elif self.path == "/metrics":
                self._answer(200, generate_latest(), CONTENT_TYPE_LATEST)
                return
            else:
                status, body = 404, {}
            self._answer(status, json.dumps(body).encode(), "application/json")

        def _answer(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the probes' requests are not worth a log line each
            return None

    server = ThreadingHTTPServer((settings.host, settings.jobs_port), Probes)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="probes", daemon=True).start()
    return server


def work(name: str, worker: str) -> None:
    service = _service(name)
    if worker not in service.workers:
        raise SystemExit(f"{name} has no worker {worker!r}; it has: {', '.join(service.workers) or 'none'}")
    settings = Settings.from_env(service.name)
    _observed(service, settings)
    stop = _stop_on_signals()
    with _operator_endpoints(service, settings, [], stop):
        service.run_worker(worker, settings, stop)


# -- the whole platform ---------------------------------------------------------------------------


class Supervisor:
    """Starts child processes, restarts one that dies, and stops them all on Ctrl-C."""

    def __init__(self) -> None:
        self.children: dict[tuple[str, ...], tuple[subprocess.Popen, dict[str, str]]] = {}

    def start(self, env: dict[str, str], *command: str) -> None:
        process = subprocess.Popen([sys.executable, "-m", "mpdp_common.launcher", *command], env=env)
        self.children[command] = (process, env)

    def watch(self, stop: threading.Event) -> None:
        while not stop.wait(0.5):
            for command, (process, env) in list(self.children.items()):
                if process.poll() is not None:
                    log.warning("%s exited with %s; restarting it", " ".join(command), process.returncode)
                    time.sleep(1)
                    self.start(env, *command)

    def stop_all(self) -> None:
        for process, _env in self.children.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + 15
        for process, _env in self.children.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()


def readiness_url(settings: Settings, name: str) -> str:
    """Where a service says it is ready: on its internal listener if it has one."""
    internal_port = settings.for_service(name).internal_port
    if internal_port:
        return f"http://{urlparse(settings.service_urls[name]).hostname}:{internal_port}/readyz"
    return settings.service_urls[name] + "/readyz"


def wait_until_ready(readiness_urls: dict[str, str], given_up: Callable[[], bool], timeout: float = 60) -> bool:
    """Whether every service answers its readiness probe (`readiness_urls`, by name) within
    `timeout` seconds, unless `given_up()` says to stop waiting first."""
    import requests  # not at the top: see web()

    deadline = time.monotonic() + timeout
    pending = list(readiness_urls.values())
    while pending and time.monotonic() < deadline and not given_up():
        try:
            if requests.get(pending[0], timeout=1).status_code == 200:
                pending.pop(0)
                continue
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return not pending


def run_real(settings: Settings) -> None:
    services = installed_services()
    os.environ["MPDP_MODE"] = "real"
    _provide_local_secrets(settings, os.environ)
    env = dict(os.environ)
    migrate(list(services))
    metrics_root = os.path.abspath(os.path.join(settings.data_dir, "metrics"))
    supervisor = Supervisor()
    stop = _stop_on_signals()
    try:
        for name, service in services.items():
            metrics_dir = os.path.join(metrics_root, name)
            shutil.rmtree(metrics_dir, ignore_errors=True)
            os.makedirs(metrics_dir)
            supervisor.start(dict(env, PROMETHEUS_MULTIPROC_DIR=metrics_dir), "web", name)
            if service.jobs:
                supervisor.start(env, "jobs", name)
        if wait_until_ready({name: readiness_url(settings, name) for name in services}, stop.is_set):
            log.info("MPDP is running (real mode): %s  (Ctrl-C stops it)", settings.service_urls["gateway"])
        elif not stop.is_set():
            log.error("some services did not become ready; see their logs above")
        supervisor.watch(stop)
    finally:
        log.info("stopping")
        supervisor.stop_all()


def run_embedded(settings: Settings) -> None:
    """Every service in this one process: the same code, SQLite files and the in-process broker."""
    from werkzeug.serving import make_server

    from .web import create_app

    os.environ["MPDP_MODE"] = "embedded"
    _provide_local_secrets(settings, os.environ)
    services = installed_services()
    stop = _stop_on_signals()
    threads: list[threading.Thread] = []
    servers = []

    def spawn(target: Callable[..., object], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        threads.append(thread)

    for name, service in services.items():
        service_settings = Settings.from_env(name)
        if service.has_database:
            upgrade(service.package, service_settings.database_url)
        for run_job in service.jobs.values():
            spawn(run_job, service_settings, stop)
        app = create_app(service, service_settings)
        for port in filter(None, (service_settings.port, service_settings.internal_port)):
            server = make_server(service_settings.host, port, app, threaded=True)
            servers.append(server)
            spawn(server.serve_forever)
    log.info(
        "MPDP is running (embedded mode, data in %s): %s  (Ctrl-C stops it)",
        os.path.abspath(settings.data_dir),
        settings.service_urls["gateway"],
    )
    stop.wait()
    log.info("stopping")
    for server in servers:
        server.shutdown()


def run(settings: Settings) -> None:
    if settings.mode == "embedded":
        return run_embedded(Settings.from_env())
    database_up = reachable(settings.database_server_url, 5432)
    broker_up = any(reachable(url, 5672) for url in settings.amqp_urls)
    if database_up and broker_up:
        return run_real(settings)
    missing = [name for name, up in (("PostgreSQL", database_up), ("RabbitMQ", broker_up)) if not up]
    log.warning(
        "%s not reachable (MPDP_DATABASE_URL=%s, MPDP_AMQP_URL hosts %s): starting the embedded mode instead "
        "(one process, SQLite files, the in-process broker)",
        " and ".join(missing),
        settings.database_server_url,
        ", ".join(str(urlparse(url).hostname) for url in settings.amqp_urls),
    )
    os.environ["MPDP_MODE"] = "embedded"
    run_embedded(Settings.from_env())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mpdpctl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run")
    commands.add_parser("embedded")
    commands.add_parser("migrate").add_argument("names", nargs="*")
    waiting = commands.add_parser("wait-migrated", help="wait until the service's database has every migration of this code")
    waiting.add_argument("name")
    waiting.add_argument("--timeout", type=float, default=600, help="seconds before giving up with status 1 (default 600)")
    for name in ("web", "jobs", "relay", "consume"):
        commands.add_parser(name).add_argument("name")
    worker = commands.add_parser("work")
    worker.add_argument("name")
    worker.add_argument("worker")
    commands.add_parser("keygen").add_argument("path")
    dead = commands.add_parser("dead-letters", help="list a service's dead letters, or replay them once the cause is fixed")
    dead.add_argument("name")
    dead.add_argument("--replay", action="store_true", help="send every dead letter back to the service's queue")
    dead.add_argument("--json", action="store_true", help="machine-readable output")
    announcing = commands.add_parser(
        "announce", help="publish again the state a service owns, for services deployed after it was made or to repair a read model"
    )
    announcing.add_argument("name")
    events = commands.add_parser("events", help="every event type and version, its producer, and the handlers that consume it")
    events.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    configure_logging("mpdpctl", settings.log_level)
    if args.command == "run":
        run(settings)
    elif args.command == "embedded":
        os.environ["MPDP_MODE"] = "embedded"
        run_embedded(Settings.from_env())
    elif args.command == "migrate":
        migrate(args.names)
    elif args.command == "wait-migrated":
        wait_migrated(args.name, args.timeout)
    elif args.command == "web":
        web(args.name)
    elif args.command == "jobs":
        jobs(args.name)
    elif args.command == "relay":
        relay(args.name)
    elif args.command == "consume":
        consume(args.name)
    elif args.command == "dead-letters":
        dead_letters(args.name, replay=args.replay, as_json=args.json)
    elif args.command == "announce":
        announce(args.name)
    elif args.command == "events":
        print_events(args.json)
    elif args.command == "work":
        work(args.name, args.worker)
    elif args.command == "keygen":
        print(ensure_signing_key(args.path))


if __name__ == "__main__":
    main()
