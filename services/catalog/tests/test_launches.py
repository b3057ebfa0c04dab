"""Launches in-process on SQLite: the database keeps one launch in progress per app, decisions
of the approval service move them, and delivery answers signed requests from its read model."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mpdp_catalog import delivery
from mpdp_catalog.models import Deliverable, Launch
from mpdp_common.appkeys import app_key_secret
from mpdp_common.crypto import secret_box
from mpdp_common.db import session_scope

from .conftest import APP, BASE, WS


def launch(catalog, version_id: str) -> str:
    answer = catalog.call("POST", f"{BASE}/launches", "ada", json={"version_id": version_id, "app_id": APP})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def decide(catalog, request_id: str, launch_id: str, status: str, comment: str | None = None) -> None:
    decision = {
        "approval_id": request_id,
        "workspace_id": WS,
        "type": "launch",
        "status": status,
        "subject": {"kind": "launch", "id": launch_id},
        "applicant_id": "ada",
        "decided_by": "rex",
        "decided_at": "2026-11-28T10:00:00+00:00",
        "comment": comment,
    }
    catalog.deliver("approval.approval.decided", decision, WS)


def test_the_database_keeps_one_launch_in_progress_per_app(catalog):
    first, second = launch(catalog, "v1"), launch(catalog, "v2")
    with pytest.raises(IntegrityError), session_scope(catalog.sessions) as session:
        for ident in (first, second):
            session.get_one(Launch, ident).status = "under_review"
            session.flush()
    assert catalog.call("POST", f"{BASE}/launches/{first}/submit", "ada").status_code == 200
    refused = catalog.call("POST", f"{BASE}/launches/{second}/submit", "ada")
    assert refused.status_code == 409 and first in refused.get_json()["detail"]


def test_only_the_decision_the_launch_waits_for_moves_it(catalog):
    ident = launch(catalog, "v1")
    assert catalog.call("POST", f"{BASE}/launches/{ident}/submit", "ada").status_code == 200
    [submitted] = catalog.published("catalog.launch.submitted")
    request_id = submitted["payload"]["request_id"]
    assert submitted["payload"]["title"] == "Launch Shop 1.0.0 on Super"

    # Reviewers see every launch of their workspace, to judge it; they may not act on it.
    assert catalog.call("GET", f"{BASE}/launches/{ident}", "rex").status_code == 200
    assert catalog.call("POST", f"{BASE}/launches/{ident}/withdraw", "rex").status_code == 403
    decide(catalog, "an-older-request", ident, "approved")
    assert catalog.call("GET", f"{BASE}/launches/{ident}", "ada").get_json()["status"] == "under_review"
    decide(catalog, request_id, ident, "approved")
    detail = catalog.call("GET", f"{BASE}/launches/{ident}", "ada").get_json()
    assert detail["status"] == "ready" and detail["approval_id"] is None
    assert [(step["status"], step["by"]) for step in detail["history"]] == [("under_review", "ada"), ("ready", "rex")]
    changes = [event["payload"]["status"] for event in catalog.published("catalog.launch.status_changed")]
    assert changes == ["under_review", "ready"]
    # Delivered again, the same decision changes nothing more.
    decide(catalog, request_id, ident, "approved")
    assert len(catalog.published("catalog.launch.status_changed")) == 2


def test_a_launch_withdrawn_as_it_was_approved_stays_created(catalog):
    ident = launch(catalog, "v1")
    assert catalog.call("POST", f"{BASE}/launches/{ident}/submit", "ada").status_code == 200
    [submitted] = catalog.published("catalog.launch.submitted")
    assert catalog.call("POST", f"{BASE}/launches/{ident}/withdraw", "ada").status_code == 200
    [withdrawn] = catalog.published("catalog.launch.withdrawn")
    assert withdrawn["payload"]["request_id"] == submitted["payload"]["request_id"]
    published = len(catalog.published())

    # The approval service tells this decision apart by the withdrawal it receives; nothing goes back.
    decide(catalog, submitted["payload"]["request_id"], ident, "approved")
    detail = catalog.call("GET", f"{BASE}/launches/{ident}", "ada").get_json()
    assert detail["status"] == "created" and [step["status"] for step in detail["history"]] == ["under_review", "created"]
    assert len(catalog.published()) == published


def test_delivery_answers_signed_requests_from_the_read_model(catalog):
    ident = launch(catalog, "v1")
    assert catalog.call("POST", f"{BASE}/launches/{ident}/submit", "ada").status_code == 200
    decide(catalog, catalog.published("catalog.launch.submitted")[0]["payload"]["request_id"], ident, "approved")
    assert catalog.call("POST", f"{BASE}/launches/{ident}/publish", "dev", json={"percentage": 100}).status_code == 404
    assert catalog.call("POST", f"{BASE}/launches/{ident}/publish", "ada", json={"percentage": 0}).status_code == 422
    assert catalog.call("POST", f"{BASE}/launches/{ident}/publish", "ada", json={"percentage": 100}).status_code == 200
    secret = app_key_secret(secret_box(catalog.settings), "mak_1")

    def signed(query: str, *, key: str = "mak_1", key_secret: str = secret, skew: int = 0):
        timestamp = str(int(time.time()) + skew)
        signature = hmac.new(
            key_secret.encode(), f"{timestamp}\nGET\n/client/v1/miniprograms\n{query}".encode(), hashlib.sha256
        ).hexdigest()
        headers = {"X-MPDP-Key": key, "X-MPDP-Timestamp": timestamp, "X-MPDP-Signature": signature}
        return catalog.http.get(f"/client/v1/miniprograms?{query}", headers=headers)

    answer = signed("user_id=ada")
    assert answer.status_code == 200
    assert [(item["version"], item["channel"], item["sha256"]) for item in answer.get_json()["items"]] == [("1.0.0", "released", "1" * 64)]
    assert signed("user_id=ada", key_secret="wrong").status_code == 401
    assert signed("user_id=ada", key="mak_unknown").status_code == 401
    assert signed("user_id=ada", skew=-400).status_code == 401
    catalog.deliver(
        "workspace.app_key.revoked", {"key_id": "mak_1", "app_id": APP, "workspace_id": WS, "revoked_at": "2026-11-28T10:00:00+00:00"}
    )
    assert signed("user_id=ada").status_code == 401


def test_an_action_that_moves_several_launches_rewrites_what_the_app_delivers_once(catalog, monkeypatch):
    def release(version_id: str) -> str:
        ident = launch(catalog, version_id)
        assert catalog.call("POST", f"{BASE}/launches/{ident}/submit", "ada").status_code == 200
        decide(catalog, catalog.published("catalog.launch.submitted")[-1]["payload"]["request_id"], ident, "approved")
        assert catalog.call("POST", f"{BASE}/launches/{ident}/publish", "ada", json={"percentage": 100}).status_code == 200
        return ident

    def delivered() -> list[tuple[str, str]]:
        with session_scope(catalog.sessions) as session:
            return [(row.channel, row.version_id) for row in session.scalars(select(Deliverable))]

    refreshes = []
    rewrite = delivery.refresh

    def counted(session, miniprogram_id: str, app_id: str) -> None:
        refreshes.append((miniprogram_id, app_id))
        rewrite(session, miniprogram_id, app_id)

    monkeypatch.setattr(delivery, "refresh", counted)
    first = release("v1")
    refreshes.clear()
    second = release("v2")
    # Submit, approve and publish: one rewrite each, though publishing archived the first release too.
    assert refreshes == [("mp1", APP)] * 3
    assert delivered() == [("released", "v2")]

    refreshes.clear()
    rolled = catalog.call("POST", f"{BASE}/rollback", "ada", json={"app_id": APP, "version_id": "v1"})
    assert rolled.status_code == 200 and rolled.get_json()["id"] == first
    assert refreshes == [("mp1", APP)]
    assert delivered() == [("released", "v1")]
    assert catalog.call("GET", f"{BASE}/launches/{second}", "ada").get_json()["status"] == "rollback"


def test_a_retried_launch_is_answered_again_only_while_its_developer_is_assigned(catalog):
    developers = f"{BASE}/developers"
    assert catalog.call("PUT", developers, "ada", json={"account_ids": ["dev"]}).status_code == 200
    body, retry = {"version_id": "v1", "app_id": APP}, {"Idempotency-Key": "launch-v1"}
    first = catalog.call("POST", f"{BASE}/launches", "dev", json=body, headers=retry)
    assert first.status_code == 201
    again = catalog.call("POST", f"{BASE}/launches", "dev", json=body, headers=retry)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()

    assert catalog.call("PUT", developers, "ada", json={"account_ids": []}).status_code == 200
    assert catalog.call("POST", f"{BASE}/launches", "dev", json=body).status_code == 404
    refused = catalog.call("POST", f"{BASE}/launches", "dev", json=body, headers=retry)
    assert refused.status_code == 404 and "Idempotent-Replayed" not in refused.headers
    assert first.get_json()["id"] not in refused.get_data(as_text=True)


def test_a_rejection_says_why_in_the_launch_history(catalog):
    ident = launch(catalog, "v1")
    assert catalog.call("POST", f"{BASE}/launches/{ident}/submit", "ada").status_code == 200
    [submitted] = catalog.published("catalog.launch.submitted")
    decide(catalog, submitted["payload"]["request_id"], ident, "rejected", comment="The login page crashes on iOS 16.")
    history = catalog.call("GET", f"{BASE}/launches/{ident}", "ada").get_json()["history"]
    assert (history[-1]["status"], history[-1]["by"], history[-1]["reason"]) == ("rejected", "rex", "The login page crashes on iOS 16.")
