"""The guard of rollouts on SQLite: telemetry learns launches from the catalog's events, judges a
guarded version's health on its host app beside the released one, and says so once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mpdp_telemetry import guard

MINUTE = timedelta(minutes=1)
GUARD = {"min_crash_free_sessions": 0.9, "min_crash_free_users": None, "min_sessions": 10, "max_drop_from_baseline": None}


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def launch_state(harness, ws, mp, ident, version, status, revision, rollout=None, app_id="app1"):
    harness.deliver(
        "catalog.launch.status_changed",
        {
            "launch_id": ident,
            "miniprogram_id": mp,
            "workspace_id": ws,
            "app_id": app_id,
            "version_id": f"v-{version}",
            "version": version,
            "status": status,
            "previous_status": None,
            "percentage": 5,
            "changed_by": "ada",
            "revision": revision,
            "rollout": rollout,
            "reason": None,
            "figures": None,
        },
        ws,
    )


def rollout(guard_: dict | None = GUARD, next_step_in: timedelta = timedelta(hours=1)) -> dict:
    now = _now()
    return {
        "state": "running",
        "current_step": 0,
        "step_count": 3,
        "started_at": _iso(now - MINUTE),
        "next_step_at": _iso(now + next_step_in),
        "guard": guard_,
    }


def sessions(harness, key, mp, version, count, crashed, prefix=""):
    """`count` app launches of as many users, `crashed` of them with a js_error, from the host app of `key`."""
    now = _iso(_now())
    events = []
    for number in range(count):
        common = {"timestamp": now, "miniprogram_id": mp, "version": version, "user_id": f"{prefix}{version}-u{number}"}
        common["session_id"] = f"{prefix}{version}-s{number}"
        events.append({"event_id": f"{prefix}{version}-l{number}", "type": "app_launch", "duration_ms": 400, **common})
        if number < crashed:
            events.append({"event_id": f"{prefix}{version}-e{number}", "type": "js_error", **common})
    body = json.dumps({"sent_at": now, "events": events}).encode()
    answer = harness.http.post("/ingest/v1/events", data=body, headers={"X-MPDP-Key": key}, content_type="application/json")
    assert answer.status_code == 202 and not answer.get_json()["rejected"], answer.get_json()
    harness.fold()


@pytest.fixture
def guarded(harness):
    """A released 1.0.0 and a guarded 2.0.0 in grayscale on app1."""
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 7)
    key = harness.app_key(ws)
    launch_state(harness, ws, mp, "l1", "1.0.0", "released", 4)
    launch_state(harness, ws, mp, "l2", "2.0.0", "grayscale", 6, rollout())
    return harness, ws, mp, key


def failing_verdicts(harness):
    return [event["payload"] for event in harness.published("telemetry.release_health.failing")]


def test_a_failing_version_is_said_once_per_state_of_its_launch(guarded):
    harness, ws, mp, key = guarded
    sessions(harness, key, mp, "1.0.0", 40, 0)
    sessions(harness, key, mp, "2.0.0", 20, 5)
    # another host app's crashes do not count
    sessions(harness, harness.app_key(ws, "app2"), mp, "2.0.0", 30, 30, prefix="other-app")

    assert guard.check_due(harness.sessions, MINUTE) == 1
    [verdict] = failing_verdicts(harness)
    assert (verdict["launch_id"], verdict["version"], verdict["revision"], verdict["app_id"]) == ("l2", "2.0.0", 6, "app1")
    assert verdict["reason"] == "crash-free sessions 75.00% are below the floor of 90.00%"
    assert (verdict["figures"]["version"]["sessions"], verdict["figures"]["version"]["crash_free_sessions"]) == (20, 0.75)
    assert verdict["figures"]["baseline"]["sessions"] == 40

    # Not due again before the interval; due then, still failing, but said once.
    assert guard.check_due(harness.sessions, MINUTE) == 0
    assert guard.check_due(harness.sessions, MINUTE, _now() + 2 * MINUTE) == 1
    assert len(failing_verdicts(harness)) == 1
    # A new state of the launch (a person published it again) is judged anew.
    launch_state(harness, ws, mp, "l2", "2.0.0", "grayscale", 8, rollout() | {"state": "completed", "next_step_at": None})
    assert guard.check_due(harness.sessions, MINUTE) == 1
    assert [verdict["revision"] for verdict in failing_verdicts(harness)] == [6, 8]
    # Halted (or released, canceled): no longer checked; a late older state changes nothing.
    launch_state(harness, ws, mp, "l2", "2.0.0", "halted", 9, rollout() | {"state": "halted", "next_step_at": None})
    launch_state(harness, ws, mp, "l2", "2.0.0", "grayscale", 7, rollout())
    assert guard.check_due(harness.sessions, MINUTE, _now() + 10 * MINUTE) == 0


def test_a_healthy_version_and_one_without_enough_sessions_are_not_failing(guarded):
    harness, ws, mp, key = guarded
    sessions(harness, key, mp, "2.0.0", 5, 5)
    assert guard.check_due(harness.sessions, MINUTE) == 1
    assert failing_verdicts(harness) == []
    path = f"/api/v1/workspaces/{ws}/miniprograms/{mp}/launches/l2/health"
    assert harness.get(path, "ada").get_json()["verdict"] == "insufficient_data"
    sessions(harness, key, mp, "2.0.0", 100, 0, prefix="more")
    health = harness.get(path, "ada").get_json()
    assert (health["verdict"], health["version"]["sessions"], health["version"]["crashed_sessions"]) == ("healthy", 105, 5)
    assert guard.check_due(harness.sessions, MINUTE, _now() + 2 * MINUTE) == 1
    assert failing_verdicts(harness) == []


def test_the_health_of_a_launch_beside_the_released_version(guarded):
    harness, ws, mp, key = guarded
    sessions(harness, key, mp, "1.0.0", 50, 1)
    sessions(harness, key, mp, "2.0.0", 20, 2)
    path = f"/api/v1/workspaces/{ws}/miniprograms/{mp}/launches/l2/health"
    answer = harness.get(path, "ada")
    assert answer.status_code == 200, answer.get_json()
    health = answer.get_json()
    assert health["versions"] == {"version": "2.0.0", "baseline": "1.0.0"}
    assert health["from"] == health["to"] == _now().date().isoformat()
    assert {name: health["version"][name] for name in ("sessions", "crashed_sessions", "crash_free_sessions", "users")} == {
        "sessions": 20,
        "crashed_sessions": 2,
        "crash_free_sessions": 0.9,
        "users": 20,
    }
    assert health["version"]["startup_p50_ms"] == 400 and health["version"]["error_count"] == 0
    assert (health["baseline"]["sessions"], health["baseline"]["crash_free_sessions"]) == (50, 0.98)
    assert (health["guard"], health["verdict"]) == (GUARD, "healthy")

    # Floors given in the query judge instead of the launch's guard.
    assert harness.get(f"{path}?min_crash_free_sessions=0.95", "ada").get_json()["verdict"] == "failing"
    dropped = harness.get(f"{path}?max_drop_from_baseline=0.05", "ada").get_json()
    assert (dropped["verdict"], dropped["guard"]["max_drop_from_baseline"]) == ("failing", 0.05)
    assert "more than 5.00% below the released version's 98.00%" in dropped["reason"]
    assert harness.get(f"{path}?min_sessions=21", "ada").get_json()["verdict"] == "insufficient_data"
    assert harness.get(f"{path}?min_crash_free_users=2", "ada").status_code == 422
    assert harness.get(f"/api/v1/workspaces/{ws}/miniprograms/{mp}/launches/l3/health", "ada").status_code == 404
    other = harness.workspace("bob")
    assert harness.get(f"/api/v1/workspaces/{other}/miniprograms/{mp}/launches/l2/health", "bob").status_code == 404


FLOOR = {"min_crash_free_sessions": 0.99, "min_crash_free_users": None, "min_sessions": 100, "max_drop_from_baseline": None}
DROP = FLOOR | {"min_crash_free_sessions": None, "max_drop_from_baseline": 0.01}


def _figures(sessions: int, crash_free_sessions: float, crash_free_users: float | None = None) -> dict:
    return {"sessions": sessions, "crash_free_sessions": crash_free_sessions, "crash_free_users": crash_free_users}


@pytest.mark.parametrize(
    ("floors", "version", "baseline", "verdict"),
    [
        (FLOOR, _figures(99, 0.5), None, "insufficient_data"),
        (FLOOR, _figures(100, 0.99), None, "healthy"),
        (FLOOR, _figures(100, 0.989), None, "failing"),
        (FLOOR | {"min_crash_free_users": 0.9}, _figures(100, 1.0, 0.89), None, "failing"),
        (DROP, _figures(100, 0.995), _figures(100, 1.0), "healthy"),
        (DROP, _figures(100, 0.98), _figures(100, 1.0), "failing"),
        (DROP, _figures(100, 0.98, 0.5), _figures(100, 0.985, 0.9), "failing"),
        # a baseline without enough sessions of its own is no measure
        (DROP, _figures(100, 0.98), _figures(99, 1.0), "healthy"),
        (DROP, _figures(100, 0.98), None, "healthy"),
    ],
)
def test_the_verdict_of_floors_and_of_a_drop_from_the_released_version(floors, version, baseline, verdict):
    assert guard.judge(floors, version, baseline)[0] == verdict
