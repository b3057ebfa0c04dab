"""The gateway in-process against a small upstream of the test's own."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from mpdp_common.config import Settings
from mpdp_common.events.actors import valid_traceparent
from mpdp_common.testing import Harness
from mpdp_gateway.limits import SYNC_SECONDS
from mpdp_gateway.service import service


def upstream_app(environ, start_response):
    request = Request(environ)
    if request.path.endswith("/slow"):
        time.sleep(1.5)
    if request.path.endswith("/limited"):
        headers = {"Retry-After": "7", "X-Sentry-Rate-Limits": "7:error:key"}
        return Response('{"status": 429}', status=429, headers=headers, content_type="application/problem+json")(environ, start_response)
    if request.path.endswith("/stream"):
        body = iter([b"chunk-%d;" % n for n in range(5)])
        return Response(body, headers={"Connection": "close, X-Secret-Hop", "X-Secret-Hop": "1"})(environ, start_response)
    echo = {
        "method": request.method,
        "path": request.full_path,
        "raw_uri": environ.get("RAW_URI") or environ.get("REQUEST_URI"),
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

    def start(identity_url: str, telemetry_url: str | None = None, **overrides):
        service_urls = dict(Settings.from_env("gateway").service_urls, identity=identity_url)
        if telemetry_url:
            service_urls["telemetry"] = telemetry_url
        return Harness(
            service, tmp_path, service_urls=service_urls, upstream_read_timeout=0.5, **{"rate_limit_storage_uri": "memory://", **overrides}
        ).http

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


def test_a_valid_traceparent_is_forwarded_and_a_missing_or_invalid_one_is_begun(upstream, gateway):
    client = gateway(upstream)
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    asked = ({"traceparent": trace}, {"traceparent": "junk"}, {})
    sent = [client.get("/api/v1/me", headers=headers).get_json()["headers"] for headers in asked]
    forwarded = [{name.lower(): value for name, value in headers.items()}["traceparent"] for headers in sent]
    assert forwarded[0] == trace
    assert all(valid_traceparent(value) for value in forwarded[1:]) and forwarded[1] != forwarded[2]


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


def test_an_encoded_question_mark_in_the_path_stays_in_the_path(upstream, gateway):
    echoed = gateway(upstream).post("/api/v1/invitations/a%3Fb%23c%25d/accept?x=1%262")
    assert echoed.get_json()["path"] == "/api/v1/invitations/a?b#c%d/accept?x=1%262"  # as the service decodes it


def test_retry_after_is_sent_only_with_429_and_503(upstream, gateway):
    client = gateway(upstream, rate_limit_per_client="100/minute")
    answered = client.get("/api/v1/me")
    assert answered.status_code == 200 and "X-RateLimit-Remaining" in answered.headers
    assert "Retry-After" not in answered.headers
    down = gateway(closed_port()).get("/api/v1/me")
    assert down.status_code == 503 and int(down.headers["Retry-After"]) > 0


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
    time.sleep(2 * SYNC_SECONDS)  # each process hands its counts over at most this often
    assert second.get("/api/v1/me", headers=token).status_code == 200
    time.sleep(2 * SYNC_SECONDS)
    assert first.get("/api/v1/me", headers=token).status_code == 429


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/workspaces/x/../../../../metrics",
        "/api/v1/workspaces/x/./members",
        "/.well-known/..%2fmetrics",
        "/api/v1/accounts/..%2f..%2f..%2freadyz",
        "/api/v1/accounts/%2e%2e/readyz",
        "/api/v1/accounts\\..\\readyz",
    ],
)
def test_dot_segments_and_encoded_separators_are_refused_not_forwarded(upstream, gateway, path):
    response = gateway(upstream).get(path, environ_overrides={"RAW_URI": path})
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"


def test_the_path_is_forwarded_exactly_as_the_client_sent_it(upstream, gateway):
    raw = "/api/v1/me/a%3Fb%23c"
    response = gateway(upstream).get(raw + "?x=1", environ_overrides={"RAW_URI": raw + "?x=1"})
    assert response.status_code == 200
    echoed = response.get_json()
    # An encoded ? or # stays part of the path upstream: it never becomes a query or a fragment.
    assert echoed["raw_uri"] == raw + "?x=1"
    assert echoed["path"] == "/api/v1/me/a?b#c?x=1"


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test's own, which it may stop and start again."""
    port = int(closed_port().rsplit(":", 1)[1])
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    processes = []

    def start():
        processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail("redis-server did not start")

    def stop():
        processes[-1].terminate()
        processes[-1].wait(10)

    start()
    yield f"redis://127.0.0.1:{port}/0", start, stop
    for process in processes:
        if process.poll() is None:
            process.kill()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_the_gateway_keeps_serving_while_its_rate_limit_store_is_down(upstream, gateway, own_redis):
    uri, start, stop = own_redis
    client = gateway(upstream, rate_limit_storage_uri=uri, rate_limit_per_token="3/minute")
    token = {"Authorization": f"Bearer mpdp_ak_outage-{time.time_ns()}"}
    assert client.get("/api/v1/me", headers=token).status_code == 200

    stop()
    started = time.monotonic()
    during = [client.get("/api/v1/me", headers={"Authorization": f"Bearer mpdp_ak_o{n}"}).status_code for n in range(5)]
    assert during == [200] * 5  # fail open: served, each process counting on its own meanwhile
    assert time.monotonic() - started < 5

    start()
    # Back on the shared store: the count made before the outage still stands.
    time.sleep(1.5)
    answers = [client.get("/api/v1/me", headers=token).status_code for _ in range(4)]
    assert 429 in answers


def test_metrics_and_readiness_are_only_on_the_internal_listener(upstream, gateway):
    client = gateway(upstream)
    assert client.get("/api/v1/me").status_code == 200
    for path in ("/metrics", "/readyz"):
        hidden = client.get(path)
        assert hidden.status_code == 404 and hidden.content_type == "application/problem+json"
    internal = {"SERVER_PORT": str(Settings.from_env("gateway").internal_port)}
    assert client.get("/readyz", environ_overrides=internal).get_json()["status"] == "ready"
    metrics = client.get("/metrics", environ_overrides=internal).text
    assert 'endpoint="proxy_identity",method="GET",service="gateway",status="200"' in metrics
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_a_body_that_stops_short_is_a_408_and_is_not_forwarded(upstream, gateway):
    response = gateway(upstream).post(
        "/api/v1/accounts", data=b"x" * 10, headers={"Content-Type": "application/zip"}, environ_overrides={"CONTENT_LENGTH": "100"}
    )
    assert response.status_code == 408 and response.content_type == "application/problem+json"


def test_a_method_the_gateway_does_not_forward_is_a_405_and_only_preflights_are_answered_here(upstream, gateway):
    client = gateway(upstream)
    refused = client.open("/api/v1/me", method="TRACE")
    assert refused.status_code == 405 and "GET" in refused.headers["Allow"]
    preflight = client.options("/api/v1/me", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    # Any other OPTIONS is the service's to answer: it knows which methods the path takes.
    asked = client.options("/api/v1/me")
    assert asked.status_code == 200 and asked.get_json()["method"] == "OPTIONS"


def test_ingest_answers_cors_for_any_origin_on_every_answer(upstream, gateway):
    client = gateway(closed_port(), telemetry_url=upstream)
    page = {"Origin": "https://shop.example"}
    asked = "content-type, content-encoding, x-mpdp-key, x-sentry-auth, sentry-trace, baggage"
    for path in ("/ingest/v1/events", "/ingest/sentry/api/1/envelope/"):
        preflight = client.options(path, headers={**page, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": asked})
        assert preflight.status_code == 204 and preflight.data == b""
        assert preflight.headers["Access-Control-Allow-Origin"] == "*"
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        allowed = {name.strip().lower() for name in preflight.headers["Access-Control-Allow-Headers"].split(",")}
        assert set(asked.split(", ")) <= allowed
        assert "Access-Control-Allow-Credentials" not in preflight.headers
    exposed = "Access-Control-Expose-Headers"
    accepted = client.post("/ingest/v1/events", json={}, headers=page)
    assert accepted.status_code == 200 and accepted.headers["Access-Control-Allow-Origin"] == "*"
    assert accepted.get_json()["method"] == "POST"
    limited = client.post("/ingest/sentry/api/1/limited", data=b"{}", headers=page)
    assert limited.status_code == 429 and limited.headers["Access-Control-Allow-Origin"] == "*"
    assert {"Retry-After", "X-Sentry-Rate-Limits"} <= {name.strip() for name in limited.headers[exposed].split(",")}
    # The gateway's own problems carry them too: a page can read why it was refused.
    down = gateway(closed_port(), telemetry_url=closed_port()).post("/ingest/v1/events", json={}, headers=page)
    assert down.status_code == 503 and down.headers["Access-Control-Allow-Origin"] == "*" and "Retry-After" in down.headers[exposed]
    assert "Access-Control-Allow-Origin" not in client.post("/ingest/v1/events", json={}).headers
