"""Erasing an account, and workspaces that require two-factor sign-in, in-process on SQLite."""

from __future__ import annotations

import time

import pyotp
import pytest
from sqlalchemy import select

from mpdp_common.db import session_scope
from mpdp_common.testing import Harness
from mpdp_identity.models import Account, Member, RefreshToken
from mpdp_identity.service import service

PASSWORD = "a long password"


@pytest.fixture
def harness(tmp_path):
    harness = Harness(service, tmp_path)
    yield harness
    harness.close()


def sign_up(harness: Harness, address: str) -> str:
    answer = harness.http.post("/api/v1/accounts", json={"email": address, "password": PASSWORD, "name": "Ada"})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def sign_in(harness: Harness, address: str) -> dict:
    return harness.http.post("/api/v1/auth/token", json={"email": address, "password": PASSWORD})


def bearer(pair: dict) -> dict:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def workspace(harness: Harness, ws: str, admin: str, **members: str) -> None:
    created = {"workspace_id": ws, "name": "Acme", "created_by": admin, "kind": "tenant", "parent_id": None}
    harness.deliver("workspace.workspace.created", created, ws)
    with session_scope(harness.sessions) as session:
        for account_id, role in members.items():
            session.add(Member(workspace_id=ws, account_id=account_id, role=role, status="active", revision=1))


def test_erasing_an_account_leaves_a_tombstone_that_nothing_signs_in_to(harness):
    ada = sign_up(harness, "ada@example.com")
    bob = sign_up(harness, "bob@example.com")
    workspace(harness, "ws1", bob, **{ada: "developer"})
    workspace(harness, "ws2", ada, **{bob: "admin"})
    pair = sign_in(harness, "ada@example.com").get_json()
    other_session = sign_in(harness, "ada@example.com").get_json()

    wrong = harness.http.delete("/api/v1/me", json={"password": "not the password"}, headers=bearer(pair))
    assert wrong.status_code == 403
    assert harness.http.delete("/api/v1/me", json={}, headers=bearer(pair)).status_code == 422
    erased = harness.http.delete("/api/v1/me", json={"password": PASSWORD}, headers=bearer(pair))
    assert erased.status_code == 204, erased.get_json()

    with session_scope(harness.sessions) as session:
        account = session.get_one(Account, ada)
        assert account.erased_at is not None and account.name == "" and "example.com" not in account.email
        assert all(token.revoked_at is not None for token in session.scalars(select(RefreshToken).where(RefreshToken.account_id == ada)))
        assert {m.workspace_id: m.status for m in session.scalars(select(Member).where(Member.account_id == ada))} == {
            "ws1": "removed",
            "ws2": "removed",
        }
    removed = [e["payload"] for e in harness.published("identity.member.removed")]
    assert sorted(p["workspace_id"] for p in removed if p["account_id"] == ada) == ["ws1", "ws2"]
    assert harness.published("identity.account.erased")[-1]["payload"] == {"account_id": ada}

    assert sign_in(harness, "ada@example.com").status_code == 401
    assert harness.http.post("/api/v1/auth/refresh", json={"refresh_token": other_session["refresh_token"]}).status_code == 401
    assert harness.http.get("/api/v1/me", headers=bearer(pair)).status_code == 401
    assert harness.http.delete("/api/v1/me", json={"password": PASSWORD}, headers=bearer(pair)).status_code == 401
    # nobody signs up onto the tombstone's address; the old address makes a new account
    tombstone = harness.http.post("/api/v1/accounts", json={"email": account.email, "password": PASSWORD, "name": "Eve"})
    assert tombstone.status_code == 201
    with session_scope(harness.sessions) as session:
        assert session.scalar(select(Account).where(Account.email == account.email)).erased_at is not None
    again = sign_up(harness, "ada@example.com")
    assert again != ada
    assert sign_in(harness, "ada@example.com").status_code == 200


def test_the_last_active_admin_of_a_workspace_cannot_erase_the_account(harness):
    ada = sign_up(harness, "ada@example.com")
    bob = sign_up(harness, "bob@example.com")
    workspace(harness, "ws1", ada, **{bob: "developer"})
    pair = sign_in(harness, "ada@example.com").get_json()
    refused = harness.http.delete("/api/v1/me", json={"password": PASSWORD}, headers=bearer(pair))
    assert refused.status_code == 409
    assert refused.get_json()["workspace_ids"] == ["ws1"] and "last active admin" in refused.get_json()["detail"]
    assert sign_in(harness, "ada@example.com").status_code == 200
    with session_scope(harness.sessions) as session:
        assert session.get_one(Member, ("ws1", ada)).status == "active"
    # once another member is admin, it goes
    with session_scope(harness.sessions) as session:
        session.get_one(Member, ("ws1", bob)).role = "admin"
    assert harness.http.delete("/api/v1/me", json={"password": PASSWORD}, headers=bearer(pair)).status_code == 204


def test_a_workspace_that_requires_mfa_refuses_sign_ins_without_it_but_lists_its_members(harness):
    ada = sign_up(harness, "ada@example.com")
    workspace(harness, "ws1", ada)
    settings = {
        "workspace_id": "ws1",
        "revision": 1,
        "logo_url": None,
        "favicon_url": None,
        "service_email": None,
        "domains": {"primary": None, "alternatives": []},
        "tester_whitelist_enabled": False,
        "about_us_url": None,
        "terms_of_service_url": None,
        "package_size_limit_bytes": None,
        "require_mfa": True,
    }
    harness.deliver("workspace.settings.updated", settings, "ws1")
    pair = sign_in(harness, "ada@example.com").get_json()
    assert harness.http.get("/api/v1/workspaces/ws1/members", headers=bearer(pair)).status_code == 200
    refused = harness.http.get("/api/v1/workspaces/ws1/invitations", headers=bearer(pair))
    assert refused.status_code == 403 and refused.get_json()["type"] == "urn:mpdp:problem:mfa-required"

    setup = harness.http.post("/api/v1/me/mfa/totp", headers=bearer(pair)).get_json()
    totp = pyotp.TOTP(setup["secret"])
    confirmed = harness.http.post("/api/v1/me/mfa/totp/confirm", json={"code": totp.at(time.time() - 30)}, headers=bearer(pair))
    assert confirmed.status_code == 200
    step = sign_in(harness, "ada@example.com").get_json()
    second = harness.http.post("/api/v1/auth/token/mfa", json={"mfa_token": step["mfa_token"], "code": totp.now()}).get_json()
    assert harness.http.get("/api/v1/workspaces/ws1/invitations", headers=bearer(second)).status_code == 200

    # turning two-factor off makes the sign-ins made with it password-only from their next refresh
    off = harness.http.delete("/api/v1/me/mfa", json={"password": PASSWORD, "code": totp.at(time.time() + 30)}, headers=bearer(second))
    assert off.status_code == 204, off.get_json()
    refreshed = harness.http.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}).get_json()
    assert harness.http.get("/api/v1/workspaces/ws1/invitations", headers=bearer(refreshed)).status_code == 403

    harness.deliver("workspace.settings.updated", settings | {"revision": 2, "require_mfa": False}, "ws1")
    assert harness.http.get("/api/v1/workspaces/ws1/invitations", headers=bearer(refreshed)).status_code == 200
