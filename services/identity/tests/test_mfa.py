"""TOTP two-factor sign-in, in-process on SQLite."""

from __future__ import annotations

import time

import jwt
import pyotp
import pytest

from mpdp_common.testing import Harness
from mpdp_identity.service import service

PASSWORD = "a long password"


def sign_up(harness: Harness, address: str = "ada@example.com") -> None:
    answer = harness.http.post("/api/v1/accounts", json={"email": address, "password": PASSWORD, "name": "Ada"})
    assert answer.status_code == 201


def sign_in(harness: Harness, address: str = "ada@example.com") -> dict:
    return harness.http.post("/api/v1/auth/token", json={"email": address, "password": PASSWORD}).get_json()


def bearer(pair: dict) -> dict:
    return {"Authorization": f"Bearer {pair['access_token']}"}


@pytest.fixture
def harness(tmp_path):
    harness = Harness(service, tmp_path)
    yield harness
    harness.close()


def code_at(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def turn_on(harness: Harness, pair: dict) -> tuple[str, list[str]]:
    setup = harness.http.post("/api/v1/me/mfa/totp", headers=bearer(pair))
    assert setup.status_code == 200
    secret = setup.get_json()["secret"]
    confirmed = harness.http.post("/api/v1/me/mfa/totp/confirm", json={"code": code_at(secret, -1)}, headers=bearer(pair))
    assert confirmed.status_code == 200, confirmed.get_json()
    return secret, confirmed.get_json()["recovery_codes"]


def test_totp_is_set_up_with_a_uri_and_confirmed_with_a_first_code(harness):
    sign_up(harness)
    pair = sign_in(harness)
    setup = harness.http.post("/api/v1/me/mfa/totp", headers=bearer(pair)).get_json()
    uri = pyotp.parse_uri(setup["otpauth_uri"])
    assert setup["otpauth_uri"].startswith("otpauth://totp/MPDP:ada%40example.com?") and uri.secret == setup["secret"]
    assert uri.digits == 6 and uri.interval == 30 and uri.issuer == "MPDP"
    assert harness.http.get("/api/v1/me", headers=bearer(pair)).get_json()["mfa_enabled"] is False  # pending
    wrong = harness.http.post(
        "/api/v1/me/mfa/totp/confirm", json={"code": "000000" if code_at(setup["secret"]) != "000000" else "111111"}, headers=bearer(pair)
    )
    assert wrong.status_code == 400
    assert harness.http.post("/api/v1/me/mfa/totp/confirm", json={"code": "12ab"}, headers=bearer(pair)).status_code == 422
    done = harness.http.post("/api/v1/me/mfa/totp/confirm", json={"code": code_at(setup["secret"])}, headers=bearer(pair)).get_json()
    assert len(done["recovery_codes"]) == 10 and len(set(done["recovery_codes"])) == 10
    assert harness.http.get("/api/v1/me", headers=bearer(pair)).get_json()["mfa_enabled"] is True
    assert harness.http.post("/api/v1/me/mfa/totp", headers=bearer(pair)).status_code == 409
    assert harness.published("identity.account.mfa_enabled")


def test_sign_in_takes_two_steps_and_tokens_say_how(harness):
    sign_up(harness)
    first = sign_in(harness)
    assert jwt.decode(first["access_token"], options={"verify_signature": False})["amr"] == ["pwd"]
    secret, codes = turn_on(harness, first)

    step_one = sign_in(harness)
    assert step_one["mfa_required"] is True and step_one["expires_in"] == 300 and "access_token" not in step_one
    # the mfa_token is no access token
    assert harness.http.get("/api/v1/me", headers={"Authorization": f"Bearer {step_one['mfa_token']}"}).status_code == 401
    both = {"mfa_token": step_one["mfa_token"], "code": "123456", "recovery_code": codes[0]}
    assert harness.http.post("/api/v1/auth/token/mfa", json=both).status_code == 422
    pair = harness.http.post("/api/v1/auth/token/mfa", json={"mfa_token": step_one["mfa_token"], "code": code_at(secret, 1)})
    assert pair.status_code == 200, pair.get_json()
    pair = pair.get_json()
    assert jwt.decode(pair["access_token"], options={"verify_signature": False})["amr"] == ["pwd", "otp"]
    # a code works once
    replay = harness.http.post("/api/v1/auth/token/mfa", json={"mfa_token": sign_in(harness)["mfa_token"], "code": code_at(secret, 1)})
    assert replay.status_code == 401
    # refreshed tokens keep saying it
    renewed = harness.http.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}).get_json()
    assert jwt.decode(renewed["access_token"], options={"verify_signature": False})["amr"] == ["pwd", "otp"]

    # a recovery code works once
    by_recovery = harness.http.post("/api/v1/auth/token/mfa", json={"mfa_token": sign_in(harness)["mfa_token"], "recovery_code": codes[3]})
    assert by_recovery.status_code == 200
    again = harness.http.post("/api/v1/auth/token/mfa", json={"mfa_token": sign_in(harness)["mfa_token"], "recovery_code": codes[3]})
    assert again.status_code == 401
    assert harness.http.post("/api/v1/auth/token/mfa", json={"mfa_token": "forged", "code": "123456"}).status_code == 401


def test_wrong_codes_are_throttled_like_passwords(harness):
    sign_up(harness)
    secret, _codes = turn_on(harness, sign_in(harness))
    mfa_token = sign_in(harness)["mfa_token"]
    wrong = "000000" if code_at(secret) != "000000" else "111111"
    answers = [harness.http.post("/api/v1/auth/token/mfa", json={"mfa_token": mfa_token, "code": wrong}).status_code for _ in range(6)]
    assert answers == [401] * 5 + [429]
    right = harness.http.post("/api/v1/auth/token/mfa", json={"mfa_token": mfa_token, "code": code_at(secret, 1)})
    assert right.status_code == 429 and "Retry-After" in right.headers


def test_turning_it_off_needs_the_password_and_a_code(harness):
    sign_up(harness)
    pair = sign_in(harness)
    secret, codes = turn_on(harness, pair)
    assert (
        harness.http.open("/api/v1/me/mfa", method="DELETE", json={"password": "wrong", "code": codes[0]}, headers=bearer(pair)).status_code
        == 403
    )
    assert (
        harness.http.open("/api/v1/me/mfa", method="DELETE", json={"password": PASSWORD, "code": "nope"}, headers=bearer(pair)).status_code
        == 403
    )
    assert (
        harness.http.open(
            "/api/v1/me/mfa", method="DELETE", json={"password": PASSWORD, "code": codes[0]}, headers=bearer(pair)
        ).status_code
        == 204
    )
    assert harness.http.get("/api/v1/me", headers=bearer(pair)).get_json()["mfa_enabled"] is False
    assert "access_token" in sign_in(harness)
    assert (
        harness.http.open(
            "/api/v1/me/mfa", method="DELETE", json={"password": PASSWORD, "code": code_at(secret)}, headers=bearer(pair)
        ).status_code
        == 409
    )
