"""Rollout plans in-process on SQLite: the plan's first step at once, each next one when the
rollout worker finds its hold over, pause and resume, and a person's own publish ending it."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from mpdp_catalog import rollouts
from mpdp_common.db import utcnow

from .conftest import BASE
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
