"""The catalog's HTTP API in-process on SQLite and the in-process broker: who sees which mini
program, versions uploaded and downloaded, features decided by approvals, workspace API keys,
and the whole state published again by `mpdpctl announce catalog`."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile

import pytest

from mpdp_catalog import events
from mpdp_catalog.models import Version
from mpdp_common import contracts, launcher
from mpdp_common.apikeys import new_api_key

WS = "w1"
BASE = f"/api/v1/workspaces/{WS}"


def team(harness) -> None:
    """A tenant workspace as the workspace and identity events announce it."""
    harness.deliver(
        "workspace.workspace.created", {"workspace_id": WS, "name": "Acme", "kind": "tenant", "parent_id": None, "created_by": "ada"}
    )
    for account, role in (("ada", "admin"), ("rex", "reviewer"), ("dev", "developer"), ("other", "developer")):
        harness.member(WS, account, role)


def new_miniprogram(harness, name: str = "Shop") -> str:
    answer = harness.call("POST", f"{BASE}/miniprograms", "ada", json={"name": name})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()["id"]


def package(**extra: str) -> bytes:
    files = {"app.json": json.dumps({"pages": ["pages/index/index"]}), "pages/index/index.js": "Page({})", **extra}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def upload(harness, mp: str, version: str, data: bytes, account: str = "dev"):
    form = {"version": version, "notes": "first", "package": (io.BytesIO(data), "app.zip")}
    return harness.call("POST", f"{BASE}/miniprograms/{mp}/versions", account, data=form, content_type="multipart/form-data")


def test_admins_create_mini_programs_that_only_assigned_members_see(harness):
    team(harness)
    mp = new_miniprogram(harness)
    [created] = harness.published("catalog.miniprogram.created")
    telemetry_id = harness.call("GET", f"{BASE}/miniprograms/{mp}", "ada").get_json()["telemetry_id"]
    assert telemetry_id >= 1
    assert created["payload"] == {
        "miniprogram_id": mp,
        "telemetry_id": telemetry_id,
        "workspace_id": WS,
        "name": "Shop",
        "created_by": "ada",
    }
    assert harness.call("POST", f"{BASE}/miniprograms", "ada", json={"name": "Shop"}).status_code == 409
    assert harness.call("POST", f"{BASE}/miniprograms", "dev", json={"name": "Mine"}).status_code == 403
    assert harness.call("GET", f"{BASE}/miniprograms", "stranger").status_code == 404

    assert harness.call("GET", f"{BASE}/miniprograms/{mp}", "dev").status_code == 404
    assert harness.call("PUT", f"{BASE}/miniprograms/{mp}/developers", "ada", json={"account_ids": ["dev"]}).status_code == 200
    assert harness.call("GET", f"{BASE}/miniprograms/{mp}", "dev").get_json()["developer_ids"] == ["dev"]
    assert [
        (event["payload"]["account_id"], event["payload"]["miniprogram_id"]) for event in harness.published("catalog.assignment.added")
    ] == [("dev", mp)]
    assert [item["id"] for item in harness.call("GET", f"{BASE}/miniprograms", "dev").get_json()["items"]] == [mp]
    assert harness.call("GET", f"{BASE}/miniprograms", "other").get_json()["items"] == []
    refused = harness.call("PUT", f"{BASE}/miniprograms/{mp}/developers", "ada", json={"account_ids": ["stranger"]})
    assert refused.status_code == 422 and "account_ids" in refused.get_json()["errors"]


def test_each_change_of_an_assignment_is_published_whole_with_the_next_revision(harness):
    team(harness)
    mp = new_miniprogram(harness)
    developers = f"{BASE}/miniprograms/{mp}/developers"
    assert harness.call("PUT", developers, "ada", json={"account_ids": ["dev"]}).status_code == 200
    assert harness.call("PUT", developers, "ada", json={"account_ids": []}).status_code == 200
    # The ended assignment is kept for its revision, and grants nothing.
    assert harness.call("GET", developers, "ada").get_json()["account_ids"] == []
    assert harness.call("GET", f"{BASE}/miniprograms/{mp}", "dev").status_code == 404
    assert harness.call("GET", f"{BASE}/miniprograms", "dev").get_json()["items"] == []
    accepted = {"invitation_id": "i1", "account_id": "dev", "role": "developer", "miniprogram_ids": [mp]}
    harness.deliver("identity.invitation.accepted", accepted, WS)
    assert harness.call("PUT", developers, "ada", json={"account_ids": ["dev"]}).status_code == 200  # already assigned: no event
    assert harness.call("GET", f"{BASE}/miniprograms/{mp}", "dev").status_code == 200

    state = {"miniprogram_id": mp, "account_id": "dev", "workspace_id": WS}
    assert [(event["type"], event["payload"]) for event in harness.published() if event["type"].startswith("catalog.assignment.")] == [
        ("catalog.assignment.added", state | {"assigned": True, "revision": 1}),
        ("catalog.assignment.removed", state | {"assigned": False, "revision": 2}),
        ("catalog.assignment.added", state | {"assigned": True, "revision": 3}),
    ]


def test_a_version_is_validated_stored_announced_and_downloaded_as_uploaded(harness):
    team(harness)
    mp = new_miniprogram(harness)
    harness.call("PUT", f"{BASE}/miniprograms/{mp}/developers", "ada", json={"account_ids": ["dev"]})
    data = package()
    answer = upload(harness, mp, "1.0.0", data)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    version = answer.get_json()
    assert version["sha256"] == hashlib.sha256(data).hexdigest() and version["size"] == len(data)
    assert version["entry_page"] == "pages/index/index"
    [uploaded] = harness.published("catalog.version.uploaded")
    assert uploaded["payload"]["version_id"] == version["id"] and uploaded["payload"]["sha256"] == version["sha256"]
    # The upload time to the microsecond, in ISO 8601 as every event writes its times.
    with harness.sessions() as session:
        assert uploaded["payload"]["uploaded_at"] == session.get(Version, version["id"]).created_at.isoformat()

    download = harness.call("GET", f"{BASE}/miniprograms/{mp}/versions/{version['id']}/package", "other")
    assert download.status_code == 404  # a developer not assigned to it does not see it
    # a reviewer sees every mini program of the workspace, and its packages, to judge a launch
    assert harness.call("GET", f"{BASE}/miniprograms/{mp}/versions/{version['id']}/package", "rex").status_code == 200
    download = harness.call("GET", f"{BASE}/miniprograms/{mp}/versions/{version['id']}/package", "dev")
    assert download.status_code == 200 and download.get_data() == data

    assert upload(harness, mp, "1.0.0", package(**{"extra.txt": "x"})).status_code == 409
    broken = upload(harness, mp, "1.0.1", b"not a zip")
    assert broken.status_code == 422 and "package" in broken.get_json()["errors"]
    assert upload(harness, mp, "1.0.2", data, account="other").status_code == 404
    assert len(harness.published("catalog.version.uploaded")) == 1


def test_a_package_download_is_conditional_and_resumable_from_either_store(harness_on_each_store):
    harness = harness_on_each_store
    team(harness)
    mp = new_miniprogram(harness)
    harness.call("PUT", f"{BASE}/miniprograms/{mp}/developers", "ada", json={"account_ids": ["dev"]})
    data = package(**{"assets/noise.bin": os.urandom(6000).hex()})
    version = upload(harness, mp, "1.0.0", data).get_json()
    etag, size = f'"{version["sha256"]}"', len(data)

    def download(**headers: str):
        url = f"{BASE}/miniprograms/{mp}/versions/{version['id']}/package"
        return harness.call("GET", url, "dev", headers={name.replace("_", "-"): value for name, value in headers.items()})

    whole = download()
    assert whole.status_code == 200 and whole.get_data() == data
    assert whole.headers["Content-Length"] == str(size) and whole.headers["Accept-Ranges"] == "bytes"
    assert whole.headers["ETag"] == etag and whole.headers["Content-Type"] == "application/zip"
    assert whole.headers["Content-Disposition"] == "attachment; filename=1.0.0.zip" and whole.headers["Cache-Control"] == "no-cache"
    for asked, start, stop in (("bytes=100-299", 100, 300), ("bytes=1000-", 1000, size), ("bytes=-300", size - 300, size)):
        part = download(Range=asked)
        assert part.status_code == 206 and part.get_data() == data[start:stop], asked
        assert part.headers["Content-Range"] == f"bytes {start}-{stop - 1}/{size}" and part.headers["Content-Length"] == str(stop - start)
    assert download(Range="bytes=100-299", If_Range=etag).get_data() == data[100:300]
    changed = download(Range="bytes=100-299", If_Range=f'"{"0" * 64}"')
    assert changed.status_code == 200 and changed.get_data() == data
    # Several ranges are refused as Werkzeug refuses them; a client asks again for one.
    assert download(Range="bytes=0-1,5-6").status_code == 416

    # 304 and 416 are answered from the database alone: the store is not read for them.
    harness.app.extensions["catalog_blobs"].delete(version["sha256"])
    not_modified = download(If_None_Match=etag)
    assert not_modified.status_code == 304 and not_modified.headers["ETag"] == etag and not not_modified.get_data()
    beyond = download(Range=f"bytes={size}-")
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{size}"
    assert download().status_code == 503


def test_a_gated_feature_is_activated_by_the_approval_decision(harness):
    team(harness)
    mp = new_miniprogram(harness)
    harness.call("PUT", f"{BASE}/miniprograms/{mp}/developers", "ada", json={"account_ids": ["dev"]})
    body = {"name": "Payments", "description": "", "activation": "approval", "jsapi_ids": []}
    feature = harness.call("POST", f"{BASE}/features", "ada", json=body).get_json()
    requested = harness.call("POST", f"{BASE}/miniprograms/{mp}/features", "dev", json={"feature_id": feature["id"]}).get_json()
    assert requested["status"] == "pending_approval"
    [event] = harness.published("catalog.feature.activation_requested")
    assert event["payload"]["request_id"] == requested["request_id"]

    decision = {
        "approval_id": "ap1",
        "workspace_id": WS,
        "type": "feature",
        "subject": {"kind": "feature_activation", "id": requested["request_id"]},
        "status": "approved",
        "applicant_id": "dev",
        "decided_by": "rex",
        "decided_at": "2026-11-25T10:00:00Z",
        "comment": None,
    }
    harness.deliver("approval.approval.decided", decision | {"type": "launch", "subject": {"kind": "launch", "id": "l1"}}, WS)
    statuses = lambda: [item["status"] for item in harness.call("GET", f"{BASE}/miniprograms/{mp}/features", "dev").get_json()["items"]]  # noqa: E731
    assert statuses() == ["pending_approval"]
    harness.deliver("approval.approval.decided", decision, WS)
    assert statuses() == ["active"]


def test_a_retried_feature_request_is_answered_again_only_while_its_developer_is_assigned(harness):
    team(harness)
    mp = new_miniprogram(harness)
    developers = f"{BASE}/miniprograms/{mp}/developers"
    assert harness.call("PUT", developers, "ada", json={"account_ids": ["dev"]}).status_code == 200
    maps = {"name": "Maps", "description": "", "activation": "direct", "jsapi_ids": []}
    feature = harness.call("POST", f"{BASE}/features", "ada", json=maps)
    path, body, retry = f"{BASE}/miniprograms/{mp}/features", {"feature_id": feature.get_json()["id"]}, {"Idempotency-Key": "maps"}
    first = harness.call("POST", path, "dev", json=body, headers=retry)
    assert first.status_code == 201
    again = harness.call("POST", path, "dev", json=body, headers=retry)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()

    assert harness.call("PUT", developers, "ada", json={"account_ids": []}).status_code == 200
    assert harness.call("POST", path, "dev", json=body).status_code == 404
    refused = harness.call("POST", path, "dev", json=body, headers=retry)
    assert refused.status_code == 404 and "Idempotent-Replayed" not in refused.headers


def test_a_workspace_api_key_acts_with_its_role_until_it_is_revoked(harness):
    team(harness)
    mp = new_miniprogram(harness)
    token, token_hash = new_api_key()
    key = {"api_key_id": "k1", "workspace_id": WS, "role": "developer", "token_hash": token_hash, "revoked_at": None, "created_by": "ada"}
    harness.deliver("workspace.api_key.created", key, WS)
    assert [item["id"] for item in harness.call("GET", f"{BASE}/miniprograms", bearer=token).get_json()["items"]] == [mp]
    assert harness.call("POST", f"{BASE}/miniprograms", bearer=token, json={"name": "x"}).status_code == 403
    assert harness.call("GET", "/api/v1/workspaces/w2/miniprograms", bearer=token).status_code == 404
    harness.deliver("workspace.api_key.revoked", key | {"revoked_at": "2026-11-25T10:00:00+00:00"}, WS)
    assert harness.call("GET", f"{BASE}/miniprograms", bearer=token).status_code == 401


def test_a_workspace_api_key_acts_for_its_creator_and_is_refused_without_one(harness):
    team(harness)
    mp = new_miniprogram(harness)
    token, token_hash = new_api_key()
    key = {"api_key_id": "k2", "workspace_id": WS, "role": "developer", "token_hash": token_hash, "revoked_at": None}
    harness.deliver("workspace.api_key.created", key, WS)  # announced before keys named their creator
    refused = harness.call("GET", f"{BASE}/miniprograms/{mp}", bearer=token)
    assert refused.status_code == 401 and "announce workspace" in refused.get_json()["detail"]
    harness.deliver("workspace.api_key.created", key | {"created_by": "ada"}, WS)  # announced again
    assert harness.call("GET", f"{BASE}/miniprograms/{mp}", bearer=token).status_code == 200


def test_an_accepted_invitation_assigns_the_mini_programs_it_names(harness):
    team(harness)
    mp, other = new_miniprogram(harness), new_miniprogram(harness, "Pay")
    harness.member(WS, "newcomer", "developer")
    accepted = {"invitation_id": "i1", "account_id": "newcomer", "role": "developer", "miniprogram_ids": [mp, "unknown"]}
    harness.deliver("identity.invitation.accepted", accepted, WS)
    assert [item["id"] for item in harness.call("GET", f"{BASE}/miniprograms", "newcomer").get_json()["items"]] == [mp]
    assert harness.call("GET", f"{BASE}/miniprograms/{other}", "newcomer").status_code == 404


# -- the whole state, announced again ---------------------------------------------------------------


def _state(envelope: dict) -> dict:
    """The payload as a consumer reads it, through the contract."""
    return contracts.read(envelope["type"], envelope["version"], envelope["payload"])


@pytest.fixture
def catalog(harness):
    """Three mini programs; dev assigned to Shop and unassigned again, other assigned to Shop."""
    team(harness)
    for name in ("Shop", "Games", "News"):
        new_miniprogram(harness, name)
    shop = harness.published("catalog.miniprogram.created")[0]["payload"]["miniprogram_id"]
    developers = f"{BASE}/miniprograms/{shop}/developers"
    assert harness.call("PUT", developers, "ada", json={"account_ids": ["dev", "other"]}).status_code == 200
    assert harness.call("PUT", developers, "ada", json={"account_ids": ["other"]}).status_code == 200
    return shop


def test_every_mini_program_and_assignment_is_published_again_as_its_current_state(harness, catalog, monkeypatch):
    created = [_state(envelope) for envelope in harness.published("catalog.miniprogram.created")]
    already = len(harness.published())
    monkeypatch.setattr(events, "ANNOUNCE_BATCH", 2)  # more rows than a batch holds

    written = list(events.announce(harness.engine))

    announced = harness.published()[already:]
    assert sorted(_state(item)["name"] for item in announced if item["type"] == "catalog.miniprogram.created") == ["Games", "News", "Shop"]
    assert sorted(
        (_state(item) for item in announced if item["type"] == "catalog.miniprogram.created"), key=lambda state: state["name"]
    ) == sorted(created, key=lambda state: state["name"])
    assignments = sorted(
        (item["type"], _state(item)["account_id"], _state(item)["assigned"], _state(item)["revision"])
        for item in announced
        if item["type"].startswith("catalog.assignment.")
    )
    assert assignments == [("catalog.assignment.added", "other", True, 1), ("catalog.assignment.removed", "dev", False, 2)]
    assert {_state(item)["miniprogram_id"] for item in announced if item["type"].startswith("catalog.assignment.")} == {catalog}
    assert all(item["workspace_id"] == "w1" for item in announced)
    assert written == [
        ("catalog.miniprogram.created", 2),
        ("catalog.miniprogram.created", 1),
        ("catalog.assignment.removed", 1),
        ("catalog.assignment.added", 1),
    ]


def test_mpdpctl_announce_writes_the_catalog_state_to_its_outbox(harness, catalog, monkeypatch, capsys):
    already = len(harness.published())
    monkeypatch.setenv("MPDP_CATALOG_DATABASE_URL", harness.settings.database_url)

    launcher.main(["announce", "catalog"])

    assert len(harness.published()[already:]) == 5
    output = capsys.readouterr().out
    assert "catalog.miniprogram.created: 3 written" in output
    assert "catalog.assignment.added: 1 written" in output
    assert "catalog.assignment.removed: 1 written" in output
    assert "5 event(s) written to the catalog outbox" in output


def test_mpdpctl_announce_names_the_services_that_announce():
    with pytest.raises(SystemExit, match="identity has no state to announce; services that do: catalog, workspace"):
        launcher.main(["announce", "identity"])
