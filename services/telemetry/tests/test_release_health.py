"""Release health from Sentry's sessions and ingest's alike, per host app and version, folded into
daily rollups: each session and crash counted once whatever the order of their updates, each
user once whichever source named them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from mpdp_telemetry.models import UserNumber


def _stamp() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def envelope(harness, key: str, telemetry_id: int, *updates: dict) -> None:
    body = b"{}\n" + b"".join(b'{"type":"session"}\n' + json.dumps(update).encode() + b"\n" for update in updates)
    answer = harness.http.post(f"/ingest/sentry/api/{telemetry_id}/envelope/?sentry_key={key}", data=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)


def update(sid: str, status: str, release: str = "shop@2.0.0", did: str | None = None) -> dict:
    found = {"sid": sid, "started": _stamp(), "status": status, "attrs": {"release": release}}
    return found | ({"did": did} if did else {})


def health(harness, ws: str, mp: str, **params) -> tuple:
    query = "&".join(f"{name}={value}" for name, value in {"miniprogram_id": mp, **params}.items())
    summary = harness.get(f"/api/v1/workspaces/{ws}/quality/summary?{query}", "ada").get_json()
    return tuple(summary[name] for name in ("sessions", "crashed_sessions", "users", "crashed_users"))


@pytest.mark.each_store
def test_sentry_sessions_count_once_in_any_order_on_the_host_app_that_sent_them(harness):
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 51)
    phones, tablets = harness.app_key(ws, "phones"), harness.app_key(ws, "tablets")
    # The crash first, the start later, the user named in the last update only: one crashed session of one user.
    envelope(harness, phones, 51, update("a", "crashed"))
    harness.fold()
    envelope(harness, phones, 51, update("a", "ok"), update("a", "crashed"))
    harness.fold()
    envelope(harness, phones, 51, update("a", "exited", did="anna"), update("b", "ok", did="anna"), update("b", "exited", did="anna"))
    envelope(harness, tablets, 51, update("c", "abnormal", release="2.0.0", did="ben"))
    harness.fold()

    assert health(harness, ws, mp) == (3, 2, 2, 2)
    assert health(harness, ws, mp, app_id="phones") == (2, 1, 1, 1)
    assert health(harness, ws, mp, app_id="tablets", version="2.0.0") == (1, 1, 1, 1)
    # A release names its version when it is the version or ends with @ and the version.
    envelope(harness, tablets, 51, update("d", "exited", release="shop-2.0.0"))
    harness.fold()
    assert health(harness, ws, mp, version="2.0.0") == (3, 2, 2, 2)


@pytest.mark.each_store
def test_a_user_only_sentry_names_is_no_analytics_user_until_ingest_sees_them(harness):
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 52)
    key = harness.app_key(ws)
    envelope(harness, key, 52, update("s1", "unhandled", release="1.0.0", did="cleo"))
    harness.fold()
    today = datetime.now(UTC).date().isoformat()
    overview = f"/api/v1/workspaces/{ws}/analytics/overview?miniprogram_id={mp}&from={today}&to={today}"
    assert harness.get(overview, "ada").get_json()["totals"]["active_users"] == 0
    if not harness.settings.telemetry_store:  # the rollups' numbering, where the service's database keeps them
        with harness.sessions() as session:
            assert session.get(UserNumber, (mp, "cleo")).first_day is None

    launch = {"event_id": "l1", "type": "app_launch", "timestamp": _stamp(), "miniprogram_id": mp, "version": "1.0.0"}
    launch |= {"user_id": "cleo", "session_id": "i1", "duration_ms": 200}
    body = json.dumps({"sent_at": _stamp(), "events": [launch]}).encode()
    sent = harness.http.post("/ingest/v1/events", data=body, headers={"X-MPDP-Key": key}, content_type="application/json")
    assert sent.status_code == 202
    harness.fold()
    totals = harness.get(overview, "ada").get_json()["totals"]
    assert (totals["active_users"], totals["new_users"]) == (1, 1)
    # Two sessions, one per source, of one user.
    assert health(harness, ws, mp) == (2, 1, 1, 1)
