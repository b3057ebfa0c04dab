"""HTTP at its edges, through the gateway: every refusal is a problem document, even those the
HTTP server itself makes before any application code runs."""

from __future__ import annotations

import base64
import json
import socket
from functools import partial
from urllib.parse import urlparse

import requests

from .conftest import eventually


def raw_exchange(base: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` bytes as they are, and read the whole answer (the server closes after it)."""
    url = urlparse(base)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def assert_problem(status: int, headers: dict[str, str], body: bytes, expected: int) -> None:
    assert status == expected, body[:300]
    assert headers["content-type"] == "application/problem+json"
    document = json.loads(body)
    assert document["status"] == expected and document["title"] and document["detail"]


def test_what_the_http_server_refuses_is_a_problem_document(platform):
    host = f"Host: 127.0.0.1:{platform.ports['gateway']}\r\n"
    long_url = b"GET /api/v1/me?q=" + b"a" * 20000 + b" HTTP/1.1\r\n" + host.encode() + b"Connection: close\r\n\r\n"
    assert_problem(*raw_exchange(platform.gateway, long_url), 414)
    long_header = b"GET /api/v1/me HTTP/1.1\r\n" + host.encode() + b"X-Big: " + b"b" * 20000 + b"\r\nConnection: close\r\n\r\n"
    assert_problem(*raw_exchange(platform.gateway, long_header), 431)
    for line in (b"GARBAGE\r\n\r\n", b"GET /api/v1/me HTTP/9.9\r\n\r\n", b"G\x01T / HTTP/1.1\r\n\r\n"):
        assert_problem(*raw_exchange(platform.gateway, line), 400)
    # A service behind the gateway answers the same way to a caller who reaches it directly.
    assert_problem(*raw_exchange(platform.url("identity"), b"GARBAGE\r\n\r\n"), 400)


def test_a_chunked_json_body_over_the_limit_is_413(client):
    def chunks():
        yield b'{"email": "big@example.com", "name": "'
        for _ in range(80):
            yield b"n" * 16384
        yield b'", "password": "a long password"}'

    answer = client.post("/api/v1/accounts", data=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.headers["Content-Type"] == "application/problem+json"

    def small():
        yield b'{"email": "chunked@example.com", '
        yield b'"name": "Chunk", "password": "a long password"}'

    assert client.post("/api/v1/accounts", data=small(), headers={"Content-Type": "application/json"}).status_code == 201


def test_a_method_a_route_does_not_take_is_405(client):
    for method in ("PUT", "DELETE", "PATCH"):
        answer = client.request(method, "/api/v1/accounts", data="x", headers={"Content-Type": "text/plain"})
        assert answer.status_code == 405 and answer.headers["Content-Type"] == "application/problem+json"
        assert "POST" in answer.headers["Allow"]


def test_retry_after_is_only_on_answers_that_ask_to_wait(make_user):
    user = make_user("patient")
    me = user.get("/api/v1/me")
    assert me.status_code == 200 and "Retry-After" not in me.headers
    assert "Retry-After" not in requests.get(user.base + "/api/v1/openapi.json", timeout=30).headers


def test_inputs_that_once_crashed_a_service_are_4xx_problems(client, make_user, make_workspace):
    surrogate = '{"email": "\\ud800x@example.com", "password": "a long password", "name": "\\ud800x"}'
    for path in ("/api/v1/accounts", "/api/v1/auth/token"):
        answer = client.post(path, data=surrogate, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400 and answer.headers["Content-Type"] == "application/problem+json"

    admin = make_user("admin")
    ws = make_workspace(admin)
    cursor = base64.urlsafe_b64encode(json.dumps(["0001-01-01T00:00:00+14:00", "x"]).encode()).decode()

    def refused_cursor(listing: str):
        answer = admin.get(f"/api/v1/workspaces/{ws}/{listing}?cursor={cursor}")
        # 404 until the service has learned of the new workspace's admin from identity's event
        return answer.status_code != 404 and (answer.status_code, answer.json())

    for listing in ("members", "apps", "miniprograms"):
        status, problem = eventually(partial(refused_cursor, listing))
        assert status == 422 and "cursor" in problem["errors"], (listing, problem)

    parameters: dict = {"type": "string"}
    for _ in range(300):
        parameters = {"type": "array", "items": parameters}
    jsapi = {"name": "deep", "platforms": ["ios"], "parameters": parameters}
    answer = admin.post(f"/api/v1/workspaces/{ws}/jsapis", json=jsapi)
    assert answer.status_code == 422 and "parameters" in answer.json()["errors"]


def test_a_large_body_a_service_refuses_unread_leaves_the_next_request_unharmed(platform):
    # Ingest refuses an unknown key before it reads the batch. The gateway keeps its connection to
    # the service for the next request, which must find it open.
    batch = json.dumps({"events": [{"event_id": str(index), "type": "custom", "name": "x" * 200} for index in range(1000)]})
    assert len(batch) > 200_000
    for _ in range(3):
        refused = requests.post(
            f"{platform.gateway}/ingest/v1/events",
            data=batch,
            headers={"Content-Type": "application/json", "X-MPDP-Key": "nobody"},
            timeout=10,
        )
        assert refused.status_code == 401
        after = requests.post(f"{platform.gateway}/ingest/v1/events", json={"events": []}, headers={"X-MPDP-Key": "nobody"}, timeout=10)
        assert after.status_code == 401, after.text
