"""The fault suite: the real platform under a steady load while a dependency fails under it.

PostgreSQL and Redis are servers of this suite's own (a throwaway cluster and instance on free
ports), so stopping them disturbs nothing else on the machine. RabbitMQ is the local broker,
whose application the broker case stops and starts: run this suite on its own (`make faults`),
never beside another test run.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.integration.client import Client  # noqa: E402
from tests.integration.conftest import LOCAL_BROKER, Platform, eventually  # noqa: E402

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None) if Path("/usr/lib/postgresql").exists() else None
PROBLEM = "application/problem+json"


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


class OwnPostgres:
    """A PostgreSQL cluster of the suite's own, run as the `postgres` user (it refuses root)."""

    def __init__(self, base: Path, bin_dir: Path):
        self.base, self.port = base, _free_port()
        self.bin_dir = bin_dir
        self.data = base / "data"
        shutil.chown(base, "postgres")
        self._as_postgres(str(bin_dir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def _as_postgres(self, *command: str) -> None:
        runner = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
        subprocess.run([*runner, *command], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
        self._as_postgres(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.base / "log"), "-w", "start")

    def stop(self) -> None:
        self._as_postgres(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


class OwnRedis:
    def __init__(self, base: Path):
        self.base, self.port = base, _free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen([*command, "--dir", str(self.base)], stdout=subprocess.DEVNULL)
        _wait_for_port(self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def _can_mount() -> bool:
    probe = Path(tempfile.mkdtemp(prefix="mpdp-mount-"))
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(probe)], capture_output=True).returncode == 0
        if mounted:
            subprocess.run(["umount", str(probe)], check=True)
        return mounted
    finally:
        probe.rmdir()


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OwnPostgres, OwnRedis]]:
    if PG_BIN is None or shutil.which("redis-server") is None:
        pytest.skip("the fault suite needs PostgreSQL's server binaries and redis-server on this machine")
    # Outside pytest's private temporary folder, which the postgres user may not enter.
    postgres_home = Path(tempfile.mkdtemp(prefix="mpdp-faults-pg-"))
    postgres = OwnPostgres(postgres_home, PG_BIN)
    redis = OwnRedis(tmp_path_factory.mktemp("redis"))
    postgres.start()
    redis.start()
    yield postgres, redis
    redis.stop()
    try:
        postgres.stop()
    except subprocess.CalledProcessError:
        pass  # already stopped by a failed case
    shutil.rmtree(postgres_home, ignore_errors=True)


@dataclass
class FaultPlatform:
    platform: Platform
    postgres: OwnPostgres
    redis: OwnRedis
    blob_volume: Path | None

    @property
    def gateway(self) -> str:
        return self.platform.gateway


@pytest.fixture(scope="session")
def faulty(servers: tuple[OwnPostgres, OwnRedis], tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultPlatform]:
    postgres, redis = servers
    workdir = tmp_path_factory.mktemp("platform")
    # The catalog's packages on a small volume of their own, which the disk-full case fills.
    blob_volume = workdir / "catalog"
    blob_volume.mkdir()
    mounted = _can_mount() and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(blob_volume)]).returncode == 0
    platform = Platform(postgres.url, os.environ.get("MPDP_TEST_AMQP_URL", LOCAL_BROKER), workdir)
    platform.env.update(
        MPDP_RATE_LIMIT_STORAGE_URI=redis.url,
        MPDP_RATE_LIMIT_PER_CLIENT="1000000/minute",
        MPDP_RATE_LIMIT_PER_TOKEN="1000000/minute",
        # Slow polling, so that a commit reaching its effect quickly shows the relay LISTENs again.
        MPDP_OUTBOX_POLL_SECONDS="5",
        MPDP_WEB_WORKERS="2",
    )
    try:
        platform.start()
        yield FaultPlatform(platform, postgres, redis, blob_volume if mounted else None)
    finally:
        platform.stop()
        try:
            platform.cleanup()
        except Exception:  # the database may be the fault that ended the run
            pass
        if mounted:
            subprocess.run(["umount", "-l", str(blob_volume)])


@dataclass
class Outcome:
    at: float
    operation: str
    status: int  # 0: no answer at all
    problem: bool


@dataclass
class Load:
    """Clients doing what people do all day, recording every answer with its time."""

    gateway: str
    clients: int = 3
    outcomes: list[Outcome] = field(default_factory=list)
    created: dict[str, Client] = field(default_factory=dict)  # workspace id -> its creator
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __enter__(self) -> Load:
        self.users = [Client(self.gateway).new_account("load") for _ in range(self.clients)]
        self.threads = [threading.Thread(target=self._run, args=(user,), daemon=True) for user in self.users]
        for thread in self.threads:
            thread.start()
        time.sleep(1)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(40)

    def _run(self, user: Client) -> None:
        session = requests.Session()
        headers = {"Authorization": f"Bearer {user.token}"}
        while not self.stop.is_set():
            self._call(session, "me", "GET", "/api/v1/me", headers)
            answer = self._call(session, "create workspace", "POST", "/api/v1/workspaces", headers, {"name": "Load", "kind": "tenant"})
            if answer is not None and answer.status_code == 201:
                with self.lock:
                    self.created[answer.json()["id"]] = user
            time.sleep(0.05)

    def _call(
        self, session: requests.Session, operation: str, method: str, path: str, headers: dict[str, str], body: dict[str, Any] | None = None
    ) -> requests.Response | None:
        try:
            answer = session.request(method, self.gateway + path, headers=headers, json=body, timeout=30)
        except requests.RequestException:
            answer = None
        outcome = Outcome(
            time.monotonic(),
            operation,
            answer.status_code if answer is not None else 0,
            answer is not None and answer.headers.get("Content-Type", "").startswith(PROBLEM),
        )
        with self.lock:
            self.outcomes.append(outcome)
        return answer

    def between(self, start: float, end: float) -> list[Outcome]:
        with self.lock:
            return [item for item in self.outcomes if start <= item.at < end]

    def summary(self, outcomes: list[Outcome]) -> Counter[str]:
        return Counter(f"{item.operation} {item.status}" for item in outcomes)

    def every_workspace_reaches_its_creator(self, timeout: float = 60) -> None:
        """No event lost: every workspace the load created becomes its creator's membership."""
        with self.lock:
            created = dict(self.created)
        assert created, "the load created nothing"

        def missing() -> list[str]:
            lost = []
            for user in {id(user): user for user in created.values()}.values():
                mine = {m["workspace_id"] for m in user.get("/api/v1/me").json()["memberships"]}
                lost += [ws for ws, owner in created.items() if owner is user and ws not in mine]
            return lost

        deadline = time.monotonic() + timeout
        while (lost := missing()) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not lost, f"{len(lost)} of {len(created)} workspaces never reached their creator: {lost[:5]}"


def commit_to_effect_seconds(gateway: str) -> float:
    """The time from creating a workspace to its admin membership showing: one commit, its
    event relayed, consumed and committed in identity."""
    user = Client(gateway).new_account("timing")
    started = time.monotonic()
    created = user.post("/api/v1/workspaces", json={"name": "Timing", "kind": "tenant"})
    assert created.status_code == 201, created.text
    ws = created.json()["id"]
    eventually(lambda: any(m["workspace_id"] == ws for m in user.get("/api/v1/me").json()["memberships"]), timeout=30, interval=0.02)
    return time.monotonic() - started
