"""`mpdpctl run` with no reachable database or broker says so and runs the embedded mode: one
process, SQLite files, the in-process broker, the same services."""

from __future__ import annotations

import os

import requests

from .client import Client
from .conftest import eventually, running_embedded


def test_embedded_mode_runs_the_whole_platform_in_one_process(tmp_path):
    console = tmp_path / "console"
    console.mkdir()
    (console / "index.html").write_text('<div id="root"></div>')
    with running_embedded(tmp_path, console) as (gateway, process):
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
    assert process.returncode == 0


def _is_child(pid: int, parent: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1]) == parent
    except (OSError, ValueError, IndexError):
        return False
