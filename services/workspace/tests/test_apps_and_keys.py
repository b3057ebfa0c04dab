"""Host apps, their signing keys, and workspace API keys."""

from __future__ import annotations

from datetime import timedelta

from mpdp_common.appkeys import app_key_secret
from mpdp_common.crypto import digest
from mpdp_common.db import utcnow
from mpdp_workspace import events
from mpdp_workspace.models import AppKey

FINGERPRINT = ":".join(["AB"] * 32)
APP = {
    "name": "Acme Super App",
    "platforms": ["ios", "android"],
    "bundle_id": "com.acme.superapp",
    "android_cert_fingerprints": [FINGERPRINT],
}


def test_apps_are_created_listed_and_changed(harness):
    ws = harness.tenant("alice", carol="developer")
    created = harness.call("POST", f"/api/v1/workspaces/{ws}/apps", "alice", json=APP)
    assert created.status_code == 201, created.get_data(as_text=True)
    app = created.get_json()
    assert app["platforms"] == ["ios", "android"] and app["android_cert_fingerprints"] == [FINGERPRINT]
    assert harness.published("workspace.app.created")[0]["payload"]["app_id"] == app["id"]

    assert harness.call("POST", f"/api/v1/workspaces/{ws}/apps", "alice", json=APP | {"name": "acme super app"}).status_code == 409
    assert [item["id"] for item in harness.call("GET", f"/api/v1/workspaces/{ws}/apps", "carol").get_json()["items"]] == [app["id"]]
    assert harness.call("GET", f"/api/v1/workspaces/{ws}/apps/{app['id']}", "carol").get_json()["bundle_id"] == "com.acme.superapp"

    lowercase = "ab" * 32
    changed = harness.call(
        "PATCH",
        f"/api/v1/workspaces/{ws}/apps/{app['id']}",
        "alice",
        json={"platforms": ["android"], "android_cert_fingerprints": [lowercase]},
    )
    assert changed.status_code == 200 and changed.get_json()["platforms"] == ["android"]
    assert changed.get_json()["android_cert_fingerprints"] == [FINGERPRINT]
    assert harness.published("workspace.app.updated")[0]["payload"]["changed"] == ["platforms"]

    second = harness.call("POST", f"/api/v1/workspaces/{ws}/apps", "alice", json=APP | {"name": "Other"}).get_json()
    assert (
        harness.call("PATCH", f"/api/v1/workspaces/{ws}/apps/{second['id']}", "alice", json={"name": "ACME super app"}).status_code == 409
    )
    assert harness.call("PATCH", f"/api/v1/workspaces/{ws}/apps/{app['id']}", "carol", json={"name": "x"}).status_code == 403

    other = harness.tenant("zed")
    assert harness.call("GET", f"/api/v1/workspaces/{other}/apps/{app['id']}", "zed").status_code == 404
    assert harness.call("GET", f"/api/v1/workspaces/{ws}/apps/{app['id']}", "zed").status_code == 404


def test_bad_app_bodies(harness):
    ws = harness.tenant("alice")
    for change in (
        {"platforms": ["windows"]},
        {"platforms": []},
        {"platforms": ["ios", "ios"]},
        {"bundle_id": "no dots"},
        {"android_cert_fingerprints": ["AB:CD"]},
        {"android_cert_fingerprints": ["ZZ" * 32]},
        {"name": ""},
        {"name": "   "},
        {"owner": "me"},
    ):
        answer = harness.call("POST", f"/api/v1/workspaces/{ws}/apps", "alice", json=APP | change)
        assert answer.status_code == 422, change
    assert harness.published("workspace.app.created") == []


def test_app_keys_show_the_secret_once_and_keep_only_its_hash(harness):
    ws = harness.tenant("alice", bob="reviewer")
    app = harness.call("POST", f"/api/v1/workspaces/{ws}/apps", "alice", json=APP).get_json()
    keys = f"/api/v1/workspaces/{ws}/apps/{app['id']}/keys"
    created = harness.call("POST", keys, "alice", json={"label": "prod"})
    assert created.status_code == 201
    key = created.get_json()
    assert key["secret"] == app_key_secret(harness.box, key["key_id"]) and key["status"] == "active"
    with harness.sessions() as session:
        stored = session.get(AppKey, key["key_id"])
        assert stored.secret_hash == digest(key["secret"]) and key["secret"] not in str(vars(stored))
    assert harness.published("workspace.app_key.created")[0]["payload"] == {
        "id": key["id"],
        "key_id": key["key_id"],
        "app_id": app["id"],
        "workspace_id": ws,
        "expires_at": None,
    }
    listed = harness.call("GET", keys, "alice").get_json()["items"]
    assert [item["key_id"] for item in listed] == [key["key_id"]] and "secret" not in listed[0]
    assert harness.call("GET", keys, "bob").status_code == 403
    assert harness.call("POST", keys, "bob", json={}).status_code == 403

    rotated = harness.call("POST", f"{keys}/{key['id']}/rotate", "alice", json={"grace_seconds": 3600})
    assert rotated.status_code == 201
    new = rotated.get_json()
    assert new["key_id"] != key["key_id"] and new["secret"] == app_key_secret(harness.box, new["key_id"])
    assert new["replaces"]["status"] == "expiring"
    event = harness.published("workspace.app_key.rotated")[0]["payload"]
    assert event["old_key_id"] == key["key_id"] and event["new_key_id"] == new["key_id"]
    assert abs((utcnow() + timedelta(hours=1)).timestamp() - _parse(event["old_expires_at"])) < 60
    assert harness.call("POST", f"{keys}/{key['id']}/rotate", "alice", json={}).status_code == 409
    assert harness.call("POST", f"{keys}/{new['id']}/rotate", "alice", json={"grace_seconds": 31 * 24 * 3600}).status_code == 422

    assert harness.call("DELETE", f"{keys}/{new['id']}", "alice").status_code == 204
    assert harness.call("DELETE", f"{keys}/{new['id']}", "alice").status_code == 204
    assert len(harness.published("workspace.app_key.revoked")) == 1
    assert harness.published("workspace.app_key.revoked")[0]["payload"]["key_id"] == new["key_id"]
    statuses = {item["key_id"]: item["status"] for item in harness.call("GET", keys, "alice").get_json()["items"]}
    assert statuses == {key["key_id"]: "expiring", new["key_id"]: "revoked"}

    other = harness.call("POST", f"/api/v1/workspaces/{ws}/apps", "alice", json=APP | {"name": "Other"}).get_json()
    assert harness.call("DELETE", f"/api/v1/workspaces/{ws}/apps/{other['id']}/keys/{key['id']}", "alice").status_code == 404
    assert harness.call("POST", f"/api/v1/workspaces/{ws}/apps/nope/keys", "alice", json={}).status_code == 404


def _parse(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp()


def test_api_keys_act_with_their_role_in_their_workspace_only(harness):
    ws = harness.tenant("alice", bob="reviewer")
    other = harness.tenant("zed")
    assert harness.call("POST", f"/api/v1/workspaces/{ws}/api-keys", "bob", json={"label": "ci", "role": "developer"}).status_code == 403
    assert harness.call("POST", f"/api/v1/workspaces/{ws}/api-keys", "alice", json={"label": "ci", "role": "admin"}).status_code == 422
    assert harness.call("POST", f"/api/v1/workspaces/{ws}/api-keys", "alice", json={"label": "  ", "role": "developer"}).status_code == 422
    created = harness.call("POST", f"/api/v1/workspaces/{ws}/api-keys", "alice", json={"label": "ci", "role": "developer"})
    assert created.status_code == 201
    key = created.get_json()
    assert key["token"].startswith("mpdp_ak_")
    payload = harness.published("workspace.api_key.created")[0]["payload"]
    assert set(payload) == {"api_key_id", "workspace_id", "role", "token_hash", "revoked_at", "created_by"}
    assert key["token"] not in str(payload)
    assert payload["created_by"] == "alice"
    listed = harness.call("GET", f"/api/v1/workspaces/{ws}/api-keys", "alice").get_json()["items"]
    assert [item["id"] for item in listed] == [key["id"]] and "token" not in listed[0]

    token = key["token"]
    assert harness.call("GET", f"/api/v1/workspaces/{ws}/apps", bearer=token).status_code == 200
    assert harness.call("POST", f"/api/v1/workspaces/{ws}/apps", bearer=token, json=APP).status_code == 403
    assert harness.call("GET", f"/api/v1/workspaces/{other}/apps", bearer=token).status_code == 404
    assert [item["id"] for item in harness.call("GET", "/api/v1/workspaces", bearer=token).get_json()["items"]] == [ws]
    assert harness.call("POST", "/api/v1/workspaces", bearer=token, json={"name": "x", "kind": "tenant"}).status_code == 403

    assert harness.call("DELETE", f"/api/v1/workspaces/{other}/api-keys/{key['id']}", "zed").status_code == 404
    assert harness.call("DELETE", f"/api/v1/workspaces/{ws}/api-keys/{key['id']}", "alice").status_code == 204
    assert harness.published("workspace.api_key.revoked")[0]["payload"]["revoked_at"]
    assert harness.call("GET", f"/api/v1/workspaces/{ws}/apps", bearer=token).status_code == 401
    assert harness.call("GET", f"/api/v1/workspaces/{ws}/apps", bearer="mpdp_ak_forged").status_code == 401


def test_announce_publishes_every_api_key_again_with_its_creator(harness):
    ws = harness.tenant("alice")
    keys = [
        harness.call("POST", f"/api/v1/workspaces/{ws}/api-keys", "alice", json={"label": "ci", "role": role}).get_json()
        for role in ("developer", "reviewer")
    ]
    assert harness.call("DELETE", f"/api/v1/workspaces/{ws}/api-keys/{keys[1]['id']}", "alice").status_code == 204
    already = len(harness.published())
    assert list(events.announce(harness.engine)) == [("workspace.api_key.created", 2)]
    announced = {item["payload"]["api_key_id"]: item["payload"] for item in harness.published()[already:]}
    assert set(announced) == {key["id"] for key in keys}
    assert all(state["created_by"] == "alice" for state in announced.values())
    assert announced[keys[0]["id"]]["revoked_at"] is None and announced[keys[1]["id"]]["revoked_at"] is not None
