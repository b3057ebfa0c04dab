"""Approvals on SQLite: opened by request events, decided by a second person, never changed again."""

from __future__ import annotations

import pytest

from mpdp_approval.models import Approval
from mpdp_common.contracts.approval import DECIDED, WITHDRAWN
from mpdp_common.db import session_scope


def test_a_request_event_opens_a_pending_approval_with_its_trail(approvals):
    approval_id = approvals.launch_submitted("dev", launch_id="l1")
    answer = approvals.ask("GET", f"/approvals/{approval_id}", "rex")
    assert answer.status_code == 200
    approval = answer.get_json()
    assert approval["type"] == "launch" and approval["status"] == "pending" and approval["title"] == "Launch Shop 1.0.0 on Super"
    assert approval["subject"] == {"kind": "launch", "id": "l1"} and approval["applicant_id"] == "dev"
    assert approval["details"] == {"launch_id": "l1", "miniprogram_id": "mp1", "version_id": "v1", "version": "1.0.0", "app_id": "app1"}
    assert [(step["action"], step["by"]) for step in approval["trail"]] == [("opened", "dev")]


def test_a_developer_workspace_application_opens_in_the_parent_tenant(approvals):
    approvals.deliver(
        "workspace.developer_workspace.requested",
        {"workspace_id": "dw1", "parent_id": "ws1", "name": "Studio", "business_type": "isv", "requested_by": "dot"},
        workspace_id="ws1",
        aggregate_id="dw1",
    )
    [approval] = approvals.ask("GET", "/approvals?type=developer_workspace", "ada").get_json()["items"]
    assert approval["subject"] == {"kind": "developer_workspace", "id": "dw1"} and "Studio" in approval["title"]


def test_approve_publishes_the_decision_once(approvals):
    approval_id = approvals.launch_submitted("dev")
    approved = approvals.ask("POST", f"/approvals/{approval_id}/approve", "rex", json={})
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved" and approved.get_json()["comment"] is None
    [decided] = approvals.published(DECIDED)
    assert decided["payload"] | {"decided_at": None} == {
        "approval_id": approval_id,
        "workspace_id": "ws1",
        "type": "launch",
        "status": "approved",
        "subject": {"kind": "launch", "id": decided["payload"]["subject"]["id"]},
        "applicant_id": "dev",
        "decided_by": "rex",
        "decided_at": None,
        "comment": None,
    }
    for decision, body in (("approve", {}), ("reject", {"comment": "late"})):
        again = approvals.ask("POST", f"/approvals/{approval_id}/{decision}", "ada", json=body)
        assert again.status_code == 409 and "approved" in again.get_json()["detail"]
    assert approvals.ask("POST", f"/approvals/{approval_id}/withdraw", "dev").status_code == 409
    assert len(approvals.published(DECIDED)) == 1


def test_four_eyes_and_who_decides(approvals):
    approval_id = approvals.launch_submitted("rex")
    own = approvals.ask("POST", f"/approvals/{approval_id}/approve", "rex", json={})
    assert own.status_code == 403 and "own" in own.get_json()["detail"]
    assert approvals.ask("POST", f"/approvals/{approval_id}/approve", "dev", json={}).status_code == 403
    assert approvals.ask("POST", f"/approvals/{approval_id}/approve", "bob", json={}).status_code == 403
    assert approvals.ask("POST", f"/approvals/{approval_id}/approve", "stranger", json={}).status_code == 404
    assert approvals.published(DECIDED) == []


def test_a_rejection_needs_a_comment(approvals):
    approval_id = approvals.launch_submitted("dev")
    for body in ({}, {"comment": ""}, {"comment": "  "}, {"comment": None}):
        refused = approvals.ask("POST", f"/approvals/{approval_id}/reject", "rex", json=body)
        assert refused.status_code == 422 and "comment" in refused.get_json()["errors"]
    rejected = approvals.ask("POST", f"/approvals/{approval_id}/reject", "rex", json={"comment": "blurry icon"})
    assert rejected.status_code == 200 and rejected.get_json()["comment"] == "blurry icon"
    assert [(step["action"], step["comment"]) for step in rejected.get_json()["trail"]] == [("opened", None), ("rejected", "blurry icon")]


def test_only_the_applicant_withdraws(approvals):
    approval_id = approvals.launch_submitted("dev")
    assert approvals.ask("POST", f"/approvals/{approval_id}/withdraw", "ada").status_code == 403
    withdrawn = approvals.ask("POST", f"/approvals/{approval_id}/withdraw", "dev")
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "withdrawn"
    [event] = approvals.published(WITHDRAWN)
    with session_scope(approvals.sessions) as session:
        withdrawn_at = session.get_one(Approval, approval_id).decided_at
    # The moment is written like every other time the approval service publishes, to the microsecond.
    assert event["payload"] == {
        "approval_id": approval_id,
        "workspace_id": "ws1",
        "type": "launch",
        "subject": {"kind": "launch", "id": event["payload"]["subject"]["id"]},
        "applicant_id": "dev",
        "withdrawn_by": "dev",
        "withdrawn_at": withdrawn_at.isoformat(),
    }
    assert approvals.ask("POST", f"/approvals/{approval_id}/approve", "rex", json={}).status_code == 409


def test_a_developer_taken_off_the_mini_program_no_longer_withdraws_its_requests(approvals):
    approval_id = approvals.launch_submitted("dev")
    approvals.assignment("dev", assigned=False, revision=2)
    refused = approvals.ask("POST", f"/approvals/{approval_id}/withdraw", "dev")
    assert refused.status_code == 403 and "no longer assigned" in refused.get_json()["detail"]
    assert approvals.ask("GET", f"/approvals/{approval_id}", "dev").get_json()["status"] == "pending"
    assert approvals.published(WITHDRAWN) == []
    # Assigned again, they withdraw it.
    approvals.assignment("dev", assigned=True, revision=3)
    assert approvals.ask("POST", f"/approvals/{approval_id}/withdraw", "dev").status_code == 200


def launch_withdrawn(approvals, approval_id: str, launch_id: str) -> None:
    approvals.deliver(
        "catalog.launch.withdrawn", {"request_id": approval_id, "launch_id": launch_id, "workspace_id": "ws1", "withdrawn_by": "dev"}
    )


def test_a_launch_withdrawn_at_the_catalog_withdraws_its_approval(approvals):
    approval_id = approvals.launch_submitted("dev", launch_id="l9")
    launch_withdrawn(approvals, approval_id, "l9")
    approval = approvals.ask("GET", f"/approvals/{approval_id}", "dev").get_json()
    assert approval["status"] == "withdrawn" and approval["decided_by"] == "dev"
    assert [(step["action"], step["by"]) for step in approval["trail"]] == [("opened", "dev"), ("withdrawn", "dev")]
    # A reviewer who decides a moment later finds it withdrawn.
    late = approvals.ask("POST", f"/approvals/{approval_id}/approve", "rex", json={})
    assert late.status_code == 409 and "withdrawn" in late.get_json()["detail"]
    assert approvals.published(DECIDED) == []


@pytest.mark.parametrize("decision, body", [("approve", {"comment": "ship it"}), ("reject", {"comment": "blurry icon"})])
def test_a_launch_withdrawn_at_the_catalog_as_it_was_decided_keeps_the_decision_and_says_so_in_the_trail(approvals, decision, body):
    approval_id = approvals.launch_submitted("dev", launch_id="l9")
    decided = approvals.ask("POST", f"/approvals/{approval_id}/{decision}", "rex", json=body).get_json()["status"]
    for _redelivered in range(2):
        launch_withdrawn(approvals, approval_id, "l9")

    # A decided approval never changes; its trail tells that the decision was not applied.
    approval = approvals.ask("GET", f"/approvals/{approval_id}", "rex").get_json()
    assert approval["status"] == decided and approval["decided_by"] == "rex" and approval["comment"] == body["comment"]
    late = "The launch was withdrawn at the catalog before this decision reached it; the decision was not applied."
    trail = [(step["action"], step["by"], step["comment"]) for step in approval["trail"]]
    assert trail == [("opened", "dev", None), (decided, "rex", body["comment"]), ("withdrawn", "dev", late)]
    assert [item["id"] for item in approvals.ask("GET", f"/approvals?status={decided}", "rex").get_json()["items"]] == [approval_id]
    # The catalog already took the launch back: only the decision it ignores was ever published.
    assert len(approvals.published(DECIDED)) == 1 and approvals.published(WITHDRAWN) == []


def test_who_sees_which_approvals_and_the_filters(approvals):
    mine, theirs, decided = approvals.launch_submitted("dev"), approvals.launch_submitted("dot"), approvals.launch_submitted("ada")
    assert approvals.ask("POST", f"/approvals/{decided}/approve", "rex", json={}).status_code == 200

    def ids(account: str, query: str = "") -> set[str]:
        answer = approvals.ask("GET", f"/approvals{query}", account)
        assert answer.status_code == 200, answer.get_json()
        return {item["id"] for item in answer.get_json()["items"]}

    assert ids("dev") == {mine} and ids("dev", "?mine=false") == {mine}
    assert approvals.ask("GET", f"/approvals/{theirs}", "dev").status_code == 404
    assert ids("rex") == {mine, theirs, decided} and ids("ada", "?mine=true") == {decided}
    assert ids("rex", "?status=pending") == {mine, theirs} and ids("rex", "?status=approved&type=launch") == {decided}
    assert ids("rex", "?type=feature") == set()
    assert approvals.ask("GET", "/approvals?type=nonsense", "rex").status_code == 422
    assert approvals.ask("GET", "/approvals", "bob").status_code == 403
    assert approvals.ask("GET", "/approvals", "stranger").status_code == 404

    first = approvals.ask("GET", "/approvals?limit=2", "rex").get_json()
    rest = approvals.ask("GET", f"/approvals?limit=2&cursor={first['next_cursor']}", "rex").get_json()
    assert rest["next_cursor"] is None and {item["id"] for item in first["items"] + rest["items"]} == {mine, theirs, decided}


def test_a_workspace_that_requires_two_factor_sign_in_refuses_tokens_without_it(approvals):
    """One rule for every service (mpdp_common.auth.require_member), fed by workspace.settings.updated."""
    settings = {
        "workspace_id": "ws1",
        "logo_url": None,
        "favicon_url": None,
        "service_email": None,
        "domains": {"primary": None, "alternatives": []},
        "tester_whitelist_enabled": False,
        "about_us_url": None,
        "terms_of_service_url": None,
        "package_size_limit_bytes": None,
    }
    approvals.deliver("workspace.settings.updated", settings | {"revision": 1}, "ws1")  # from before the setting: off
    assert approvals.call("GET", "/api/v1/workspaces/ws1/approvals", "rex").status_code == 200
    approvals.deliver("workspace.settings.updated", settings | {"revision": 3, "require_mfa": True}, "ws1")
    approvals.deliver("workspace.settings.updated", settings | {"revision": 2, "require_mfa": False}, "ws1")  # late: changes nothing
    refused = approvals.call("GET", "/api/v1/workspaces/ws1/approvals", "rex")
    assert refused.status_code == 403 and refused.get_json()["type"] == "urn:mpdp:problem:mfa-required"
    password_only = approvals.call("GET", "/api/v1/workspaces/ws1/approvals", bearer=approvals.token("rex", amr=["pwd"]))
    assert password_only.status_code == 403
    with_otp = approvals.call("GET", "/api/v1/workspaces/ws1/approvals", bearer=approvals.token("rex", amr=["pwd", "otp"]))
    assert with_otp.status_code == 200
    assert approvals.call("GET", "/api/v1/workspaces/ws1/approvals", "stranger").status_code == 404
