"""The whole platform behind PgBouncer in transaction mode: every service's pool goes through
one PgBouncer (its own, on a free port, in front of the local PostgreSQL), with the
`?prepare_threshold=none` that keeps psycopg from preparing statements there. Sign-up, the
repeated `/me` that psycopg would otherwise prepare after five runs, a workspace whose events
cross services, and the connections PgBouncer holds on the server side stay within its pool."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.integration.client import Client
from tests.integration.conftest import LOCAL_BROKER, LOCAL_DATABASE, Platform, eventually

from .conftest import _free_port, _wait_for_port

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
#: server connections per database and user: every service's pool shares them
POOL_SIZE = 5


@pytest.fixture
def pgbouncer() -> Iterator[str]:
    if not Path(PGBOUNCER).exists():
        pytest.fail("pgbouncer is not installed (make faults installs it)")
    base = Path(tempfile.mkdtemp(prefix="mpdp-pgbouncer-"))
    port = _free_port()
    (base / "users.txt").write_text('"postgres" ""\n')
    (base / "pgbouncer.ini").write_text(
        "\n".join(
            [
                "[databases]",
                "* = host=127.0.0.1 port=5432",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {port}",
                "unix_socket_dir =",
                "auth_type = trust",
                f"auth_file = {base / 'users.txt'}",
                "pool_mode = transaction",
                f"default_pool_size = {POOL_SIZE}",
                "max_client_conn = 1000",
                "ignore_startup_parameters = extra_float_digits,options",
                f"logfile = {base / 'pgbouncer.log'}",
                "",
            ]
        )
    )
    # PgBouncer refuses to run as root: then the machine's postgres user runs it.
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        for path in (base, *base.iterdir()):
            shutil.chown(path, "postgres")
    process = subprocess.Popen([*as_postgres, PGBOUNCER, str(base / "pgbouncer.ini")], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}?prepare_threshold=none"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(base, ignore_errors=True)


def test_the_platform_works_behind_pgbouncer_in_transaction_mode(pgbouncer, tmp_path):
    platform = Platform(LOCAL_DATABASE, LOCAL_BROKER, tmp_path)
    platform.env["MPDP_DATABASE_URL"] = pgbouncer
    try:
        platform.start()
        client = Client(platform.gateway)
        admin = client.new_account("admin")
        for _ in range(20):  # past psycopg's prepare threshold, on whichever server connection comes
            me = admin.get("/api/v1/me")
            assert me.status_code == 200, me.text
        created = admin.post("/api/v1/workspaces", json={"name": "Pooled", "kind": "tenant"})
        assert created.status_code == 201, created.text
        ws = created.json()["id"]
        # identity makes the creator its admin from the workspace's event: relay, broker, consumer, all pooled
        assert eventually(lambda: admin.get(f"/api/v1/workspaces/{ws}/members").status_code == 200, timeout=30)
        app = admin.post(f"/api/v1/workspaces/{ws}/apps", json={"name": "Pooled app", "platforms": ["ios"], "bundle_id": "com.acme.pooled"})
        assert app.status_code == 201, app.text

        direct = create_engine(f"{LOCAL_DATABASE}/postgres")
        with direct.connect() as connection:
            held = connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname LIKE :prefix"), {"prefix": f"{platform.prefix}\\_%"}
            ).scalar_one()
        direct.dispose()
        # Five services' web, relay, consumer and worker pools, yet at most POOL_SIZE server connections per database.
        assert 0 < held <= POOL_SIZE * 5, held
    finally:
        platform.stop()
        platform.cleanup()
