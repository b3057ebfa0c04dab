"""Tenant and developer workspaces: creation, approval by event, listing, general info, deletion."""

from __future__ import annotations

from datetime import timedelta

from mpdp_common.db import utcnow


def test_a_tenant_workspace_is_created_and_its_creator_is_admin_at_once(harness):
    created = harness.call("POST", "/api/v1/workspaces", "alice", json={"name": " Acme ", "kind": "tenant"})
    assert created.status_code == 201
    body = created.get_json()
    assert body["name"] == "Acme" and body["kind"] == "tenant" and body["status"] == "active" and body["created_at"].endswith("Z")
    [event] = harness.published("workspace.workspace.created")
    assert event["payload"] == {
        "workspace_id": body["id"],
        "name": "Acme",
        "kind": "tenant",
        "parent_id": None,
        "created_by": "alice",
    }

    # Before identity's member.added comes back, the creator already acts as admin...
    assert harness.call("GET", f"/api/v1/workspaces/{body['id']}", "alice").get_json()["role"] == "admin"
    # ...and identity's events, revision 1 on, win over that provisional row.
    harness.member(body["id"], "alice", "reviewer", revision=2)
    assert harness.call("GET", f"/api/v1/workspaces/{body['id']}", "alice").get_json()["role"] == "reviewer"

    listed = harness.call("GET", "/api/v1/workspaces", "alice").get_json()
    assert [item["id"] for item in listed["items"]] == [body["id"]] and listed["next_cursor"] is None
    assert harness.call("GET", "/api/v1/workspaces", "bob").get_json()["items"] == []
    assert harness.call("GET", f"/api/v1/workspaces/{body['id']}", "bob").status_code == 404
    assert harness.call("GET", "/api/v1/workspaces/nope", "alice").status_code == 404


def test_bad_workspace_bodies(harness):
    cases = [
        {"name": "", "kind": "tenant"},
        {"name": "x", "kind": "club"},
        {"name": "x", "kind": "tenant", "parent_id": "p"},
        {"name": "x", "kind": "developer"},
        {"name": "x" * 101, "kind": "tenant"},
    ]
    for body in cases:
        answer = harness.call("POST", "/api/v1/workspaces", "alice", json=body)
        assert answer.status_code == 422, body
        assert answer.headers["Content-Type"] == "application/problem+json"
    assert harness.call("POST", "/api/v1/workspaces", json={"name": "x", "kind": "tenant"}).status_code == 401
    assert harness.published() == []


def test_general_info_is_read_by_members_and_changed_by_admins(harness):
    ws = harness.tenant("alice", bob="reviewer", carol="developer", dave="blocked")
    for account in ("bob", "carol"):
        assert harness.call("GET", f"/api/v1/workspaces/{ws}", account).status_code == 200
    assert harness.call("GET", f"/api/v1/workspaces/{ws}", "dave").status_code == 403
    patch = {"name": "Acme Corp", "business_address": "1 Main St", "contact_email": "Ops@Acme.example"}
    for account, status in (("bob", 403), ("carol", 403), ("dave", 403), ("eve", 404)):
        assert harness.call("PATCH", f"/api/v1/workspaces/{ws}", account, json=patch).status_code == status
    assert harness.call("PATCH", f"/api/v1/workspaces/{ws}", "alice", json={"contact_email": "nope"}).status_code == 422
    changed = harness.call("PATCH", f"/api/v1/workspaces/{ws}", "alice", json=patch)
    assert changed.status_code == 200
    assert changed.get_json()["contact_email"] == "ops@acme.example" and changed.get_json()["name"] == "Acme Corp"
    [event] = harness.published("workspace.workspace.updated")
    assert event["payload"]["changed"] == ["business_address", "contact_email", "name"]


def _request_developer_workspace(harness, ws: str, account: str) -> str:
    answer = harness.call(
        "POST",
        "/api/v1/workspaces",
        account,
        json={"name": "Studio", "kind": "developer", "parent_id": ws, "business_type": "isv"},
    )
    assert answer.status_code == 202, answer.get_data(as_text=True)
    assert answer.get_json()["status"] == "pending_approval"
    return answer.get_json()["id"]


def _decide(harness, parent: str, developer_ws: str, status: str) -> None:
    harness.deliver(
        "approval.approval.decided",
        {
            "approval_id": "ap1",
            "workspace_id": parent,
            "type": "developer_workspace",
            "subject": {"kind": "developer_workspace", "id": developer_ws},
            "status": status,
            "applicant_id": "bob",
            "decided_by": "alice",
            "decided_at": "2026-11-25T10:00:00Z",
            "comment": None,
        },
        parent,
    )


def test_developer_workspace_is_requested_then_approved(harness):
    ws = harness.tenant("alice", carol="developer")
    dev_ws = _request_developer_workspace(harness, ws, "carol")
    [requested] = harness.published("workspace.developer_workspace.requested")
    assert requested["payload"] == {
        "workspace_id": dev_ws,
        "parent_id": ws,
        "name": "Studio",
        "business_type": "isv",
        "requested_by": "carol",
    }
    assert requested["workspace_id"] == ws
    # The applicant sees the application; nobody can work in it yet.
    assert harness.call("GET", f"/api/v1/workspaces/{dev_ws}", "carol").get_json()["status"] == "pending_approval"
    assert harness.call("GET", f"/api/v1/workspaces/{dev_ws}/apps", "carol").status_code == 404
    assert [
        item["status"] for item in harness.call("GET", f"/api/v1/workspaces/{ws}/developer-workspaces", "alice").get_json()["items"]
    ] == ["pending_approval"]

    _decide(harness, ws, dev_ws, "approved")
    created = [event for event in harness.published("workspace.workspace.created") if event["payload"]["workspace_id"] == dev_ws]
    assert created[0]["payload"] == {
        "workspace_id": dev_ws,
        "name": "Studio",
        "kind": "developer",
        "parent_id": ws,
        "created_by": "carol",
    }
    detail = harness.call("GET", f"/api/v1/workspaces/{dev_ws}", "carol").get_json()
    assert detail["status"] == "active" and detail["role"] == "admin"
    # A second delivery of a decision changes nothing.
    _decide(harness, ws, dev_ws, "rejected")
    assert harness.call("GET", f"/api/v1/workspaces/{dev_ws}", "carol").get_json()["status"] == "active"


def _withdraw(harness, parent: str, subject: dict) -> None:
    harness.deliver(
        "approval.approval.withdrawn",
        {
            "approval_id": "ap1",
            "workspace_id": parent,
            "type": "developer_workspace",
            "subject": subject,
            "applicant_id": "carol",
            "withdrawn_by": "carol",
            "withdrawn_at": "2026-11-25T10:00:00+00:00",
        },
        parent,
    )


def test_only_the_withdrawal_of_its_own_application_withdraws_a_developer_workspace(harness):
    ws, other = harness.tenant("alice", carol="developer"), harness.tenant("olga")
    dev_ws = _request_developer_workspace(harness, ws, "carol")

    def status() -> str:
        return harness.call("GET", f"/api/v1/workspaces/{dev_ws}", "carol").get_json()["status"]

    _withdraw(harness, ws, {"kind": "launch", "id": dev_ws})
    _withdraw(harness, other, {"kind": "developer_workspace", "id": dev_ws})
    assert status() == "pending_approval"
    _withdraw(harness, ws, {"kind": "developer_workspace", "id": dev_ws})
    assert status() == "withdrawn"


def test_developer_workspace_rejected_and_bad_parents(harness):
    ws = harness.tenant("alice", carol="developer", dave="blocked")
    dev_ws = _request_developer_workspace(harness, ws, "carol")
    _decide(harness, ws, dev_ws, "rejected")
    assert harness.call("GET", f"/api/v1/workspaces/{dev_ws}", "carol").get_json()["status"] == "rejected"
    assert not [event for event in harness.published("workspace.workspace.created") if event["payload"]["workspace_id"] == dev_ws]

    body = {"name": "S", "kind": "developer", "business_type": "self"}
    assert harness.call("POST", "/api/v1/workspaces", "eve", json=body | {"parent_id": ws}).status_code == 404
    assert harness.call("POST", "/api/v1/workspaces", "dave", json=body | {"parent_id": ws}).status_code == 403
    assert harness.call("POST", "/api/v1/workspaces", "carol", json=body | {"parent_id": "nope"}).status_code == 404
    assert harness.call("POST", "/api/v1/workspaces", "carol", json=body | {"parent_id": ws, "business_type": "corp"}).status_code == 422


def test_developer_workspace_deletion_waits_for_published_or_recent_work(harness):
    ws = harness.tenant("alice", bob="reviewer")
    dev_ws = _request_developer_workspace(harness, ws, "alice")
    _decide(harness, ws, dev_ws, "approved")
    harness.deliver("catalog.miniprogram.created", {"miniprogram_id": "mp1", "workspace_id": dev_ws, "name": "Shop", "created_by": "x"})
    harness.deliver("catalog.miniprogram.created", {"miniprogram_id": "mp2", "workspace_id": dev_ws, "name": "Pay", "created_by": "x"})
    [item] = harness.call("GET", f"/api/v1/workspaces/{ws}/developer-workspaces", "bob").get_json()["items"]
    assert item["miniprogram_count"] == 2 and item["status"] == "active"

    launch = {
        "launch_id": "l1",
        "miniprogram_id": "mp1",
        "workspace_id": dev_ws,
        "app_id": "a",
        "version_id": "v",
        "status": "grayscale",
    }
    harness.deliver("catalog.launch.status_changed", launch)
    assert harness.call("DELETE", f"/api/v1/workspaces/{ws}/developer-workspaces/{dev_ws}", "bob").status_code == 403
    assert harness.call("DELETE", f"/api/v1/workspaces/{ws}/developer-workspaces/{dev_ws}", "alice").status_code == 409
    harness.deliver("catalog.launch.status_changed", launch | {"status": "offline"})

    uploaded = {
        "version_id": "v2",
        "miniprogram_id": "mp2",
        "workspace_id": dev_ws,
        "version": "1.0.0",
        "sha256": "0" * 64,
        "size": 10,
        "uploaded_by": "x",
    }
    harness.deliver("catalog.version.uploaded", uploaded | {"uploaded_at": (utcnow() - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert harness.call("DELETE", f"/api/v1/workspaces/{ws}/developer-workspaces/{dev_ws}", "alice").status_code == 409

    with harness.sessions() as session:  # the upload ages past 30 days
        from mpdp_workspace.models import MiniProgram

        session.get(MiniProgram, "mp2").last_upload_at = utcnow() - timedelta(days=31)
        session.commit()
    assert harness.call("DELETE", f"/api/v1/workspaces/{ws}/developer-workspaces/{dev_ws}", "alice").status_code == 204
    assert harness.call("DELETE", f"/api/v1/workspaces/{ws}/developer-workspaces/{dev_ws}", "alice").status_code == 404
    assert harness.call("GET", f"/api/v1/workspaces/{ws}/developer-workspaces", "alice").get_json()["items"] == []
    assert harness.call("GET", f"/api/v1/workspaces/{dev_ws}", "alice").status_code == 404
    assert harness.published("workspace.workspace.deleted")[0]["payload"]["workspace_id"] == dev_ws
    # Another tenant's developer workspace is not there.
    other = harness.tenant("zed")
    assert harness.call("DELETE", f"/api/v1/workspaces/{other}/developer-workspaces/{dev_ws}", "zed").status_code == 404


def test_a_late_launch_event_does_not_undo_a_newer_status(harness):
    """A failed handler is retried after a delay, so the grayscale event can arrive after the
    offline one that followed it at the catalog; the launch stays offline."""
    ws = harness.tenant("alice")
    dev_ws = _request_developer_workspace(harness, ws, "alice")
    _decide(harness, ws, dev_ws, "approved")
    launch = {"launch_id": "l1", "miniprogram_id": "mp1", "workspace_id": dev_ws, "app_id": "a", "version_id": "v"}
    harness.deliver("catalog.launch.status_changed", launch | {"status": "offline"}, dev_ws, occurred_at="2026-11-25T10:00:02.000000Z")
    harness.deliver("catalog.launch.status_changed", launch | {"status": "grayscale"}, dev_ws, occurred_at="2026-11-25T10:00:01.000000Z")
    assert harness.call("DELETE", f"/api/v1/workspaces/{ws}/developer-workspaces/{dev_ws}", "alice").status_code == 204


def test_the_openapi_document_names_every_endpoint(harness):
    document = harness.call("GET", "/openapi.json").get_json()
    paths = document["paths"]
    assert {
        "/api/v1/workspaces",
        "/api/v1/workspaces/{ws}/settings",
        "/api/v1/workspaces/{ws}/apps/{app_id}/keys/{key_id}/rotate",
    } <= set(paths)
    assert "multipart/form-data" in paths["/api/v1/workspaces/{ws}/settings/{kind}"]["post"]["requestBody"]["content"]
    assert {"201", "202"} <= set(paths["/api/v1/workspaces"]["post"]["responses"])


def test_a_retried_api_key_create_is_refused_once_its_workspace_is_deleted(harness):
    ws = harness.tenant("alice")
    dev_ws = _request_developer_workspace(harness, ws, "alice")
    _decide(harness, ws, dev_ws, "approved")
    path, body, retry = f"/api/v1/workspaces/{dev_ws}/api-keys", {"label": "ci", "role": "developer"}, {"Idempotency-Key": "ci"}
    first = harness.call("POST", path, "alice", json=body, headers=retry)
    assert first.status_code == 201
    again = harness.call("POST", path, "alice", json=body, headers=retry)
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json()["token"] == first.get_json()["token"]

    assert harness.call("DELETE", f"/api/v1/workspaces/{ws}/developer-workspaces/{dev_ws}", "alice").status_code == 204
    refused = harness.call("POST", path, "alice", json=body, headers=retry)
    assert refused.status_code == 404 and first.get_json()["token"] not in refused.get_data(as_text=True)


def test_an_account_whose_email_is_not_verified_cannot_create_a_workspace(harness):
    unverified = harness.token("alice", email_verified=False)
    refused = harness.call("POST", "/api/v1/workspaces", bearer=unverified, json={"name": "Acme", "kind": "tenant"})
    assert refused.status_code == 403 and refused.get_json()["type"] == "urn:mpdp:problem:email-unverified"
    assert harness.published("workspace.workspace.created") == []
    assert harness.call("GET", "/api/v1/workspaces", bearer=unverified).status_code == 200  # reading is fine
    verified = harness.token("alice", email_verified=True)
    assert harness.call("POST", "/api/v1/workspaces", bearer=verified, json={"name": "Acme", "kind": "tenant"}).status_code == 201
