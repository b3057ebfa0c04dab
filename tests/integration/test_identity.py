"""Accounts, tokens, invitations and members, through the gateway."""

from __future__ import annotations

import time

import requests

from .conftest import eventually


def test_account_sign_in_and_me(client):
    created = client.post("/api/v1/accounts", json={"email": "Carol.Case@Example.com", "password": "a long password", "name": "Carol"})
    assert created.status_code == 201
    assert created.json()["email"] == "carol.case@example.com"
    assert "password" not in created.text

    # A taken email answers alike (sign-up does not tell who has an account); nothing is made.
    again = client.post("/api/v1/accounts", json={"email": "carol.case@example.com", "password": "another password", "name": "C"})
    assert again.status_code == 201 and set(again.json()) == set(created.json())
    assert client.post("/api/v1/auth/token", json={"email": "carol.case@example.com", "password": "another password"}).status_code == 401

    wrong = client.post("/api/v1/auth/token", json={"email": "carol.case@example.com", "password": "not the password"})
    assert wrong.status_code == 401

    tokens = client.post("/api/v1/auth/token", json={"email": "carol.case@example.com", "password": "a long password"}).json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "carol.case@example.com" and me.json()["memberships"] == []
    assert me.json()["email_verified"] is False and me.json()["mfa_enabled"] is False


def test_validation_errors_name_the_fields(client):
    response = client.post("/api/v1/accounts", json={"email": "not-an-email", "password": "short", "name": "", "admin": True})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"email", "password", "name", "admin"}
    assert client.post("/api/v1/auth/token", json={"email": "not-an-email", "password": "short"}).status_code == 401


def test_refresh_rotates_and_reuse_revokes_the_chain(make_user, client):
    user = make_user("rotator")
    first = user.refresh_token
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert second.status_code == 200
    second_refresh = second.json()["refresh_token"]
    assert second_refresh != first
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {second.json()['access_token']}"}).status_code == 200

    third = client.post("/api/v1/auth/refresh", json={"refresh_token": second_refresh})
    assert third.status_code == 200

    # The spent token is refused once its successor is spent too, and presenting it revokes the
    # whole chain, the newest token included.
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": first}).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": third.json()["refresh_token"]}).status_code == 401


def test_logout_ends_the_refresh_token(make_user, client):
    user = make_user("leaver")
    assert client.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token}).status_code == 204
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}).status_code == 401


def test_invitation_accept_and_member_management(make_user, make_workspace, client):
    admin, dev, stranger = make_user("admin"), make_user("dev"), make_user("stranger")
    ws = make_workspace(admin)

    invited = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": dev.account["email"], "role": "developer"})
    assert invited.status_code == 201
    invitation = invited.json()
    assert invitation["status"] == "pending" and invitation["token"]
    assert admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": dev.account["email"], "role": "developer"}).status_code == 409
    listed = admin.get(f"/api/v1/workspaces/{ws}/invitations").json()["items"]
    assert [item["id"] for item in listed] == [invitation["id"]] and "token" not in listed[0]

    # Only the invited email can accept.
    assert stranger.post(f"/api/v1/invitations/{invitation['token']}/accept").status_code == 403
    accepted = dev.post(f"/api/v1/invitations/{invitation['token']}/accept")
    assert accepted.status_code == 200 and accepted.json() == {"workspace_id": ws, "role": "developer"}
    assert dev.post(f"/api/v1/invitations/{invitation['token']}/accept").status_code == 409

    members = {m["account_id"]: m for m in dev.get(f"/api/v1/workspaces/{ws}/members").json()["items"]}
    assert members[admin.account["id"]]["role"] == "admin"
    assert members[dev.account["id"]]["role"] == "developer" and members[dev.account["id"]]["status"] == "active"

    # Developers cannot manage members; non-members do not learn that the workspace exists.
    assert dev.patch(f"/api/v1/workspaces/{ws}/members/{dev.account['id']}", json={"role": "admin"}).status_code == 403
    assert stranger.get(f"/api/v1/workspaces/{ws}/members").status_code == 404
    assert stranger.get("/api/v1/workspaces/does-not-exist/members").status_code == 404

    # The last active admin cannot be demoted, blocked or removed.
    admin_id = admin.account["id"]
    assert admin.patch(f"/api/v1/workspaces/{ws}/members/{admin_id}", json={"role": "reviewer"}).status_code == 409
    assert admin.post(f"/api/v1/workspaces/{ws}/members/{admin_id}/block").status_code == 409
    assert admin.delete(f"/api/v1/workspaces/{ws}/members/{admin_id}").status_code == 409
    assert admin.patch(f"/api/v1/workspaces/{ws}/members/{dev.account['id']}", json={"role": "owner"}).status_code == 422

    promoted = admin.patch(f"/api/v1/workspaces/{ws}/members/{dev.account['id']}", json={"role": "reviewer"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "reviewer"

    # A blocked member is refused within a second.
    assert admin.post(f"/api/v1/workspaces/{ws}/members/{dev.account['id']}/block").json()["status"] == "blocked"
    started = time.monotonic()
    eventually(lambda: dev.get(f"/api/v1/workspaces/{ws}/members").status_code == 403, timeout=1.0, interval=0.05)
    assert time.monotonic() - started < 1.0
    assert admin.post(f"/api/v1/workspaces/{ws}/members/{dev.account['id']}/unblock").json()["status"] == "active"
    assert dev.get(f"/api/v1/workspaces/{ws}/members").status_code == 200

    assert admin.delete(f"/api/v1/workspaces/{ws}/members/{dev.account['id']}").status_code == 204
    assert dev.get(f"/api/v1/workspaces/{ws}/members").status_code == 404
    assert all(m["workspace_id"] != ws for m in dev.get("/api/v1/me").json()["memberships"])


def test_withdrawn_invitation_cannot_be_accepted(make_user, make_workspace):
    admin, invitee = make_user("admin"), make_user("invitee")
    ws = make_workspace(admin)
    invitation = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": invitee.account["email"], "role": "reviewer"}).json()
    assert admin.delete(f"/api/v1/workspaces/{ws}/invitations/{invitation['id']}").status_code == 204
    assert admin.delete(f"/api/v1/workspaces/{ws}/invitations/{invitation['id']}").status_code == 409
    assert invitee.post(f"/api/v1/invitations/{invitation['token']}/accept").status_code == 409
    assert invitee.post("/api/v1/invitations/no-such-token/accept").status_code == 404


def test_an_invitations_link_says_what_it_is_to_before_anyone_signs_in(make_user, make_workspace, client):
    admin, invitee = make_user("ada"), make_user("invitee")
    ws = make_workspace(admin)  # named "Acme"
    invitation = admin.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": invitee.account["email"], "role": "reviewer"}).json()
    link = f"{client.base}/api/v1/invitations/{invitation['token']}"
    preview = requests.get(link, timeout=10)  # no token: the link is all its reader has
    assert preview.status_code == 200, preview.text
    assert preview.json() == {
        "workspace_id": ws,
        "workspace_name": "Acme",
        "role": "reviewer",
        "email": invitee.account["email"],
        "invited_by": "ada",
        "status": "pending",
        "expires_at": invitation["expires_at"],
    }
    # a new name reaches identity through the workspace's event
    assert admin.patch(f"/api/v1/workspaces/{ws}", json={"name": "Acme Coffee"}).status_code == 200
    eventually(lambda: requests.get(link, timeout=10).json()["workspace_name"] == "Acme Coffee")
    assert invitee.post(f"/api/v1/invitations/{invitation['token']}/accept").status_code == 200
    assert requests.get(link, timeout=10).json()["status"] == "accepted"
    missing = requests.get(f"{client.base}/api/v1/invitations/no-such-token", timeout=10)
    assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json"


def test_invitations_are_for_admins_only(make_user, make_workspace, platform):
    admin, reviewer = make_user("admin"), make_user("reviewer")
    ws = make_workspace(admin)
    invitation = {"email": reviewer.account["email"], "role": "reviewer"}
    token = admin.post(f"/api/v1/workspaces/{ws}/invitations", json=invitation).json()["token"]
    reviewer.post(f"/api/v1/invitations/{token}/accept")
    assert reviewer.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": "x@example.com", "role": "developer"}).status_code == 403
    assert reviewer.get(f"/api/v1/workspaces/{ws}/invitations").status_code == 403
    assert requests.get(f"{platform.gateway}/api/v1/workspaces/{ws}/members", timeout=5).status_code == 401
