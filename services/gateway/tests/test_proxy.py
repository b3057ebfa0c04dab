"""The gateway in-process against a small upstream of the test's own."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from mpdp_common.config import Settings
from mpdp_common.testing import Harness
from mpdp_gateway.service import service


def upstream_app(environ, start_response):
    request = Request(environ)
    if request.path.endswith("/slow"):
        time.sleep(1.5)
    if request.path.endswith("/stream"):
        body = iter([b"chunk-%d;" % n for n in range(5)])
        return Response(body, headers={"Connection": "close, X-Secret-Hop", "X-Secret-Hop": "1"})(environ, start_response)
    echo = {
        "method": request.method,
        "path": request.full_path,
        "headers": dict(request.headers),
        "body_length": len(request.get_data()),
    }
    return Response(json.dumps(echo), content_type="application/json")(environ, start_response)


@pytest.fixture(scope="module")
def upstream():
    server = make_server("127.0.0.1", 0, upstream_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def gateway(tmp_path):
    """Starts a gateway whose identity service is at `identity_url`; answers its test client."""

    def start(identity_url: str, **overrides):
        service_urls = dict(Settings.from_env("gateway").service_urls, identity=identity_url)
        return Harness(service, tmp_path, service_urls=service_urls, upstream_read_timeout=0.5, **overrides).http

    return start


def test_forwards_method_path_query_and_body_and_strips_hop_by_hop_headers(upstream, gateway):
    client = gateway(upstream)
    response = client.post(
        "/api/v1/accounts?x=1&y=2",
        data=b'{"a": 1}',
        headers={
            "Content-Type": "application/json",
            "Connection": "keep-alive, X-Private",
            "X-Private": "must not pass",
            "Keep-Alive": "timeout=5",
            "X-Request-Id": "abc-123",
        },
    )
    assert response.status_code == 200
    echoed = response.get_json()
    assert echoed["method"] == "POST" and echoed["path"] == "/api/v1/accounts?x=1&y=2" and echoed["body_length"] == 8
    sent = {name.lower(): value for name, value in echoed["headers"].items()}
    # The client's hop-by-hop headers stay behind; the gateway's own connection has its own.
    assert "keep-alive" not in sent and "x-private" not in sent and "x-private" not in sent.get("connection", "").lower()
    assert echoed["headers"]["X-Request-Id"] == "abc-123"
    assert echoed["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert response.headers["X-Request-Id"] == "abc-123"


def test_streams_the_answer_without_its_hop_by_hop_headers(upstream, gateway):
    response = gateway(upstream).get("/api/v1/me/stream")
    assert response.data == b"chunk-0;chunk-1;chunk-2;chunk-3;chunk-4;"
    assert "X-Secret-Hop" in response.headers  # an end-to-end header the service chose to send
    assert response.headers.get("Connection") is None


def test_a_service_that_is_down_is_a_503_problem(gateway):
    response = gateway(closed_port()).get("/api/v1/me")
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Retry-After"]
    assert "identity" in response.get_json()["detail"]


def test_a_slow_service_is_a_504_problem(upstream, gateway):
    response = gateway(upstream).get("/api/v1/me/slow")
    assert response.status_code == 504
    assert response.get_json()["status"] == 504


def test_unknown_paths_are_404_problems(upstream, gateway):
    response = gateway(upstream).get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.headers["Content-Type"] == "application/problem+json"


def test_rate_limits_per_token_and_per_client(upstream, gateway):
    client = gateway(upstream, rate_limit_per_token="3/minute", rate_limit_per_client="5/minute")
    first, second = {"Authorization": "Bearer mpdp_ak_first"}, {"Authorization": "Bearer mpdp_ak_second"}
    assert [client.get("/api/v1/me", headers=first).status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get("/api/v1/me", headers=first)
    assert limited.status_code == 429
    assert limited.headers["Content-Type"] == "application/problem+json"
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    # Another token from the same client still has its own budget, until the client's runs out.
    assert client.get("/api/v1/me", headers=second).status_code == 200
    assert client.get("/api/v1/me").status_code == 429
    assert "Retry-After" not in client.get("/healthz").headers


def test_bodies_over_the_json_cap_are_refused_before_forwarding(upstream, gateway):
    client = gateway(upstream, max_body_bytes=1024)
    response = client.post("/api/v1/accounts", data=b"x" * 2048, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    streamed = client.post("/api/v1/accounts", data=b"x" * 2048, headers={"Content-Type": "application/zip"})
    assert streamed.status_code == 200 and streamed.get_json()["body_length"] == 2048


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_answers(), reason="no Redis on 127.0.0.1:6379 for the shared limiter storage")
def test_gateway_processes_share_limits_through_redis(upstream, gateway):
    storage = {"rate_limit_storage_uri": "redis://127.0.0.1:6379/0", "rate_limit_per_token": "2/minute"}
    first, second = gateway(upstream, **storage), gateway(upstream, **storage)
    token = {"Authorization": f"Bearer mpdp_ak_shared-{time.time_ns()}"}
    assert first.get("/api/v1/me", headers=token).status_code == 200
    assert second.get("/api/v1/me", headers=token).status_code == 200
    assert first.get("/api/v1/me", headers=token).status_code == 429
