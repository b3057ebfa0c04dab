"""Clients that stall or give up mid-request cannot take the gateway, or a service behind it, down."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlparse

import requests

from .conftest import eventually

#: MPDP_GATEWAY_CLIENT_TIMEOUT of the test platform, and gunicorn's keep-alive (the time a request's head may take)
CLIENT_TIMEOUT = 4
HEAD_TIMEOUT = 5


def _connect(base: str) -> socket.socket:
    url = urlparse(base)
    return socket.create_connection((url.hostname, url.port), timeout=30)


def _closed_by_server(sock: socket.socket) -> bool:
    """True once the server has answered and closed, or closed: what it held for this client is free."""
    sock.settimeout(0.05)
    try:
        while chunk := sock.recv(65536):
            del chunk
        return True
    except TimeoutError:
        return False
    except OSError:
        return True


def test_a_hundred_stalled_connections_do_not_keep_others_from_being_served(platform, make_user):
    user = make_user("patient")
    stalled = []
    try:
        for _ in range(100):
            sock = _connect(platform.gateway)
            sock.sendall(b"GET /api/v1/me HT")  # half a request line, then nothing
            stalled.append(sock)
        for _ in range(15):
            started = time.monotonic()
            assert requests.get(f"{platform.gateway}/healthz", timeout=5).status_code == 200
            assert user.get("/api/v1/me").status_code == 200
            assert time.monotonic() - started < 2
        # And the stalled connections are let go of once the time for a request's head is over.
        eventually(lambda: all(_closed_by_server(sock) for sock in stalled), timeout=HEAD_TIMEOUT + 10, interval=0.5)
    finally:
        for sock in stalled:
            sock.close()


def test_abandoned_uploads_are_let_go_within_seconds_and_never_hold_a_service(platform, make_user):
    user = make_user("quitter")
    path = "/api/v1/workspaces/somewhere/miniprograms/something/versions"
    host = urlparse(platform.gateway).netloc
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {user.token}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 4000000\r\n\r\n"
    ).encode()
    # More uploads than the catalog has threads (8), each stopping halfway.
    abandoned = []
    try:
        for _ in range(12):
            sock = _connect(platform.gateway)
            sock.sendall(head + b"\0" * 2_000_000)
            abandoned.append(sock)
        started = time.monotonic()
        # The catalog never saw them: it answers at once, directly and through the gateway.
        assert requests.get(f"{platform.url('catalog')}/readyz", timeout=5).status_code == 200
        complete = user.post(path, files={"package": ("p.zip", b"PK", "application/zip")}, data={"version": "1.0.0"})
        assert complete.status_code == 404 and complete.headers["Content-Type"] == "application/problem+json"
        assert time.monotonic() - started < 3
        # The gateway lets go of each abandoned upload once the client has sent nothing for its timeout.
        eventually(lambda: all(_closed_by_server(sock) for sock in abandoned), timeout=CLIENT_TIMEOUT + 10, interval=0.5)
        assert time.monotonic() - started < CLIENT_TIMEOUT + 10
    finally:
        for sock in abandoned:
            sock.close()
