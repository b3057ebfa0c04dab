"""Creates honour Idempotency-Key: the same key and body answer the first response again."""

from __future__ import annotations

import secrets

from .conftest import eventually
from .test_catalog import Team, new_feature, team  # noqa: F401 - team is a fixture


def test_a_retried_account_create_answers_the_first_response(client):
    key = secrets.token_hex(8)
    body = {"email": f"retry-{key}@example.com", "password": "a long password", "name": "Retry"}
    first = client.post("/api/v1/accounts", json=body, headers={"Idempotency-Key": key})
    again = client.post("/api/v1/accounts", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    # Without the key, the same body answers alike (a taken email is not told apart) and makes nothing new.
    duplicate = client.post("/api/v1/accounts", json=body)
    assert duplicate.status_code == 201 and duplicate.json()["id"] != first.json()["id"]
    # The key with another body is refused and creates nothing.
    other = dict(body, email=f"other-{key}@example.com")
    refused = client.post("/api/v1/accounts", json=other, headers={"Idempotency-Key": key})
    assert refused.status_code == 422 and "Idempotency-Key" in refused.json()["errors"]
    assert client.post("/api/v1/auth/token", json={"email": other["email"], "password": body["password"]}).status_code == 401


def test_keys_are_per_caller_and_creates_happen_once(make_user):
    alice, bob = make_user("alice"), make_user("bob")
    key = secrets.token_hex(8)
    body = {"name": "Retried Co", "kind": "tenant"}
    first = alice.post("/api/v1/workspaces", json=body, headers={"Idempotency-Key": key})
    second = alice.post("/api/v1/workspaces", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 201 and first.json()["id"] == second.json()["id"]
    # The same key from someone else is their own.
    bobs = bob.post("/api/v1/workspaces", json=body, headers={"Idempotency-Key": key})
    assert bobs.status_code == 201 and bobs.json()["id"] != first.json()["id"]
    names = [w["id"] for w in alice.get("/api/v1/workspaces").json()["items"] if w["name"] == "Retried Co"]
    assert names == [first.json()["id"]]


def test_a_secret_shown_once_is_shown_again_only_to_the_same_retry(make_user, make_workspace):
    admin = make_user("admin")
    ws = make_workspace(admin)
    app = admin.post(f"/api/v1/workspaces/{ws}/apps", json={"name": "Host", "platforms": ["ios"], "bundle_id": "com.example.host"})
    assert app.status_code == 201, app.text
    key = secrets.token_hex(8)
    path = f"/api/v1/workspaces/{ws}/apps/{app.json()['id']}/keys"
    first = admin.post(path, json={"label": "ci"}, headers={"Idempotency-Key": key})
    second = admin.post(path, json={"label": "ci"}, headers={"Idempotency-Key": key})
    assert first.status_code == second.status_code == 201
    assert first.json()["secret"] == second.json()["secret"] and first.json()["key_id"] == second.json()["key_id"]
    assert len(admin.get(path).json()["items"]) == 1


def test_a_replay_is_authorized_like_the_first_request(make_user, make_workspace):
    alice, bob = make_user("alice"), make_user("bob")
    ws = make_workspace(alice)
    token = alice.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": bob.account["email"], "role": "admin"}).json()["token"]
    assert bob.post(f"/api/v1/invitations/{token}/accept").status_code == 200
    path, key, body = f"/api/v1/workspaces/{ws}/api-keys", secrets.token_hex(8), {"label": "ci", "role": "developer"}
    eventually(lambda: bob.get(f"/api/v1/workspaces/{ws}/api-keys").status_code == 200)
    first = bob.post(path, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201 and first.json()["token"]

    def replayed() -> tuple[int, str]:
        answer = bob.post(path, json=body, headers={"Idempotency-Key": key})
        return answer.status_code, answer.text

    # Demoted, bob may not see the token again; removed, bob does not learn the workspace exists.
    assert alice.patch(f"/api/v1/workspaces/{ws}/members/{bob.account['id']}", json={"role": "developer"}).status_code == 200
    status, text = eventually(lambda: (answer := replayed())[0] != 201 and answer)
    assert status == 403 and first.json()["token"] not in text
    assert alice.delete(f"/api/v1/workspaces/{ws}/members/{bob.account['id']}").status_code == 204
    status, text = eventually(lambda: (answer := replayed())[0] != 403 and answer)
    assert status == 404 and first.json()["token"] not in text


def test_a_replay_under_a_mini_program_goes_only_to_a_developer_still_assigned(team: Team):
    path, key = f"{team.base}/miniprograms/{team.mp}/features", secrets.token_hex(8)
    body = {"feature_id": new_feature(team.admin, team.ws)["id"]}
    first = team.developer.post(path, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    again = team.developer.post(path, json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()

    developers = f"{team.base}/miniprograms/{team.mp}/developers"
    assert team.admin.put(developers, json={"account_ids": []}).status_code == 200
    assert team.developer.post(path, json=body).status_code == 404
    refused = team.developer.post(path, json=body, headers={"Idempotency-Key": key})
    assert refused.status_code == 404 and "Idempotent-Replayed" not in refused.headers
