"""`mpdpctl run` with no reachable database or broker says so and runs the embedded mode: one
process, SQLite files, the in-process broker, the same services."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import requests

from mpdp_common.config import SERVICE_PORTS

from .client import Client
from .conftest import _free_port, embedded_env, eventually


def test_embedded_mode_runs_the_whole_platform_in_one_process(tmp_path):
    ports = {name: _free_port() for name in SERVICE_PORTS}
    console = tmp_path / "console"
    console.mkdir()
    (console / "index.html").write_text('<div id="root"></div>')
    env = embedded_env(tmp_path, ports, console)
    log = open(tmp_path / "embedded.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "mpdp_common.launcher", "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    try:

        def up():
            try:
                return requests.get(f"{gateway}/healthz", timeout=1).status_code == 200
            except requests.RequestException:
                return process.poll() is not None

        eventually(up, timeout=60, interval=0.2)
        assert process.poll() is None, (tmp_path / "embedded.log").read_text()[-3000:]
        output = (tmp_path / "embedded.log").read_text()
        assert "PostgreSQL and RabbitMQ not reachable" in output and "embedded mode" in output
        page = requests.get(f"{gateway}/workspaces/any/miniprograms", timeout=5)
        assert page.text == '<div id="root"></div>' and "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]

        user = Client(gateway).new_account("solo")
        created = user.post("/api/v1/workspaces", json={"name": "Garage", "kind": "tenant"})
        assert created.status_code == 201, created.text
        workspace_id = created.json()["id"]
        # The in-process broker carries workspace.workspace.created to identity.
        eventually(lambda: [m for m in user.get("/api/v1/me").json()["memberships"] if m["workspace_id"] == workspace_id])
        assert (tmp_path / "embedded" / "identity.db").exists()
        assert len({p for p in os.listdir("/proc") if p.isdigit() and _is_child(int(p), process.pid)}) == 0
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
    assert process.returncode == 0


def _is_child(pid: int, parent: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1]) == parent
    except (OSError, ValueError, IndexError):
        return False
