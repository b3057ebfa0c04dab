"""The gateway's web process as a deployment runs it: gunicorn and its gevent worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_web_process_starts_and_stops_on_ctrl_c_without_a_complaint(tmp_path):
    port = free_port()
    env = dict(
        os.environ,
        MPDP_DATA_DIR=str(tmp_path),
        MPDP_GATEWAY_PORT=str(port),
        MPDP_GATEWAY_INTERNAL_PORT=str(free_port()),
        MPDP_WEB_WORKERS="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "mpdp_common.launcher", "web", "gateway"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            pytest.fail("the gateway did not answer within a minute")
        # Ctrl-C in a terminal reaches the arbiter and its worker alike.
        os.killpg(process.pid, signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert "Worker exiting" in output and "Shutting down: Master" in output
    # gevent warns when a module took ssl's classes before they were patched (they would block the
    # worker); a quit signal handled twice prints its SystemExit.
    assert "MonkeyPatchWarning" not in output and "Traceback" not in output, output
    assert process.returncode == 0
