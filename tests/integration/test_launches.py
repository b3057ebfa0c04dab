"""Launches end to end: the catalog, the approval service and the workspace service as their own
processes, driven through the gateway. A version reaches users only through a launch that a
second person approved."""

from __future__ import annotations

import os
import secrets
import signal
import threading
import time

import pytest

from .client import Client
from .conftest import eventually
from .test_catalog import Team, team, upload  # noqa: F401 - team is a fixture
from .test_events_and_faults import _children

APP = {"platforms": ["ios", "android"], "bundle_id": "com.acme.super"}
#: a decision crosses two services and two event hops; on a loaded machine that takes a while
HOPS = 30.0


def new_app(team: Team, name: str | None = None) -> str:
    """A host app of the team's workspace, once the catalog has heard of it."""
    created = team.admin.post(f"{team.base}/apps", json=APP | {"name": name or f"Super {secrets.token_hex(3)}"})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def new_version(team: Team, version: str) -> str:
    answer = upload(team.developer, team.ws, team.mp, version)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def create_launch(user: Client, team: Team, version_id: str, app_id: str) -> dict:
    created = eventually(
        lambda: [
            answer
            for answer in [user.post(f"{team.base}/miniprograms/{team.mp}/launches", json={"version_id": version_id, "app_id": app_id})]
            if answer.status_code != 422  # until the catalog has heard of the app
        ]
    )[0]
    assert created.status_code == 201, created.text
    return created.json()


def launch_path(team: Team, launch_id: str, action: str = "") -> str:
    return f"{team.base}/miniprograms/{team.mp}/launches/{launch_id}" + (f"/{action}" if action else "")


def approval_for(reviewer: Client, ws: str, subject_id: str, status: str = "pending") -> dict:
    """The approval about `subject_id`, once the approval service has opened it from the event."""
    found = eventually(
        lambda: [
            item
            for item in reviewer.get(f"/api/v1/workspaces/{ws}/approvals", params={"status": status, "limit": 200}).json().get("items", [])
            if item["subject"]["id"] == subject_id
        ],
        timeout=HOPS,
    )
    return found[0]


def decide(reviewer: Client, ws: str, approval_id: str, decision: str, comment: str | None = "ok"):
    body = {} if comment is None else {"comment": comment}
    return reviewer.post(f"/api/v1/workspaces/{ws}/approvals/{approval_id}/{decision}", json=body)


def launch_status(team: Team, launch_id: str) -> str:
    return team.admin.get(launch_path(team, launch_id)).json()["status"]


def approved_launch(team: Team, version_id: str, app_id: str) -> dict:
    """Created by the developer, submitted, approved by the reviewer: ready (or pilot)."""
    launch = create_launch(team.developer, team, version_id, app_id)
    assert team.developer.post(launch_path(team, launch["id"], "submit")).status_code == 200
    approval = approval_for(team.reviewer, team.ws, launch["id"])
    assert decide(team.reviewer, team.ws, approval["id"], "approve").status_code == 200
    eventually(lambda: launch_status(team, launch["id"]) in ("ready", "pilot"), timeout=HOPS)
    return team.admin.get(launch_path(team, launch["id"])).json()


def released_launch(team: Team, version_id: str, app_id: str) -> dict:
    launch = approved_launch(team, version_id, app_id)
    published = team.developer.post(launch_path(team, launch["id"], "publish"), json={"percentage": 100})
    assert published.status_code == 200, published.text
    return published.json()


def test_whole_lifecycle_through_an_approval(team):
    app = new_app(team)
    v1, v2 = new_version(team, "1.0.0"), new_version(team, "1.1.0")

    launch = create_launch(team.developer, team, v1, app)
    assert launch["status"] == "created" and launch["history"] == [] and launch["version_id"] == v1 and launch["app_id"] == app
    assert team.developer.post(launch_path(team, launch["id"], "publish"), json={"percentage": 100}).status_code == 409

    submitted = team.developer.post(launch_path(team, launch["id"], "submit"))
    assert submitted.status_code == 200 and submitted.json()["status"] == "under_review"
    again = team.developer.post(launch_path(team, launch["id"], "submit"))
    assert again.status_code == 409 and "under_review" in again.json()["detail"]

    approval = approval_for(team.reviewer, team.ws, launch["id"])
    assert approval["type"] == "launch" and approval["status"] == "pending"
    assert approval["subject"] == {"kind": "launch", "id": launch["id"]}
    assert approval["applicant_id"] == team.developer.account["id"]
    assert "1.0.0" in approval["title"]
    mine = team.developer.get(f"{team.base}/approvals", params={"mine": "true"}).json()["items"]
    assert approval["id"] in [item["id"] for item in mine]

    approved = decide(team.reviewer, team.ws, approval["id"], "approve", comment=None)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == team.reviewer.account["id"]
    eventually(lambda: launch_status(team, launch["id"]) == "ready", timeout=HOPS)

    grayscale = team.developer.post(launch_path(team, launch["id"], "publish"), json={"percentage": 30})
    assert grayscale.status_code == 200 and grayscale.json()["status"] == "grayscale" and grayscale.json()["percentage"] == 30
    released = team.developer.post(launch_path(team, launch["id"], "publish"), json={"percentage": 100}).json()
    assert released["status"] == "released"
    assert [(step["status"], step["by"]) for step in released["history"]] == [
        ("under_review", team.developer.account["id"]),
        ("ready", team.reviewer.account["id"]),
        ("grayscale", team.developer.account["id"]),
        ("released", team.developer.account["id"]),
    ]
    assert team.admin.get(f"{team.base}/miniprograms/{team.mp}").json()["status"] == "published"

    # The next version released archives the one before it.
    second = released_launch(team, v2, app)
    assert second["status"] == "released"
    assert launch_status(team, launch["id"]) == "archived"
    listed = team.reviewer.get(f"{team.base}/miniprograms/{team.mp}/launches", params={"app_id": app}).json()["items"]
    assert {item["id"]: item["status"] for item in listed} == {launch["id"]: "archived", second["id"]: "released"}

    # Nobody sees the launches of a mini program they are not assigned to.
    assert team.other_developer.get(launch_path(team, launch["id"])).status_code == 404
    assert team.stranger.get(f"{team.base}/miniprograms/{team.mp}/launches").status_code == 404


def test_four_eyes_roles_and_rejection(team):
    app = new_app(team)
    version = new_version(team, "1.0.0")
    launch = create_launch(team.admin, team, version, app)
    assert (
        team.reviewer.post(f"{team.base}/miniprograms/{team.mp}/launches", json={"version_id": version, "app_id": app}).status_code == 403
    )
    assert team.admin.post(launch_path(team, launch["id"], "submit")).status_code == 200
    approval = approval_for(team.reviewer, team.ws, launch["id"])

    own = decide(team.admin, team.ws, approval["id"], "approve")
    assert own.status_code == 403 and "own" in own.json()["detail"]
    assert decide(team.developer, team.ws, approval["id"], "approve").status_code == 403
    # Developers see only their own requests; this one is the admin's.
    assert team.developer.get(f"{team.base}/approvals/{approval['id']}").status_code == 404
    assert approval["id"] not in [item["id"] for item in team.developer.get(f"{team.base}/approvals").json()["items"]]
    assert team.stranger.get(f"{team.base}/approvals").status_code == 404

    no_comment = decide(team.reviewer, team.ws, approval["id"], "reject", comment=None)
    assert no_comment.status_code == 422 and "comment" in no_comment.json()["errors"]
    assert decide(team.reviewer, team.ws, approval["id"], "reject", comment="   ").status_code == 422
    rejected = decide(team.reviewer, team.ws, approval["id"], "reject", comment="the icon is blurry")
    assert rejected.status_code == 200 and rejected.json()["comment"] == "the icon is blurry"
    eventually(lambda: launch_status(team, launch["id"]) == "rejected", timeout=HOPS)

    # A decided approval never changes again.
    for decision in ("approve", "reject"):
        assert decide(team.reviewer, team.ws, approval["id"], decision).status_code == 409
    assert team.admin.post(f"{team.base}/approvals/{approval['id']}/withdraw").status_code == 409
    detail = team.admin.get(f"{team.base}/approvals/{approval['id']}").json()
    assert [(step["action"], step["by"], step["comment"]) for step in detail["trail"]] == [
        ("opened", team.admin.account["id"], None),
        ("rejected", team.reviewer.account["id"], "the icon is blurry"),
    ]
    assert team.developer.post(launch_path(team, launch["id"], "submit")).status_code == 409

    filtered = team.reviewer.get(f"{team.base}/approvals", params={"status": "rejected", "type": "launch"}).json()["items"]
    assert approval["id"] in [item["id"] for item in filtered]
    assert approval["id"] not in [
        item["id"] for item in team.reviewer.get(f"{team.base}/approvals", params={"type": "feature"}).json()["items"]
    ]
    assert team.reviewer.get(f"{team.base}/approvals", params={"status": "maybe"}).status_code == 422


def test_withdraw_from_either_side(team):
    app = new_app(team)
    version = new_version(team, "1.0.0")
    launch = create_launch(team.developer, team, version, app)

    # Through the approval service: only the applicant, and the launch is created again.
    assert team.developer.post(launch_path(team, launch["id"], "submit")).status_code == 200
    approval = approval_for(team.reviewer, team.ws, launch["id"])
    assert team.reviewer.post(f"{team.base}/approvals/{approval['id']}/withdraw").status_code == 403
    withdrawn = team.developer.post(f"{team.base}/approvals/{approval['id']}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    eventually(lambda: launch_status(team, launch["id"]) == "created", timeout=HOPS)
    assert decide(team.reviewer, team.ws, approval["id"], "approve").status_code == 409

    # Through the catalog: the approval becomes withdrawn.
    assert team.developer.post(launch_path(team, launch["id"], "submit")).status_code == 200
    second = approval_for(team.reviewer, team.ws, launch["id"])
    assert second["id"] != approval["id"]
    back = team.developer.post(launch_path(team, launch["id"], "withdraw"))
    assert back.status_code == 200 and back.json()["status"] == "created"
    approval_for(team.reviewer, team.ws, launch["id"], status="withdrawn")
    assert [step["status"] for step in back.json()["history"]] == ["under_review", "created", "under_review", "created"]
    assert team.developer.post(launch_path(team, launch["id"], "withdraw")).status_code == 409

    canceled = team.developer.post(launch_path(team, launch["id"], "cancel"))
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert team.developer.post(launch_path(team, launch["id"], "submit")).status_code == 409


def test_a_developer_taken_off_the_mini_program_cannot_withdraw_its_launch_approval(team):
    app, next_version = new_app(team), new_version(team, "1.1.0")
    launch = create_launch(team.developer, team, new_version(team, "1.0.0"), app)
    assert team.developer.post(launch_path(team, launch["id"], "submit")).status_code == 200
    approval = approval_for(team.reviewer, team.ws, launch["id"])
    developers = f"{team.base}/miniprograms/{team.mp}/developers"
    assert team.admin.put(developers, json={"account_ids": []}).status_code == 200
    # The catalog publishes the unassignment before this request; once the approval service has
    # opened this one, it has applied the unassignment as well.
    later = create_launch(team.admin, team, next_version, new_app(team))
    assert team.admin.post(launch_path(team, later["id"], "submit")).status_code == 200
    approval_for(team.reviewer, team.ws, later["id"])

    refused = team.developer.post(f"{team.base}/approvals/{approval['id']}/withdraw")
    assert refused.status_code == 403 and "no longer assigned" in refused.json()["detail"]
    assert team.admin.get(f"{team.base}/approvals/{approval['id']}").json()["status"] == "pending"
    assert launch_status(team, launch["id"]) == "under_review"


def test_concurrent_submits_one_wins(team):
    app = new_app(team)
    version = new_version(team, "1.0.0")
    launches = [create_launch(team.developer, team, version, app) for _ in range(4)]
    answers: list[int] = []
    start = threading.Barrier(len(launches))

    def submit(launch_id: str) -> None:
        start.wait()
        answers.append(team.developer.post(launch_path(team, launch_id, "submit")).status_code)

    threads = [threading.Thread(target=submit, args=(launch["id"],)) for launch in launches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200, 409, 409, 409]
    statuses = [launch_status(team, launch["id"]) for launch in launches]
    assert sorted(statuses) == ["created", "created", "created", "under_review"]


def test_offline_online_and_rollback(team):
    app = new_app(team)
    v1, v2, v3 = (new_version(team, version) for version in ("1.0.0", "2.0.0", "3.0.0"))
    assert team.developer.post(f"{team.base}/miniprograms/{team.mp}/offline", json={"app_id": app, "reason": "x"}).status_code == 409
    first = released_launch(team, v1, app)
    second = released_launch(team, v2, app)

    # Offline and back online, each through an approval.
    missing_reason = team.developer.post(f"{team.base}/miniprograms/{team.mp}/offline", json={"app_id": app})
    assert missing_reason.status_code == 422
    offline = team.developer.post(f"{team.base}/miniprograms/{team.mp}/offline", json={"app_id": app, "reason": "payment bug"})
    assert offline.status_code == 202 and offline.json()["launch_id"] == second["id"]
    assert team.developer.post(f"{team.base}/miniprograms/{team.mp}/offline", json={"app_id": app, "reason": "x"}).status_code == 409
    approval = approval_for(team.reviewer, team.ws, second["id"])
    assert approval["type"] == "offline" and approval["id"] == offline.json()["approval_id"]
    assert decide(team.reviewer, team.ws, approval["id"], "approve").status_code == 200
    eventually(lambda: launch_status(team, second["id"]) == "offline", timeout=HOPS)

    online = team.developer.post(f"{team.base}/miniprograms/{team.mp}/online", json={"app_id": app, "reason": "fixed"})
    assert online.status_code == 202
    approval = approval_for(team.reviewer, team.ws, second["id"])
    assert approval["type"] == "online"
    assert decide(team.reviewer, team.ws, approval["id"], "reject", comment="not yet").status_code == 200
    eventually(lambda: team.developer.get(f"{team.base}/approvals/{approval['id']}").json()["status"] == "rejected", timeout=HOPS)
    assert launch_status(team, second["id"]) == "offline"
    online = team.developer.post(f"{team.base}/miniprograms/{team.mp}/online", json={"app_id": app, "reason": "fixed now"})
    approval = approval_for(team.reviewer, team.ws, second["id"])
    assert decide(team.reviewer, team.ws, approval["id"], "approve").status_code == 200
    eventually(lambda: launch_status(team, second["id"]) == "released", timeout=HOPS)

    # Rollback: not while a grayscale runs; then the earlier release is back.
    third = approved_launch(team, v3, app)
    assert team.developer.post(launch_path(team, third["id"], "publish"), json={"percentage": 10}).status_code == 200
    blocked = team.developer.post(f"{team.base}/miniprograms/{team.mp}/rollback", json={"app_id": app, "version_id": v1})
    assert blocked.status_code == 409 and "grayscale" in blocked.json()["detail"]
    assert team.developer.post(launch_path(team, third["id"], "cancel")).status_code == 200
    never = team.developer.post(f"{team.base}/miniprograms/{team.mp}/rollback", json={"app_id": app, "version_id": v3})
    assert never.status_code == 409
    rolled = team.developer.post(f"{team.base}/miniprograms/{team.mp}/rollback", json={"app_id": app, "version_id": v1})
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["id"] == first["id"] and rolled.json()["status"] == "released"
    assert launch_status(team, second["id"]) == "rollback"
    assert [step["status"] for step in rolled.json()["history"]][-2:] == ["archived", "released"]


@pytest.mark.parametrize("whitelist", [True])
def test_whitelist_on_means_pilot(team, whitelist):
    settings = team.admin.get(f"{team.base}/settings").json()
    body = {name: settings[name] for name in ("logo_url", "favicon_url", "about_us_url", "terms_of_service_url")}
    body |= {"domains": settings["domains"], "tester_whitelist_enabled": whitelist}
    assert team.admin.put(f"{team.base}/settings", json=body).status_code == 200, team.admin.put(f"{team.base}/settings", json=body).text
    app = new_app(team)
    version = new_version(team, "1.0.0")
    launch = approved_launch(team, version, app)
    assert launch["status"] == "pilot"


def test_a_decision_made_while_the_catalog_consumer_is_down_is_applied_when_it_returns(team, platform):
    app = new_app(team)
    launch = create_launch(team.developer, team, new_version(team, "1.0.0"), app)
    assert team.developer.post(launch_path(team, launch["id"], "submit")).status_code == 200
    approval = approval_for(team.reviewer, team.ws, launch["id"])
    (consumer,) = _children(platform, "jobs", "catalog")  # its consumer among its threads
    os.kill(consumer, signal.SIGSTOP)
    try:
        assert decide(team.reviewer, team.ws, approval["id"], "approve").status_code == 200
        time.sleep(2)
        assert launch_status(team, launch["id"]) == "under_review"
    finally:
        os.kill(consumer, signal.SIGCONT)
    eventually(lambda: launch_status(team, launch["id"]) == "ready", timeout=HOPS)


# -- four eyes through workspace API keys ------------------------------------------------------------


def key_of(team: Team, role: str) -> Client:
    """A workspace API key that the team's admin creates, once the approval service knows it."""
    created = team.admin.post(f"{team.base}/api-keys", json={"label": f"ci {role}", "role": role})
    assert created.status_code == 201, created.text
    key = Client(team.admin.base, created.json()["token"])
    eventually(lambda: key.get(f"{team.base}/approvals").status_code == 200, timeout=HOPS)
    return key


def test_an_admin_cannot_approve_their_own_launch_with_a_reviewer_key_they_created(team):
    app = new_app(team)
    version = new_version(team, "1.0.0")
    launch = create_launch(team.admin, team, version, app)
    assert team.admin.post(launch_path(team, launch["id"], "submit")).status_code == 200
    approval = approval_for(team.reviewer, team.ws, launch["id"])
    reviewer_key = key_of(team, "reviewer")

    for decision in ("approve", "reject"):
        own = decide(reviewer_key, team.ws, approval["id"], decision)
        assert own.status_code == 403 and "own" in own.json()["detail"]
    assert launch_status(team, launch["id"]) == "under_review"
    assert team.admin.post(launch_path(team, launch["id"], "publish"), json={"percentage": 100}).status_code == 409

    # Another account's request is decided with the key, in the name of the admin who made it.
    other = create_launch(team.developer, team, new_version(team, "1.1.0"), new_app(team))
    assert team.developer.post(launch_path(team, other["id"], "submit")).status_code == 200
    theirs = approval_for(team.reviewer, team.ws, other["id"])
    approved = decide(reviewer_key, team.ws, theirs["id"], "approve")
    assert approved.status_code == 200 and approved.json()["decided_by"] == team.admin.account["id"]
    assert [(step["action"], step["by"]) for step in approved.json()["trail"]] == [
        ("opened", team.developer.account["id"]),
        ("approved", team.admin.account["id"]),
    ]


def test_an_admin_cannot_approve_what_their_own_developer_key_submitted(team):
    developer_key = key_of(team, "developer")
    app = new_app(team)
    version = eventually(lambda: upload(developer_key, team.ws, team.mp, "1.0.0")).json()["id"]
    launch = create_launch(developer_key, team, version, app)
    assert developer_key.post(launch_path(team, launch["id"], "submit")).status_code == 200
    approval = approval_for(team.reviewer, team.ws, launch["id"])
    assert approval["applicant_id"] == team.admin.account["id"]

    own = decide(team.admin, team.ws, approval["id"], "approve")
    assert own.status_code == 403 and "own" in own.json()["detail"]
    detail = team.admin.get(f"{team.base}/approvals/{approval['id']}").json()
    assert detail["status"] == "pending" and [(step["action"], step["by"]) for step in detail["trail"]] == [
        ("opened", team.admin.account["id"])
    ]
    assert decide(team.reviewer, team.ws, approval["id"], "approve").status_code == 200
    eventually(lambda: launch_status(team, launch["id"]) == "ready", timeout=HOPS)


def test_an_admin_cannot_approve_taking_offline_what_their_developer_key_asked(team):
    app = new_app(team)
    released = released_launch(team, new_version(team, "1.0.0"), app)
    developer_key = key_of(team, "developer")
    asked = developer_key.post(f"{team.base}/miniprograms/{team.mp}/offline", json={"app_id": app, "reason": "payment bug"})
    assert asked.status_code == 202, asked.text
    approval = approval_for(team.reviewer, team.ws, released["id"])
    assert approval["type"] == "offline" and approval["applicant_id"] == team.admin.account["id"]

    own = decide(team.admin, team.ws, approval["id"], "approve")
    assert own.status_code == 403 and "own" in own.json()["detail"]
    assert launch_status(team, released["id"]) == "released"
