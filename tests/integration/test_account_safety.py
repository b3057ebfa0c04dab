"""What holds when clients race or guess: the last admin, password guessing, refresh races."""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from mpdp_identity.tokens import REFRESH_REUSE_GRACE

from .client import Client
from .conftest import eventually


def at_once(*calls):
    """Run the calls in parallel, released together, and return their answers in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def add_admin(owner, ws, other):
    token = owner.post(f"/api/v1/workspaces/{ws}/invitations", json={"email": other.account["email"], "role": "admin"}).json()["token"]
    assert other.post(f"/api/v1/invitations/{token}/accept").status_code == 200


def tenant_of(owner) -> str:
    """A new tenant workspace, once identity shows `owner` as its admin."""
    ws = owner.post("/api/v1/workspaces", json={"name": "Acme", "kind": "tenant"}).json()["id"]
    eventually(lambda: any(m["workspace_id"] == ws and m["role"] == "admin" for m in owner.get("/api/v1/me").json()["memberships"]))
    return ws


# The last-admin rule rests on locks, which PostgreSQL takes on rows and SQLite on the whole
# database: both modes are raced.


def test_two_admins_demoting_each_other_at_once_leave_one_admin(gateway_in_each_mode):
    for _ in range(3):
        alice, bob = Client(gateway_in_each_mode).new_account("alice"), Client(gateway_in_each_mode).new_account("bob")
        ws = tenant_of(alice)
        add_admin(alice, ws, bob)
        members = f"/api/v1/workspaces/{ws}/members"
        answers = at_once(
            partial(alice.patch, f"{members}/{bob.account['id']}", json={"role": "developer"}),
            partial(bob.patch, f"{members}/{alice.account['id']}", json={"role": "developer"}),
        )
        assert sorted(answer.status_code for answer in answers) in ([200, 409], [200, 403]), [a.text for a in answers]
        admins = [m for m in alice.get(members).json()["items"] if m["role"] == "admin" and m["status"] == "active"]
        assert len(admins) == 1


def test_two_admins_blocking_each_other_at_once_leave_one_admin(gateway_in_each_mode):
    alice, bob = Client(gateway_in_each_mode).new_account("alice"), Client(gateway_in_each_mode).new_account("bob")
    ws = tenant_of(alice)
    add_admin(alice, ws, bob)
    members = f"/api/v1/workspaces/{ws}/members"
    at_once(
        lambda: alice.post(f"{members}/{bob.account['id']}/block"),
        lambda: bob.delete(f"{members}/{alice.account['id']}"),
    )
    listed = alice.get(members)
    viewer = alice if listed.status_code == 200 else bob
    admins = [m for m in viewer.get(members).json()["items"] if m["role"] == "admin" and m["status"] == "active"]
    assert len(admins) == 1


def test_password_guessing_is_throttled_per_account(client, make_user):
    victim, bystander = make_user("victim"), make_user("bystander")
    unknown = f"nobody-{secrets.token_hex(4)}@example.com"

    def sign_in(email: str, password: str):
        return client.post("/api/v1/auth/token", json={"email": email, "password": password})

    for email in (victim.account["email"], unknown):
        assert [sign_in(email, f"wrong guess {n}").status_code for n in range(5)] == [401] * 5
        throttled = sign_in(email, "wrong guess 6")
        assert throttled.status_code == 429 and throttled.headers["Content-Type"] == "application/problem+json"
        assert 0 < int(throttled.headers["Retry-After"]) <= 15 * 60
    # Even the right password waits, told exactly what an unknown email is told.
    right = sign_in(victim.account["email"].upper(), victim.password)
    assert right.status_code == 429 and right.json()["detail"] == sign_in(unknown, "anything").json()["detail"]
    # Other accounts are not affected.
    assert sign_in(bystander.account["email"], victim.password).status_code == 401
    assert sign_in(bystander.account["email"], bystander.password).status_code == 200


def test_failed_guesses_in_parallel_are_all_counted(client, make_user):
    victim = make_user("victim")
    guesses = [
        partial(client.post, "/api/v1/auth/token", json={"email": victim.account["email"], "password": f"guess {n}"}) for n in range(8)
    ]
    answers = sorted(answer.status_code for answer in at_once(*guesses))
    assert answers == [401] * 5 + [429] * 3


def test_tabs_refreshing_one_token_at_once_all_get_the_same_new_pair(client, make_user):
    user = make_user("tabs")
    refresh = partial(client.post, "/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    answers = at_once(*[refresh] * 8)
    assert [answer.status_code for answer in answers] == [200] * 8
    assert len({answer.json()["refresh_token"] for answer in answers}) == 1
    newest = answers[0].json()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {newest['access_token']}"}).status_code == 200
    # The new token goes on working; after it is spent, the old one is a reuse again.
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": newest["refresh_token"]}).status_code == 200
    assert refresh().status_code == 401


def test_a_spent_refresh_token_presented_after_the_grace_window_revokes_the_chain(client, make_user):
    user = make_user("late")
    rotated = client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token})
    assert rotated.status_code == 200
    time.sleep(REFRESH_REUSE_GRACE.total_seconds() + 1)
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": user.refresh_token}).status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]}).status_code == 401
