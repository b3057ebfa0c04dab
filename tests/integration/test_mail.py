"""Invitation mail goes out from identity's own queue and worker: an SMTP server that never
answers holds up nothing but its own mail."""

from __future__ import annotations

import socket
import threading
import time

import pytest


@pytest.fixture
def silent_smtp_server():
    """Accepts connections and never says a word, as a firewalled or hostile host would."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1], held
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_silent_smtp_server_does_not_hold_up_membership_events(make_user, make_workspace, silent_smtp_server):
    port, held = silent_smtp_server
    admin = make_user("admin")
    ws = make_workspace(admin)
    service_email = {"sender": "noreply@acme.example", "smtp_host": "127.0.0.1", "smtp_port": port}
    assert admin.put(f"/api/v1/workspaces/{ws}/settings", json={"service_email": service_email}).status_code == 200
    time.sleep(1.0)  # identity's read model of the SMTP settings, fed by workspace.settings.updated
    for number in range(3):
        invited = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": f"guest{number}@example.com", "role": "developer"})
        assert invited.status_code == 201
    deadline = time.monotonic() + 10
    while not held and time.monotonic() < deadline:
        time.sleep(0.1)
    assert held, "the mail worker never tried the SMTP server"

    started = time.monotonic()
    make_workspace(make_user("other"))  # waits until identity has made its creator the admin
    assert time.monotonic() - started < 5
