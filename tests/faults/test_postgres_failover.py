"""PostgreSQL fails over to a streaming replica under load: the primary crashes, the replica is
promoted, and the services, whose database URLs name both servers with
`target_session_attrs=read-write`, carry on with the new primary by themselves.

Both servers are the test's own: a primary initialised here, and a replica made from it with
`pg_basebackup` on another port, replicating synchronously (a commit is acknowledged once the
replica has it), so that what the service answered 201 for survives the primary's loss.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.integration.conftest import LOCAL_BROKER, Platform

from .conftest import PG_BIN, Load, OwnPostgres, _free_port, commit_to_effect_seconds

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

#: how long the primary is gone before the replica is promoted (a failover manager's decision time)
DECISION_SECONDS = 3.0


class OwnStandby(OwnPostgres):
    """A streaming replica of `primary`, from its base backup, on a port of its own."""

    def __init__(self, base: Path, primary: OwnPostgres):
        self.base, self.port, self.bin_dir = base, _free_port(), primary.bin_dir
        self.data = base / "data"
        shutil.chown(base, "postgres")
        self._as_postgres(
            str(self.bin_dir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(self.data), "-R", "-X", "stream", "--no-sync",
        )  # fmt: skip

    def promote(self) -> None:
        self._as_postgres(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-w", "promote")


def _crash(server: OwnPostgres) -> None:
    """Stop without a checkpoint or a goodbye to the clients, as a lost machine does."""
    server._as_postgres(str(server.bin_dir / "pg_ctl"), "-D", str(server.data), "-m", "immediate", "-w", "stop")


def _sql(url: str, statement: str) -> list[tuple]:
    engine = create_engine(f"{url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            result = connection.execute(text(statement))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


@pytest.fixture
def replicated() -> Iterator[tuple[OwnPostgres, OwnStandby]]:
    if PG_BIN is None or not (PG_BIN / "pg_basebackup").exists():
        pytest.skip("needs PostgreSQL's server binaries and pg_basebackup")
    homes = [Path(tempfile.mkdtemp(prefix=f"mpdp-failover-{role}-")) for role in ("primary", "replica")]
    primary = OwnPostgres(homes[0], PG_BIN)
    standby: OwnStandby | None = None
    try:
        primary.start()
        standby = OwnStandby(homes[1], primary)
        standby.start()
        deadline = time.monotonic() + 30
        while not _sql(primary.url, "SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'"):
            assert time.monotonic() < deadline, "the replica never streamed"
            time.sleep(0.2)
        _sql(primary.url, "ALTER SYSTEM SET synchronous_standby_names = '*'")
        _sql(primary.url, "SELECT pg_reload_conf()")
        while _sql(primary.url, "SELECT sync_state FROM pg_stat_replication") != [("sync",)]:
            assert time.monotonic() < deadline, "the replica never became synchronous"
            time.sleep(0.2)
        yield primary, standby
    finally:
        for server in (standby, primary):
            if server is not None:
                try:
                    server.stop()
                except subprocess.CalledProcessError:
                    pass  # already down
        for home in homes:
            shutil.rmtree(home, ignore_errors=True)


def test_the_primary_lost_and_the_replica_promoted_under_load(replicated, tmp_path):
    primary, standby = replicated
    platform = Platform(primary.url, os.environ.get("MPDP_TEST_AMQP_URL", LOCAL_BROKER), tmp_path)
    hosts = f"host=127.0.0.1:{primary.port}&host=127.0.0.1:{standby.port}&target_session_attrs=read-write"
    platform.env.update(
        {
            f"MPDP_{name.upper()}_DATABASE_URL": f"postgresql+psycopg://postgres@/{platform.prefix}_{name}?{hosts}"
            for name in ("identity", "workspace", "catalog", "approval", "telemetry")
        },
        MPDP_WEB_WORKERS="2",
    )
    try:
        platform.start()
        with Load(platform.gateway) as load:
            time.sleep(3)
            crashed_at = time.monotonic()
            _crash(primary)
            time.sleep(DECISION_SECONDS)
            standby.promote()
            promoted_at = time.monotonic()
            time.sleep(12)

        during = load.between(crashed_at, promoted_at + 0.5)
        failed = [item for item in during if item.status >= 400 or item.status == 0]
        # While no server takes writes, the service says so cleanly: 503 problems, nothing else.
        assert {(item.status, item.problem) for item in failed} <= {(503, True)}, load.summary(during)
        after = [item for item in load.between(promoted_at, time.monotonic()) if item.status < 400 and item.status]
        assert after, "the service never answered again after the promotion"
        back_after = after[0].at - promoted_at
        # Full service within 5 s of the promotion, with nobody restarting anything.
        settled = load.between(promoted_at + 5, time.monotonic())
        assert settled and all(item.status < 400 for item in settled), load.summary(settled)
        # Every workspace the service answered 201 for was committed on both servers, and its
        # event (in the same transaction, in the outbox) reached identity: nothing was lost.
        load.every_workspace_reaches_its_creator(timeout=60)
        assert commit_to_effect_seconds(platform.gateway) < 5
        print(
            f"\npostgres failover: {len(load.outcomes)} requests, {len(load.created)} workspaces created and all reached "
            f"their creators; during the switch ({DECISION_SECONDS:.0f} s down, then promote): {dict(load.summary(during))}; "
            f"first success {back_after:.2f} s after the promotion"
        )
    finally:
        platform.stop()
        try:
            platform.cleanup()  # its queues; its databases go with both servers
        except Exception:
            pass
