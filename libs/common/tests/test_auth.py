"""Token verification against a JWKS endpoint of the test's own."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpdp_common.auth import TokenVerifier
from mpdp_common.errors import Problem

KEY = Ed25519PrivateKey.generate()
RAW = KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
JWKS = {"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1", "alg": "EdDSA", "x": base64.urlsafe_b64encode(RAW).rstrip(b"=").decode()}]}


@pytest.fixture
def jwks_server():
    fetches = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            fetches.append(self.path)
            body = json.dumps(JWKS).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json", fetches
    server.shutdown()


def token(kid="k1", key=KEY, **overrides):
    now = int(time.time())
    claims = {"iss": "mpdp-identity", "aud": "mpdp", "sub": "a1", "iat": now, "exp": now + 60} | overrides
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


def test_good_tokens_pass_and_keys_are_fetched_once(jwks_server):
    url, fetches = jwks_server
    verifier = TokenVerifier(audience="mpdp", issuer="mpdp-identity", jwks_url=url)
    for _ in range(5):
        assert verifier.verify(token())["sub"] == "a1"
    assert len(fetches) == 1


def test_unknown_key_ids_do_not_make_every_request_refetch(jwks_server):
    url, fetches = jwks_server
    verifier = TokenVerifier(audience="mpdp", issuer="mpdp-identity", jwks_url=url)
    verifier.verify(token())
    for n in range(20):
        with pytest.raises(Problem) as refused:
            verifier.verify(token(kid=f"forged-{n}", key=Ed25519PrivateKey.generate()))
        assert refused.value.status == 401
    assert len(fetches) <= 2


def test_expired_wrong_audience_and_unreachable_keys(jwks_server):
    url, _ = jwks_server
    verifier = TokenVerifier(audience="mpdp", issuer="mpdp-identity", jwks_url=url)
    for bad in (token(exp=int(time.time()) - 10), token(aud="other"), token(iss="other")):
        with pytest.raises(Problem) as refused:
            verifier.verify(bad)
        assert refused.value.status == 401
    offline = TokenVerifier(audience="mpdp", issuer="mpdp-identity", jwks_url="http://127.0.0.1:9/jwks.json")
    with pytest.raises(Problem) as unavailable:
        offline.verify(token())
    assert unavailable.value.status == 503


def test_a_token_is_verified_once_until_it_expires_and_a_bad_one_every_time():
    looked_up = []

    def key_for(presented):
        looked_up.append(presented)
        return KEY.public_key()

    verifier = TokenVerifier(audience="mpdp", issuer="mpdp-identity", key_for=key_for)
    good = token()
    assert [verifier.verify(good)["sub"] for _ in range(3)] == ["a1"] * 3
    assert looked_up == [good]
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for _ in range(2):
        with pytest.raises(Problem) as refused:
            verifier.verify(tampered)
        assert refused.value.status == 401
    assert looked_up == [good, tampered, tampered]
    # Remembered only while it is valid: once past its expiry, it is checked again and refused.
    expiring = token(exp=int(time.time()) + 1)
    verifier.verify(expiring)
    time.sleep(1.5)
    with pytest.raises(Problem) as expired:
        verifier.verify(expiring)
    assert expired.value.status == 401
