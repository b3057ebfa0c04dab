"""The audit log through the gateway: what an account and an API key did, across services, with
who did it, newest first, filtered, exported as NDJSON; for admins only, and without a secret."""

from __future__ import annotations

import json

import requests

from .client import Client
from .conftest import eventually
from .test_catalog import new_miniprogram, upload

APP = {"name": "Audited App", "platforms": ["ios"], "bundle_id": "com.acme.audited"}
#: events cross two hops (outbox, relay, broker, consumer) before the log has them
HOPS = 30.0


def test_an_accounts_and_an_api_keys_changes_are_in_the_audit_log_without_their_secrets(make_user, make_workspace):
    admin, developer = make_user("admin"), make_user("developer")
    ws = make_workspace(admin)
    base = f"/api/v1/workspaces/{ws}"
    log = f"{base}/audit-log"

    # The admin changes things, at the workspace service and at identity.
    app = admin.post(f"{base}/apps", json=APP, headers={"X-Request-Id": "audit-app-create"})
    assert app.status_code == 201, app.text
    app_id = app.json()["id"]
    app_key = admin.post(f"{base}/apps/{app_id}/keys", json={"label": "prod"})
    assert app_key.status_code == 201, app_key.text
    invited = admin.post(f"{base}/invitations", json={"email": developer.account["email"], "role": "developer"})
    assert invited.status_code == 201, invited.text
    assert developer.post(f"/api/v1/invitations/{invited.json()['token']}/accept").status_code == 200
    mp = new_miniprogram(admin, ws)["id"]

    # An API key, made by the admin, uploads a version at the catalog.
    created = admin.post(f"{base}/api-keys", json={"label": "ci", "role": "developer"})
    assert created.status_code == 201, created.text
    key = created.json()
    version = eventually(lambda: upload(Client(admin.base, key["token"]), ws, mp, "1.0.0"), timeout=HOPS).json()

    def entries(**params) -> list[dict]:
        answer = admin.get(log, params={"limit": 200, **params})
        assert answer.status_code == 200, answer.text
        return answer.json()["items"]

    expected = {
        "workspace.app.created",
        "workspace.app_key.created",
        "identity.invitation.created",
        "identity.invitation.accepted",
        "identity.member.added",
        "catalog.miniprogram.created",
        "workspace.api_key.created",
        "catalog.version.uploaded",
    }
    items = eventually(lambda: (found := entries()) and expected <= {item["action"] for item in found} and found, timeout=HOPS)
    assert [item["at"] for item in items] == sorted((item["at"] for item in items), reverse=True)
    admin_id = admin.account["id"]

    by_action = {item["action"]: item for item in reversed(items)}  # the newest of each
    uploaded = by_action["catalog.version.uploaded"]
    assert uploaded["actor"] == {"kind": "api_key", "id": key["id"], "on_behalf_of": admin_id}
    assert uploaded["subject"] == {"kind": "version", "id": version["id"]}
    assert "1.0.0" in uploaded["summary"]
    app_made = by_action["workspace.app.created"]
    assert app_made["actor"] == {"kind": "account", "id": admin_id}
    assert app_made["subject"] == {"kind": "app", "id": app_id} and app_made["request_id"] == "audit-app-create"
    assert by_action["identity.invitation.accepted"]["actor"] == {"kind": "account", "id": developer.account["id"]}
    assert by_action["workspace.api_key.created"]["subject"] == {"kind": "api_key", "id": key["id"]}

    # Filters: by action; by actor (a key finds its own doings, an account its own and its keys').
    assert [item["action"] for item in entries(action="workspace.app.created")] == ["workspace.app.created"]
    by_key = entries(actor_id=key["id"])
    assert by_key and all(item["actor"]["kind"] == "api_key" and item["actor"]["id"] == key["id"] for item in by_key)
    assert uploaded["id"] in {item["id"] for item in by_key}
    by_admin = entries(actor_id=admin_id)
    assert {app_made["id"], uploaded["id"]} <= {item["id"] for item in by_admin}
    assert all(admin_id in (item["actor"]["id"], item["actor"].get("on_behalf_of")) for item in by_admin)
    page = admin.get(log, params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    following = admin.get(log, params={"limit": 2, "cursor": page["next_cursor"]}).json()["items"]
    assert [item["id"] for item in page["items"] + following] == [item["id"] for item in items[:4]]

    # The export streams NDJSON, oldest first.
    with requests.get(
        admin.base + f"{log}/export", headers={"Authorization": f"Bearer {admin.token}"}, stream=True, timeout=30
    ) as exported:
        assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("application/x-ndjson")
        text = "".join(chunk.decode() for chunk in exported.iter_content(chunk_size=None))
    lines = [json.loads(line) for line in text.splitlines()]
    assert {line["id"] for line in lines} >= {item["id"] for item in items}
    assert [line["at"] for line in lines] == sorted(line["at"] for line in lines)
    assert next(line for line in lines if line["id"] == uploaded["id"]) == uploaded

    # Admins only.
    eventually(lambda: developer.get(base).status_code == 200)
    assert developer.get(log).status_code == 403
    assert developer.get(f"{log}/export").status_code == 403
    assert make_user("stranger").get(log).status_code == 404

    # No secret: not the app key's, not the API key's, not the invitation's token.
    listed = admin.get(log, params={"limit": 200}).text
    for secret in (app_key.json()["secret"], key["token"], invited.json()["token"]):
        assert secret not in listed and secret not in text


def test_catalog_and_identity_changes_that_had_no_event_are_in_the_audit_log_too(make_user, make_workspace):
    admin = make_user("admin")
    ws = make_workspace(admin)
    base = f"/api/v1/workspaces/{ws}"
    mp = new_miniprogram(admin, ws)["id"]
    jsapi = admin.post(f"{base}/jsapis", json={"name": "scanCode", "description": "Scan a QR code", "platforms": ["ios"]})
    assert jsapi.status_code == 201, jsapi.text
    feature = admin.post(f"{base}/features", json={"name": "Scanner", "activation": "direct", "jsapi_ids": [jsapi.json()["id"]]})
    assert feature.status_code == 201, feature.text
    assert admin.patch(f"{base}/miniprograms/{mp}", json={"description": "The shop"}).status_code == 200
    assert admin.put(f"{base}/miniprograms/{mp}/testers", json={"user_ids": ["u1", "u2"]}).status_code == 200
    invited = admin.post(f"{base}/invitations", json={"email": "later@example.com", "role": "reviewer"})
    assert admin.delete(f"{base}/invitations/{invited.json()['id']}").status_code == 204

    expected = {
        "catalog.jsapi.created": ("jsapi", jsapi.json()["id"]),
        "catalog.feature.created": ("feature", feature.json()["id"]),
        "catalog.miniprogram.updated": ("miniprogram", mp),
        "catalog.testers.changed": ("miniprogram", mp),
        "identity.invitation.withdrawn": ("invitation", invited.json()["id"]),
    }

    def logged() -> dict:
        items = admin.get(f"{base}/audit-log", params={"limit": 200}).json()["items"]
        found = {item["action"]: item for item in items if item["action"] in expected}
        return found if len(found) == len(expected) else {}

    found = eventually(logged, timeout=HOPS)
    for action, (kind, ident) in expected.items():
        assert found[action]["subject"] == {"kind": kind, "id": ident}, found[action]
        assert found[action]["actor"] == {"kind": "account", "id": admin.account["id"]}
    assert "description" in found["catalog.miniprogram.updated"]["summary"]
    assert "2 testers" in found["catalog.testers.changed"]["summary"]
