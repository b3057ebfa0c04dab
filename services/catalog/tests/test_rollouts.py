"""Rollout plans in-process on SQLite: the plan's first step at once, each next one when the
rollout worker finds its hold over, pause and resume, and a person's own publish ending it."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from mpdp_catalog import rollouts
from mpdp_catalog.models import Deliverable, Version
from mpdp_common.appkeys import app_key_secret
from mpdp_common.crypto import secret_box
from mpdp_common.db import session_scope, utcnow

from .conftest import APP, BASE
from .test_launches import decide, launch

HOUR = 3600
PLAN = {
    "steps": [{"percentage": 5, "hold_seconds": HOUR}, {"percentage": 50, "hold_seconds": HOUR}, {"percentage": 100, "hold_seconds": 0}]
}


def approved(catalog, version_id: str = "v1") -> str:
    ident = launch(catalog, version_id)
    assert catalog.call("POST", f"{BASE}/launches/{ident}/submit", "ada").status_code == 200
    decide(catalog, catalog.published("catalog.launch.submitted")[-1]["payload"]["request_id"], ident, "approved")
    return ident


def plan(catalog, ident: str, body: dict = PLAN):
    return catalog.call("PUT", f"{BASE}/launches/{ident}/rollout", "ada", json=body)


def detail(catalog, ident: str) -> dict:
    return catalog.call("GET", f"{BASE}/launches/{ident}", "ada").get_json()


def worker_at(catalog, seconds_from_now: float) -> int:
    """One pass of the rollout worker, as if it ran that many seconds from now."""
    return rollouts.take_due_steps(catalog.sessions, utcnow() + timedelta(seconds=seconds_from_now))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "steps": [
                    {"percentage": 10, "hold_seconds": 60},
                    {"percentage": 5, "hold_seconds": 60},
                    {"percentage": 100, "hold_seconds": 0},
                ]
            },
            "steps",
        ),
        (
            {
                "steps": [
                    {"percentage": 10, "hold_seconds": 60},
                    {"percentage": 10, "hold_seconds": 60},
                    {"percentage": 100, "hold_seconds": 0},
                ]
            },
            "steps",
        ),
        ({"steps": [{"percentage": 100, "hold_seconds": 60}]}, "steps"),
        ({"steps": [{"percentage": 10, "hold_seconds": 60}, {"percentage": 50, "hold_seconds": 60}]}, "steps"),
        (
            {"steps": [{"percentage": share, "hold_seconds": 1} for share in range(1, 21)] + [{"percentage": 100, "hold_seconds": 0}]},
            "steps",
        ),
        ({"steps": [{"percentage": 10, "hold_seconds": 30 * 86_400 + 1}, {"percentage": 100, "hold_seconds": 0}]}, "steps"),
        ({"steps": [{"percentage": 10, "hold_seconds": -1}, {"percentage": 100, "hold_seconds": 0}]}, "steps"),
        ({"steps": [{"percentage": 0, "hold_seconds": 1}, {"percentage": 100, "hold_seconds": 0}]}, "steps"),
        ({"steps": [{"percentage": "10", "hold_seconds": 1}, {"percentage": 100, "hold_seconds": 0}]}, "steps"),
        ({}, "steps"),
        ({"preset": "phased_7_days", "steps": PLAN["steps"]}, "steps"),
        ({"preset": "phased_3_days"}, "preset"),
        ({"preset": "phased_7_days", "guard": {"min_sessions": 10}}, "guard"),
        ({"preset": "phased_7_days", "guard": {"min_crash_free_sessions": 1.5}}, "guard"),
        ({"preset": "phased_7_days", "guard": {"min_crash_free_users": 0.9, "min_sessions": 0}}, "guard"),
    ],
)
def test_a_plan_that_does_not_rise_to_100_within_the_limits_is_refused(catalog, body, field):
    ident = approved(catalog)
    refused = plan(catalog, ident, body)
    assert refused.status_code == 422, refused.get_json()
    assert field in refused.get_json()["errors"], refused.get_json()
    assert detail(catalog, ident)["status"] == "ready"


def test_a_plan_needs_an_approved_launch(catalog):
    ident = launch(catalog, "v1")
    refused = plan(catalog, ident)
    assert refused.status_code == 409 and "created" in refused.get_json()["detail"]
    assert catalog.call("PUT", f"{BASE}/launches/{ident}/rollout", "rex", json=PLAN).status_code == 403
    assert catalog.call("GET", f"{BASE}/launches/{ident}/rollout", "ada").status_code == 404


def test_the_plan_publishes_each_step_once_when_its_hold_ends(catalog):
    ident = approved(catalog)
    answer = plan(catalog, ident, PLAN | {"guard": {"min_crash_free_sessions": 0.99}})
    assert answer.status_code == 200, answer.get_json()
    launched = answer.get_json()
    assert (launched["status"], launched["percentage"]) == ("grayscale", 5)
    rollout = launched["rollout"]
    assert (rollout["state"], rollout["current_step"], rollout["paused"]) == ("running", 0, False)
    assert rollout["guard"] == {
        "min_crash_free_sessions": 0.99,
        "min_crash_free_users": None,
        "min_sessions": 100,
        "max_drop_from_baseline": None,
    }
    assert catalog.call("GET", f"{BASE}/launches/{ident}/rollout", "ada").get_json() == rollout

    assert worker_at(catalog, HOUR - 60) == 0
    assert worker_at(catalog, HOUR + 1) == 1
    # A second worker (or the same after a restart) that saw the step due takes nothing more.
    assert worker_at(catalog, HOUR + 1) == 0
    assert (detail(catalog, ident)["percentage"], detail(catalog, ident)["rollout"]["current_step"]) == (50, 1)
    assert worker_at(catalog, 2 * HOUR + 2) == 1
    done = detail(catalog, ident)
    assert (done["status"], done["rollout"]["state"], done["rollout"]["next_step_at"]) == ("released", "completed", None)
    assert [(step["status"], step["percentage"], step["by"]) for step in done["history"][2:]] == [
        ("grayscale", 5, "ada"),
        ("grayscale", 50, "rollout"),
        ("released", 100, "rollout"),
    ]
    states = [event["payload"] for event in catalog.published("catalog.launch.status_changed")]
    assert [state["revision"] for state in states] == list(range(1, len(states) + 1))
    assert states[-1]["rollout"]["state"] == "completed" and states[-1]["version"] == "1.0.0"


def test_pause_keeps_the_share_and_resume_waits_the_rest_of_the_hold(catalog):
    ident = approved(catalog)
    assert plan(catalog, ident).status_code == 200
    assert catalog.call("POST", f"{BASE}/launches/{ident}/resume", "ada").status_code == 409
    paused = catalog.call("POST", f"{BASE}/launches/{ident}/pause", "ada")
    assert paused.status_code == 200
    assert (paused.get_json()["rollout"]["state"], paused.get_json()["rollout"]["paused"]) == ("paused", True)
    assert paused.get_json()["rollout"]["next_step_at"] is None
    assert catalog.call("POST", f"{BASE}/launches/{ident}/pause", "ada").status_code == 409
    assert worker_at(catalog, 10 * HOUR) == 0
    assert detail(catalog, ident)["percentage"] == 5

    resumed = catalog.call("POST", f"{BASE}/launches/{ident}/resume", "ada").get_json()["rollout"]
    assert resumed["state"] == "running"
    assert worker_at(catalog, HOUR - 60) == 0  # the hold's rest, not a new hold, and not none at all
    assert worker_at(catalog, HOUR + 1) == 1
    assert detail(catalog, ident)["percentage"] == 50


def test_a_persons_publish_or_cancel_ends_the_plan(catalog):
    ident = approved(catalog)
    assert plan(catalog, ident, PLAN | {"guard": {"min_crash_free_users": 0.9}}).status_code == 200
    published = catalog.call("POST", f"{BASE}/launches/{ident}/publish", "ada", json={"percentage": 20}).get_json()
    assert (published["percentage"], published["rollout"]["state"]) == (20, "completed")
    assert published["rollout"]["guard"]["min_crash_free_users"] == 0.9
    assert worker_at(catalog, 10 * HOUR) == 0
    assert detail(catalog, ident)["percentage"] == 20
    assert catalog.call("POST", f"{BASE}/launches/{ident}/pause", "ada").status_code == 409

    # A new plan replaces it; a cancel ends that one too.
    assert plan(catalog, ident).get_json()["rollout"]["state"] == "running"
    canceled = catalog.call("POST", f"{BASE}/launches/{ident}/cancel", "ada").get_json()
    assert (canceled["status"], canceled["rollout"]["state"]) == ("canceled", "completed")
    assert worker_at(catalog, 10 * HOUR) == 0


def test_the_preset_and_removing_a_plan(catalog):
    ident = approved(catalog)
    rollout = plan(catalog, ident, {"preset": "phased_7_days"}).get_json()["rollout"]
    assert [step["percentage"] for step in rollout["steps"]] == [1, 2, 5, 10, 20, 50, 100]
    assert {step["hold_seconds"] for step in rollout["steps"]} == {86_400}
    removed = catalog.call("DELETE", f"{BASE}/launches/{ident}/rollout", "ada")
    assert removed.status_code == 200 and removed.get_json()["rollout"] is None
    assert (removed.get_json()["status"], removed.get_json()["percentage"]) == ("grayscale", 1)
    assert catalog.call("DELETE", f"{BASE}/launches/{ident}/rollout", "ada").status_code == 404
    assert worker_at(catalog, 2 * 86_400) == 0
    last = catalog.published("catalog.launch.status_changed")[-1]["payload"]
    assert (last["status"], last["previous_status"], last["rollout"]) == ("grayscale", "grayscale", None)


def test_the_shortest_hold_is_a_setting(catalog):
    runtime = catalog.app.extensions["mpdp"]
    runtime.settings = dataclasses.replace(runtime.settings, rollout_min_hold_seconds=600)
    ident = approved(catalog)
    short = {"steps": [{"percentage": 5, "hold_seconds": 60}, {"percentage": 100, "hold_seconds": 0}]}
    refused = plan(catalog, ident, short)
    assert refused.status_code == 422 and "600" in refused.get_json()["errors"]["steps"][0]
    # the last step's hold is never waited for
    assert (
        plan(catalog, ident, {"steps": [{"percentage": 5, "hold_seconds": 600}, {"percentage": 100, "hold_seconds": 0}]}).status_code == 200
    )


def figures(sessions: int, crashed: int) -> dict:
    share = round(1 - crashed / sessions, 4)
    return {
        "sessions": sessions,
        "crashed_sessions": crashed,
        "crash_free_sessions": share,
        "users": sessions,
        "crashed_users": crashed,
        "crash_free_users": share,
        "error_count": crashed,
        "startup_p50_ms": 300,
        "startup_p90_ms": 900,
    }


def failing(ident: str, revision: int) -> dict:
    return {
        "launch_id": ident,
        "workspace_id": "w1",
        "miniprogram_id": "mp1",
        "app_id": "app1",
        "version": "2.0.0",
        "revision": revision,
        "reason": "crash-free sessions 80.00 % are below the floor of 99.00 %",
        "figures": {"version": figures(200, 40), "baseline": figures(2000, 2)},
    }


def delivered(catalog) -> set[tuple[str, str]]:
    with session_scope(catalog.sessions) as session:
        return {(row.channel, row.version_id) for row in session.scalars(select(Deliverable))}


def test_the_guard_halts_the_launch_and_delivery_falls_back_to_the_release(catalog):
    released = approved(catalog, "v1")
    assert catalog.call("POST", f"{BASE}/launches/{released}/publish", "ada", json={"percentage": 100}).status_code == 200
    ident = approved(catalog, "v2")
    assert plan(catalog, ident, PLAN | {"guard": {"min_crash_free_sessions": 0.99}}).status_code == 200
    assert delivered(catalog) == {("released", "v1"), ("grayscale", "v2")}

    catalog.deliver("telemetry.release_health.failing", failing(ident, 7), "w1")
    halted = detail(catalog, ident)
    assert (halted["status"], halted["rollout"]["state"], halted["rollout"]["next_step_at"]) == ("halted", "halted", None)
    step = halted["history"][-1]
    assert (step["status"], step["by"], step["reason"]) == ("halted", "guard", failing(ident, 7)["reason"])
    assert step["figures"]["version"]["crash_free_sessions"] == 0.8
    assert delivered(catalog) == {("released", "v1")}
    assert worker_at(catalog, 10 * HOUR) == 0
    state = catalog.published("catalog.launch.status_changed")[-1]["payload"]
    assert (state["status"], state["changed_by"], state["reason"]) == ("halted", "guard", step["reason"])
    # A second verdict, or one about a launch that is no longer in grayscale, changes nothing.
    catalog.deliver("telemetry.release_health.failing", failing(ident, 8), "w1")
    assert len(detail(catalog, ident)["history"]) == len(halted["history"])

    # Halted still counts as the launch in progress on this app; a person may publish it again.
    other = launch(catalog, "v1")
    assert catalog.call("POST", f"{BASE}/launches/{other}/submit", "ada").status_code == 409
    assert catalog.call("POST", f"{BASE}/launches/{ident}/pause", "ada").status_code == 409
    again = catalog.call("POST", f"{BASE}/launches/{ident}/publish", "ada", json={"percentage": 5}).get_json()
    assert (again["status"], again["rollout"]["state"], again["rollout"]["guard"]["min_crash_free_sessions"]) == (
        "grayscale",
        "completed",
        0.99,
    )
    catalog.deliver("telemetry.release_health.failing", failing(ident, 9), "w1")
    assert detail(catalog, ident)["status"] == "halted"
    # A new plan replaces the halted one, its guard with it.
    replanned = plan(catalog, ident, PLAN | {"guard": {"min_crash_free_sessions": 0.5}}).get_json()
    assert (replanned["status"], replanned["percentage"], replanned["rollout"]["state"]) == ("grayscale", 5, "running")
    assert catalog.call("POST", f"{BASE}/launches/{ident}/cancel", "ada").get_json()["status"] == "canceled"
    assert catalog.call("POST", f"{BASE}/launches/{other}/submit", "ada").status_code == 200


# -- hosts too old for the newest launch ---------------------------------------------------------


def delivered_to(catalog, user: str, host_version: str | None = None):
    query = urlencode({"user_id": user} | ({"host_version": host_version} if host_version else {}))
    timestamp = str(int(time.time()))
    secret = app_key_secret(secret_box(catalog.settings), "mak_1")
    message = f"{timestamp}\nGET\n/client/v1/miniprograms\n{query}".encode()
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return catalog.http.get(
        f"/client/v1/miniprograms?{query}", headers={"X-MPDP-Key": "mak_1", "X-MPDP-Timestamp": timestamp, "X-MPDP-Signature": signature}
    )


def released_for_hosts(catalog, version_id: str, min_host_version: str | None, percentage: int = 100) -> str:
    body = {"version_id": version_id, "app_id": APP, "min_host_version": min_host_version}
    ident = catalog.call("POST", f"{BASE}/launches", "ada", json=body).get_json()["id"]
    assert catalog.call("POST", f"{BASE}/launches/{ident}/submit", "ada").status_code == 200
    decide(catalog, catalog.published("catalog.launch.submitted")[-1]["payload"]["request_id"], ident, "approved")
    assert catalog.call("POST", f"{BASE}/launches/{ident}/publish", "ada", json={"percentage": percentage}).status_code == 200
    return ident


def test_a_host_too_old_for_the_newest_launch_keeps_the_newest_it_can_run(catalog):
    with session_scope(catalog.sessions) as session:
        for number in ("3", "4"):
            session.add(
                Version(
                    id=f"v{number}",
                    miniprogram_id="mp1",
                    workspace_id="w1",
                    version=f"{number}.0.0",
                    size=10,
                    sha256=number * 64,
                    entry_page="index",
                    pages=["index"],
                    uploaded_by="dev",
                )
            )
    refused = catalog.call("POST", f"{BASE}/launches", "ada", json={"version_id": "v1", "app_id": APP, "min_host_version": "8.1"})
    assert refused.status_code == 422 and "min_host_version" in refused.get_json()["errors"]
    released_for_hosts(catalog, "v1", None)
    released_for_hosts(catalog, "v2", "2.0.0")
    created = released_for_hosts(catalog, "v3", "3.0.0")
    assert detail(catalog, created)["min_host_version"] == "3.0.0"

    def version(host: str | None) -> list[str]:
        answer = delivered_to(catalog, "ada", host)
        assert answer.status_code == 200, answer.get_json()
        return [(item["version"], item["channel"]) for item in answer.get_json()["items"]]

    assert version(None) == [("3.0.0", "released")]  # a host that does not say runs anything
    assert version("3.0.0") == version("10.2.1") == [("3.0.0", "released")]
    assert version("3.0.0-beta.1") == version("2.9.9") == [("2.0.0", "released")]
    assert version("1.9.0") == [("1.0.0", "released")]
    assert delivered_to(catalog, "ada", "2.x").status_code == 422

    # A grayscale for hosts of 4.0.0 on: the others keep what they ran.
    released_for_hosts(catalog, "v4", "4.0.0", percentage=50)
    users = [f"user{number}" for number in range(50)]
    new_hosts = {item["version"] for user in users for item in delivered_to(catalog, user, "4.1.0").get_json()["items"]}
    old_hosts = {item["version"] for user in users for item in delivered_to(catalog, user, "3.5.0").get_json()["items"]}
    assert new_hosts == {"4.0.0", "3.0.0"} and old_hosts == {"3.0.0"}
    # The package of an earlier release is delivered to those hosts too.
    with session_scope(catalog.sessions) as session:
        assert {row.channel for row in session.scalars(select(Deliverable))} == {"released", "grayscale", "previous1", "previous2"}
