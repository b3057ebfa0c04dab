"""`mpdpctl jobs` answers /healthz and /readyz when given a port, as an orchestrator probes it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import closing
from http.server import ThreadingHTTPServer

import pytest
import requests
from sqlalchemy import MetaData

from mpdp_common.config import Settings
from mpdp_common.launcher import _probes_server
from mpdp_common.service import Service


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def job() -> Iterator[tuple[threading.Thread, threading.Event]]:
    done = threading.Event()
    thread = threading.Thread(target=done.wait, name="relay", daemon=True)
    thread.start()
    yield thread, done
    done.set()


def _probe(port: int, database_url: str, thread: threading.Thread) -> ThreadingHTTPServer:
    service = Service(name="probed", package="probed", metadata=MetaData())
    settings = Settings(host="127.0.0.1", jobs_port=port, database_url=database_url)
    return _probes_server(service, settings, [thread], threading.Event())


def test_alive_while_every_job_runs_and_ready_while_its_database_answers(job, tmp_path):
    thread, done = job
    port = _free_port()
    server = _probe(port, f"sqlite:///{tmp_path}/probed.db", thread)
    try:
        base = f"http://127.0.0.1:{port}"
        assert requests.get(base + "/healthz", timeout=5).status_code == 200
        ready = requests.get(base + "/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json() == {"checks": {"database": "ok"}}
        done.set()
        thread.join(5)
        stopped = requests.get(base + "/healthz", timeout=5)
        assert stopped.status_code == 503 and stopped.json() == {"stopped": ["relay"]}
        assert requests.get(base + "/other", timeout=5).status_code == 404
        metrics = requests.get(base + "/metrics", timeout=5)
        assert metrics.status_code == 200 and "mpdp_events_relayed_total" in metrics.text
    finally:
        server.shutdown()


def test_not_ready_while_its_database_is_away(job):
    thread, _done = job
    port, nowhere = _free_port(), _free_port()
    server = _probe(port, f"postgresql+psycopg://postgres@127.0.0.1:{nowhere}/probed", thread)
    try:
        ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=15)
        assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("unavailable")
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        server.shutdown()
