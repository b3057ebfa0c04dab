"""The gateway: edge token checks, bad bodies, request ids, CORS, merged OpenAPI, service endpoints."""

from __future__ import annotations

import base64
import http.client
import json
import time
from datetime import UTC, datetime

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpdp_common.keys import load_signing_key

from .test_telemetry import event, send, shop  # noqa: F401 - shop is a fixture


def _claims(sub: str, **overrides) -> dict:
    now = int(time.time())
    claims = {"iss": "mpdp-identity", "aud": "mpdp", "sub": sub, "iat": now, "exp": now + 300, "jti": "t"}
    claims.update(overrides)
    return claims


def _kid(platform) -> str:
    return requests.get(f"{platform.gateway}/.well-known/jwks.json", timeout=5).json()["keys"][0]["kid"]


def _unsigned(claims: dict) -> str:
    encode = lambda part: base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{encode({'alg': 'none', 'typ': 'JWT'})}.{encode(claims)}."


@pytest.fixture
def bad_tokens(platform, make_user):
    user = make_user("target")
    key, kid, sub = load_signing_key(str(platform.signing_key_file)), _kid(platform), user.account["id"]
    sign = lambda claims, signing_key=key: jwt.encode(claims, signing_key, algorithm="EdDSA", headers={"kid": kid})  # noqa: E731
    good = sign(_claims(sub))
    return (
        user,
        good,
        {
            "expired": sign(_claims(sub, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
            "wrong audience": sign(_claims(sub, aud="someone-else")),
            "wrong issuer": sign(_claims(sub, iss="evil")),
            "another key": sign(_claims(sub), Ed25519PrivateKey.generate()),
            "alg none": _unsigned(_claims(sub)),
            "tampered": good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
            "garbage": "not-a-jwt",
        },
    )


def test_bad_tokens_are_refused_at_the_gateway_and_by_the_service(platform, bad_tokens):
    user, good, bad = bad_tokens
    for base in (platform.gateway, platform.url("identity")):
        assert requests.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {good}"}, timeout=5).status_code == 200
        for name, token in bad.items():
            response = requests.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=5)
            assert response.status_code == 401, (base, name, response.text)
            assert response.headers["Content-Type"] == "application/problem+json"
            assert "Traceback" not in response.text


def test_bad_bodies_get_problems_and_write_nothing(client):
    email = "body-test@example.com"
    cases = [
        (dict(data='{"email": "body-test@example.com", "password": "0123456789", ', headers={"Content-Type": "application/json"}), 400),
        (dict(data=f"email={email}&password=0123456789&name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}), 415),
        (dict(json={"email": email, "password": 1234567890, "name": "x"}), 422),
        (dict(json={"email": email, "password": "0123456789", "name": "x", "role": "admin"}), 422),
        (dict(json=[email]), 422),
        (dict(data=b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'"}', headers={"Content-Type": "application/json"}), 413),
    ]
    for kwargs, status in cases:
        response = client.post("/api/v1/accounts", **kwargs)
        assert response.status_code == status, (kwargs.get("json"), response.text[:300])
        assert response.headers["Content-Type"] == "application/problem+json"
        assert {"type", "title", "status", "detail"} <= set(response.json())
    assert client.post("/api/v1/auth/token", json={"email": email, "password": "0123456789"}).status_code == 401


def test_the_gateway_caps_bodies_it_streams(platform):
    huge = b"x" * (101 * 1024 * 1024)
    response = requests.post(f"{platform.gateway}/api/v1/accounts", data=huge, headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 413


def test_request_ids_are_echoed_or_made(client):
    mine = client.get("/api/v1/me", headers={"X-Request-Id": "trace-123"})
    assert mine.headers["X-Request-Id"] == "trace-123"
    made = client.get("/api/v1/me")
    assert len(made.headers["X-Request-Id"]) >= 16
    assert client.get("/api/v1/no-such-thing").status_code == 404


def test_cors_for_the_console(platform):
    preflight = requests.options(
        f"{platform.gateway}/api/v1/me",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
        timeout=5,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    other = requests.options(
        f"{platform.gateway}/api/v1/me", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}, timeout=5
    )
    assert "Access-Control-Allow-Origin" not in other.headers


def test_merged_openapi_lists_the_public_api(client):
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    for path in ("/api/v1/accounts", "/api/v1/auth/token", "/api/v1/me", "/api/v1/workspaces/{ws}/members"):
        assert path in document["paths"]
    # Every schema the paths refer to is in the document.
    text = json.dumps(document)
    for ref in {part.split('"')[0] for part in text.split('"#/components/schemas/')[1:]}:
        assert ref in document["components"]["schemas"]


def test_service_endpoints(platform):
    identity = platform.url("identity")
    assert requests.get(f"{identity}/api/v1/me", timeout=5).status_code == 401
    assert requests.get(f"{identity}/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(f"{identity}/readyz", timeout=5).json()
    assert ready["checks"] == {"database": "ok", "broker": "ok"}
    metrics = requests.get(f"{identity}/metrics", timeout=5)
    assert metrics.headers["Content-Type"] == "text/plain; version=1.0.0; charset=utf-8"
    assert 'mpdp_http_requests_total{endpoint="accounts.me",method="GET",service="identity",status="401"}' in metrics.text
    assert requests.get(f"{identity}/openapi.json", timeout=5).json()["info"]["title"] == "MPDP identity"
    # Service endpoints are not routed publicly, and the gateway's own are on its internal listener.
    for path in ("/metrics", "/readyz"):
        hidden = requests.get(f"{platform.gateway}{path}", timeout=5)
        assert hidden.status_code == 404 and hidden.headers["Content-Type"] == "application/problem+json"
    assert requests.get(f"{platform.gateway}/healthz", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{platform.internal_url('gateway')}/readyz", timeout=5).json()["status"] == "ready"
    gateway_metrics = requests.get(f"{platform.internal_url('gateway')}/metrics", timeout=5)
    assert gateway_metrics.headers["Content-Type"] == "text/plain; version=1.0.0; charset=utf-8"
    assert 'mpdp_http_requests_total{endpoint="proxy_identity",method="GET",service="gateway",status="200"}' in gateway_metrics.text
    assert 'service="identity"' not in gateway_metrics.text


def test_values_the_database_cannot_hold_are_refused_cleanly(make_user, client):
    user = make_user("nul")
    assert user.get("/api/v1/workspaces/ab%00cd/members").status_code == 404
    named = client.post("/api/v1/accounts", json={"email": "nul-name@example.com", "password": "0123456789", "name": "a\u0000b"})
    assert named.status_code == 422 and named.headers["Content-Type"] == "application/problem+json"
    deep = client.post("/api/v1/accounts", data="[" * 5000 + "]" * 5000, headers={"Content-Type": "application/json"})
    assert deep.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/workspaces/x/../../../../metrics",
        "/.well-known/..%2fmetrics",
        "/api/v1/accounts/..%2f..%2f..%2freadyz",
        "//metrics",
        "///metrics",
        "//readyz",
        "/metrics/",
        "//metrics//",
    ],
)
def test_only_public_routes_are_reachable(platform, path):
    """Sent as is (an HTTP library would tidy the dots away): a service's own endpoints stay private."""
    answer, body = sent_as_is(platform, "GET", path)
    assert answer.status == 404
    assert answer.getheader("Content-Type") == "application/problem+json"
    assert b"process_" not in body and b"checks" not in body


def sent_as_is(platform, method: str, path: str, headers: dict | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    host, port = platform.gateway.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request(method, path, headers=headers or {})
        answer = connection.getresponse()
        return answer, answer.read()
    finally:
        connection.close()


def test_no_answer_points_at_an_address_behind_the_gateway(platform, make_user):
    """Merged or missing slashes were redirected by the services to their own address."""
    token = {"Authorization": f"Bearer {make_user('slashes').token}"}
    behind = {port for port in [*platform.ports.values(), *platform.internal_ports.values()] if port != platform.ports["gateway"]}
    paths = [
        "/api/v1/workspaces//x",
        "/api/v1/workspaces/x//members",
        "/api/v1/workspaces/x//approvals",
        "/api/v1/workspaces/x//analytics/overview",
        "/api/v1/workspaces/x/miniprograms//y",
        "/api/v1//me",
        "/api/v1/me/",
        "/api/v1/workspaces/",
        "/client/v1//miniprograms",
        "/client/v1/miniprograms/",
        "/ingest//v1/events",
        "/ingest/sentry/api/1/envelope",
        "/ingest/sentry/api/1//envelope/",
        "/.well-known//jwks.json",
    ]
    for path in paths:
        for method in ("GET", "POST"):
            answer, _body = sent_as_is(platform, method, path, token)
            location = answer.getheader("Location") or ""
            assert not any(f":{port}" in location for port in behind), (method, path, answer.status, location)
            assert not 300 <= answer.status < 400, (method, path, answer.status, location)


def test_ingest_answers_cors_for_any_origin(platform, shop):  # noqa: F811
    page = {"Origin": "https://shop.example"}
    asked = "content-type, content-encoding, x-mpdp-key, x-sentry-auth, sentry-trace, baggage"
    envelope = f"/ingest/sentry/api/{shop.mp['telemetry_id']}/envelope/"
    for path in ("/ingest/v1/events", envelope):
        preflight = requests.options(
            platform.gateway + path,
            headers={**page, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": asked},
            timeout=5,
        )
        assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == "*"
        allowed = {name.strip().lower() for name in preflight.headers["Access-Control-Allow-Headers"].split(",")}
        assert set(asked.split(", ")) <= allowed and "POST" in preflight.headers["Access-Control-Allow-Methods"]
        assert "Access-Control-Allow-Credentials" not in preflight.headers

    def readable(answer: requests.Response) -> bool:
        exposed = {name.strip() for name in answer.headers.get("Access-Control-Expose-Headers", "").split(",")}
        return answer.headers.get("Access-Control-Allow-Origin") == "*" and {"Retry-After", "X-Sentry-Rate-Limits"} <= exposed

    now = datetime.now(UTC)
    accepted = send(platform, shop.key_id, [event(shop, "page_view", "u", now, page="home")], headers=page)
    assert accepted.status_code == 202 and readable(accepted)
    unknown = send(platform, "mak_unknown", [], headers=page)
    assert unknown.status_code == 401 and readable(unknown)
    too_many = send(platform, shop.key_id, [event(shop, "page_view", "u", now, page="home")] * 1001, headers=page)
    assert too_many.status_code == 413 and readable(too_many)
    unsigned = requests.post(platform.gateway + envelope, data=b"{}\n", headers=page, timeout=5)
    assert 400 <= unsigned.status_code < 500 and readable(unsigned)
