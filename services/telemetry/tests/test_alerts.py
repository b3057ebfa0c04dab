"""Crash groups' events and alert rules on SQLite: the rules API, and each kind's firing, once
until it is back to ok."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mpdp_telemetry import alerts

MINUTE = timedelta(minutes=1)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def shop(harness):
    """An admin, an assigned developer and an unassigned one; a mini program with a host app key."""
    ws = harness.workspace("ada", dev="developer", other="developer")
    mp = harness.miniprogram(ws, 71)
    harness.deliver("catalog.assignment.added", {"miniprogram_id": mp, "account_id": "dev", "workspace_id": ws, "revision": 1}, ws)
    return harness, ws, mp, harness.app_key(ws)


def rule(harness, ws, mp, account="ada", **body):
    return harness.call("POST", f"/api/v1/workspaces/{ws}/alert-rules", account, json={"miniprogram_id": mp, **body})


def launches(harness, key, mp, count, crashed, at=None, prefix="s"):
    """`count` app launches of as many users, `crashed` of them with a js_error."""
    at = _iso(at or _now())
    events = []
    for number in range(count):
        common = {
            "timestamp": at,
            "miniprogram_id": mp,
            "version": "1.0.0",
            "user_id": f"{prefix}u{number}",
            "session_id": f"{prefix}{number}",
        }
        events.append({"event_id": f"{prefix}l{number}", "type": "app_launch", "duration_ms": 300, **common})
        if number < crashed:
            events.append({"event_id": f"{prefix}e{number}", "type": "js_error", **common})
    answer = harness.http.post(
        "/ingest/v1/events",
        data=json.dumps({"sent_at": _iso(_now()), "events": events}),
        headers={"X-MPDP-Key": key},
        content_type="application/json",
    )
    assert answer.status_code == 202 and not answer.get_json()["rejected"], answer.get_json()


def crash(harness, key, release="shop@1.0.0", value="boom", **extra):
    event = {"exception": {"values": [{"type": "TypeError", "value": value}]}, "release": release, "level": "fatal", **extra}
    answer = harness.http.post(f"/ingest/sentry/api/71/store/?sentry_key={key}", json=event)
    assert answer.status_code == 200, answer.get_json()


def fired(harness):
    return [event["payload"] for event in harness.published("telemetry.alert.fired")]


def evaluate(harness, at=None):
    return alerts.check_due(harness.sessions, MINUTE, at or _now() + timedelta(seconds=1))


def test_rules_are_made_by_admins_read_by_who_sees_the_mini_program_and_deleted(shop):
    harness, ws, mp, _key = shop
    made = rule(harness, ws, mp, kind="crash_free_sessions_below", threshold=0.99)
    assert made.status_code == 201, made.get_json()
    created = made.get_json()
    assert {name: created[name] for name in ("kind", "threshold", "min_sessions", "window_minutes", "state", "last_fired_at")} == {
        "kind": "crash_free_sessions_below",
        "threshold": 0.99,
        "min_sessions": 100,
        "window_minutes": 60,
        "state": "ok",
        "last_fired_at": None,
    }
    assert created["created_by"] == "ada"
    spike = rule(harness, ws, mp, kind="error_spike").get_json()
    assert (spike["threshold"], spike["min_errors"], spike["window_minutes"]) == (3.0, 10, 60)
    assert rule(harness, ws, mp, kind="new_issue").get_json()["threshold"] is None

    assert rule(harness, ws, mp, "dev", kind="new_issue").status_code == 403
    assert rule(harness, ws, "nope", kind="new_issue").status_code == 404
    for bad in (
        {"kind": "crash_free_users_below"},
        {"kind": "crash_free_users_below", "threshold": 99},
        {"kind": "crash_free_sessions_below", "threshold": 0.9, "window_minutes": 2},
        {"kind": "crash_free_sessions_below", "threshold": 0.9, "min_sessions": 0},
        {"kind": "error_spike", "threshold": 0.5},
        {"kind": "new_issue", "threshold": 0.5},
        {"kind": "sometimes"},
    ):
        assert rule(harness, ws, mp, **bad).status_code == 422, bad

    listed = harness.get(f"/api/v1/workspaces/{ws}/alert-rules?miniprogram_id={mp}", "dev").get_json()
    assert [item["kind"] for item in listed["items"]] == ["crash_free_sessions_below", "error_spike", "new_issue"]
    assert harness.get(f"/api/v1/workspaces/{ws}/alert-rules", "other").get_json()["items"] == []
    assert harness.get(f"/api/v1/workspaces/{ws}/alert-rules/{created['id']}", "other").status_code == 404
    assert harness.get(f"/api/v1/workspaces/{ws}/alert-rules/{created['id']}", "dev").get_json()["id"] == created["id"]

    assert harness.call("DELETE", f"/api/v1/workspaces/{ws}/alert-rules/{created['id']}", "dev").status_code == 403
    assert harness.call("DELETE", f"/api/v1/workspaces/{ws}/alert-rules/{created['id']}", "ada").status_code == 204
    assert harness.get(f"/api/v1/workspaces/{ws}/alert-rules/{created['id']}", "ada").status_code == 404
    [made_event, *_] = harness.published("telemetry.alert_rule.created")
    assert made_event["payload"] | {"alert_rule_id": None} == {
        "alert_rule_id": None,
        "workspace_id": ws,
        "miniprogram_id": mp,
        "kind": "crash_free_sessions_below",
        "threshold": 0.99,
        "min_sessions": 100,
        "window_minutes": 60,
        "min_errors": None,
        "created_by": "ada",
    }
    [deleted] = harness.published("telemetry.alert_rule.deleted")
    assert (deleted["payload"]["alert_rule_id"], deleted["payload"]["deleted_by"]) == (created["id"], "ada")


def test_a_crash_free_rule_fires_once_with_enough_sessions_and_again_only_after_it_is_back_to_ok(shop):
    harness, ws, mp, key = shop
    made = rule(harness, ws, mp, kind="crash_free_sessions_below", threshold=0.9, min_sessions=10, window_minutes=30).get_json()

    # One crash at night: too few sessions to page anyone.
    launches(harness, key, mp, 3, 1, prefix="night")
    assert evaluate(harness) == 1
    assert fired(harness) == []

    launches(harness, key, mp, 17, 4, prefix="day")  # 20 sessions, 5 crashed: 75 %
    assert evaluate(harness, _now() + 2 * MINUTE) == 1
    [alert] = fired(harness)
    assert {
        name: alert[name] for name in ("alert_rule_id", "kind", "threshold", "window_minutes", "min_sessions", "value", "sessions")
    } == {
        "alert_rule_id": made["id"],
        "kind": "crash_free_sessions_below",
        "threshold": 0.9,
        "window_minutes": 30,
        "min_sessions": 10,
        "value": 0.75,
        "sessions": 20,
    }
    assert alert["issue_id"] is None and alert["workspace_id"] == ws
    assert (
        alert["summary"]
        == "Crash-free sessions of Shop are 75.00% over the last 30 minutes (5 of 20 sessions crashed), below the threshold of 90.00%."
    )
    [envelope] = harness.published("telemetry.alert.fired")
    assert envelope["actor"] == {"kind": "system", "id": "telemetry.alerts"}
    shown = harness.get(f"/api/v1/workspaces/{ws}/alert-rules/{made['id']}", "ada").get_json()
    assert (shown["state"], shown["last_value"], shown["last_sessions"]) == ("firing", 0.75, 20)

    # Still breaching: firing, not said again.
    assert evaluate(harness, _now() + 4 * MINUTE) == 1
    assert len(fired(harness)) == 1
    # Healthy sessions bring it back to ok (re-armed) ...
    launches(harness, key, mp, 80, 0, prefix="fine")
    assert evaluate(harness, _now() + 6 * MINUTE) == 1
    assert harness.get(f"/api/v1/workspaces/{ws}/alert-rules/{made['id']}", "ada").get_json()["state"] == "ok"
    # ... and the next breach fires again.
    launches(harness, key, mp, 60, 60, prefix="bad")
    assert evaluate(harness, _now() + 8 * MINUTE) == 1
    assert [alert["value"] for alert in fired(harness)] == [0.75, round(1 - 65 / 160, 4)]


def test_a_quiet_window_keeps_a_firing_rule_firing(shop):
    harness, ws, mp, key = shop
    made = rule(harness, ws, mp, kind="crash_free_users_below", threshold=0.9, min_sessions=5, window_minutes=5).get_json()
    launches(harness, key, mp, 10, 5)
    evaluate(harness)
    assert [alert["value"] for alert in fired(harness)] == [0.5]
    # Ten minutes later the window holds no session: no verdict, the rule stays firing.
    evaluate(harness, _now() + 10 * MINUTE)
    assert harness.get(f"/api/v1/workspaces/{ws}/alert-rules/{made['id']}", "ada").get_json()["state"] == "firing"


def test_sentrys_session_updates_count_each_session_once_at_its_worst(shop):
    harness, ws, mp, key = shop
    rule(harness, ws, mp, kind="crash_free_users_below", threshold=0.9, min_sessions=10, window_minutes=60)
    started = _iso(_now())
    items = []
    for number in range(12):
        statuses = ["ok", "crashed"] if number < 3 else ["ok", "exited"]
        user = f"u{number % 10}"  # 12 sessions of 10 users: u0 and u1 have two each, u0 crashed in one
        for status in statuses:
            update = {"sid": f"sentry-{number}", "did": user, "started": started, "status": status, "attrs": {"release": "shop@1.0.0"}}
            items.append(({"type": "session"}, update))
    body = b"{}\n" + b"".join(json.dumps(header).encode() + b"\n" + json.dumps(payload).encode() + b"\n" for header, payload in items)
    assert harness.http.post(f"/ingest/sentry/api/71/envelope/?sentry_key={key}", data=body).status_code == 200
    evaluate(harness)
    # 3 of 10 users crashed (u0, u1, u2): 70 % crash-free, of 12 sessions
    [alert] = fired(harness)
    assert (alert["value"], alert["sessions"]) == (0.7, 12)
    assert "3 of 10 users crashed" in alert["summary"]


def test_an_error_spike_is_measured_against_the_windows_before(shop):
    harness, ws, mp, key = shop
    rule(harness, ws, mp, kind="error_spike", threshold=3, min_sessions=10, min_errors=5, window_minutes=10)
    now = _now()
    # The six windows before held 2 errors each (12 sessions with errors, spread over the hour).
    for window in range(1, 7):
        launches(harness, key, mp, 2, 2, at=now - window * 10 * MINUTE + MINUTE, prefix=f"before{window}-")
    launches(harness, key, mp, 20, 5, prefix="now")  # 5 errors: not 3 times the average of 2
    evaluate(harness, now + 2 * MINUTE)
    assert fired(harness) == []
    launches(harness, key, mp, 1, 1, prefix="more")
    crash(harness, key)  # a Sentry error counts as well: 7 errors, more than 3 × 2
    evaluate(harness, now + 4 * MINUTE)
    [alert] = fired(harness)
    assert (alert["kind"], alert["value"], alert["sessions"]) == ("error_spike", 7.0, 21)
    assert (
        alert["summary"]
        == "7 errors of Shop over the last 10 minutes (21 sessions), at least 3 times the average of the 6 windows before (2.0)."
    )


def test_new_and_regressed_crash_groups_publish_their_events_and_fire_their_rules(shop):
    harness, ws, mp, key = shop
    new_rule = rule(harness, ws, mp, kind="new_issue").get_json()
    regression_rule = rule(harness, ws, mp, kind="regression").get_json()

    crash(harness, key, event_id="a" * 32)
    crash(harness, key, event_id="a" * 32)  # sent again
    crash(harness, key, event_id="b" * 32)  # the same group
    [created] = [event["payload"] for event in harness.published("telemetry.issue.created")]
    issue_id = created["issue_id"]
    assert created | {"first_seen": None} == {
        "issue_id": issue_id,
        "workspace_id": ws,
        "miniprogram_id": mp,
        "title": "TypeError: boom",
        "culprit": "",
        "level": "fatal",
        "version": "1.0.0",
        "first_seen": None,
    }
    [alert] = fired(harness)
    assert (alert["alert_rule_id"], alert["issue_id"], alert["value"], alert["sessions"]) == (new_rule["id"], issue_id, None, None)
    assert alert["summary"] == "New crash in Shop, version 1.0.0: TypeError: boom"

    # Resolved in 1.0.0: again in 1.0.0 it stays resolved; in 1.1.0 it regresses, once.
    assert (
        harness.call("PATCH", f"/api/v1/workspaces/{ws}/quality/issues/{issue_id}", "ada", json={"status": "resolved"}).status_code == 200
    )
    crash(harness, key, release="shop@1.0.0")
    assert harness.published("telemetry.issue.regressed") == []
    crash(harness, key, release="shop@1.1.0")
    crash(harness, key, release="shop@1.1.0")
    [regressed] = [event["payload"] for event in harness.published("telemetry.issue.regressed")]
    assert (regressed["issue_id"], regressed["version"], regressed["resolved_in"]) == (issue_id, "1.1.0", "1.0.0")
    assert [(alert["alert_rule_id"], alert["issue_id"]) for alert in fired(harness)][1:] == [(regression_rule["id"], issue_id)]
    assert harness.get(f"/api/v1/workspaces/{ws}/alert-rules/{regression_rule['id']}", "ada").get_json()["last_fired_at"] is not None
    assert len(harness.published("telemetry.issue.created")) == 1
