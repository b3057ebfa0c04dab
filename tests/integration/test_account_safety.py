"""What holds when clients race or guess: the last admin, password guessing, refresh races."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial


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


def test_two_admins_demoting_each_other_at_once_leave_one_admin(make_user, make_workspace):
    for _ in range(3):
        alice, bob = make_user("alice"), make_user("bob")
        ws = make_workspace(alice)
        add_admin(alice, ws, bob)
        members = f"/api/v1/workspaces/{ws}/members"
        answers = at_once(
            partial(alice.patch, f"{members}/{bob.account['id']}", json={"role": "developer"}),
            partial(bob.patch, f"{members}/{alice.account['id']}", json={"role": "developer"}),
        )
        assert sorted(answer.status_code for answer in answers) in ([200, 409], [200, 403]), [a.text for a in answers]
        admins = [m for m in alice.get(members).json()["items"] if m["role"] == "admin" and m["status"] == "active"]
        assert len(admins) == 1


def test_two_admins_blocking_each_other_at_once_leave_one_admin(make_user, make_workspace):
    alice, bob = make_user("alice"), make_user("bob")
    ws = make_workspace(alice)
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
