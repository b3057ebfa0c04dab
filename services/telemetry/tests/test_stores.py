"""The two stores of analytics give the same figures: the same events, sent through ingest and
Sentry's endpoint to a telemetry on the service's database and to one on ClickHouse (chDB), then
every report, whole and filtered by host app, version and range, compared answer by answer."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from mpdp_telemetry import store
from mpdp_telemetry.raw_events import RawEvent

DAYS = 5
USERS = 40
PAGES = ["home", "cart", "search", "item"]
NAMES = ["buy", "share"]
STATUSES = ["ok", "exited", "errored", "crashed", "abnormal", "unhandled"]


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _traffic(seed: int) -> tuple[list[tuple[str, dict]], list[dict]]:
    """Ingest events (by host app) of the last DAYS days, in the order a phone sends them, and
    Sentry session updates of today: users coming back on other days, versions and host apps
    changing between sessions, several launches and errors in a session, a session's errors
    sent before its launch."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    events: list[tuple[str, dict]] = []
    number = 0
    for offset in range(DAYS - 1, -1, -1):
        day_start = (now - timedelta(days=offset)).replace(hour=0, minute=0, second=0)
        for user in rng.sample(range(USERS), k=rng.randrange(10, USERS)):
            for sitting in range(rng.randrange(1, 3)):
                app_id, version = rng.choice(["app1", "app2"]), rng.choice(["1.0.0", "1.1.0"])
                session_id = f"s{user}-{offset}-{sitting}"
                at = day_start + timedelta(minutes=rng.randrange(0, 60 * 20))
                if offset == 0 and at > now:
                    at = now - timedelta(minutes=rng.randrange(1, 60))
                kinds = ["app_launch"] + rng.choices(["page_view", "page_view", "custom", "js_error", "session_end", "app_launch"], k=6)
                if rng.random() < 0.2:
                    kinds.insert(0, "js_error")
                for kind in kinds:
                    number += 1
                    event = {
                        "event_id": f"e{number}",
                        "type": kind,
                        "timestamp": _stamp(at),
                        "miniprogram_id": "",
                        "version": version,
                        "user_id": f"u{user}",
                        "session_id": session_id,
                    }
                    if kind == "page_view":
                        event["page"] = rng.choice(PAGES)
                        if rng.random() < 0.7:
                            event["duration_ms"] = rng.randrange(100, 9000)
                    elif kind in ("app_launch", "session_end"):
                        event["duration_ms"] = rng.randrange(40, 4000)
                    elif kind == "custom":
                        event["name"] = rng.choice(NAMES)
                    events.append((app_id, event))
    updates = []
    for sid in range(30):
        did = f"u{rng.randrange(USERS + 10)}" if rng.random() < 0.8 else None
        release = f"shop@{rng.choice(['1.0.0', '1.1.0', '2.0.0'])}"
        for status in rng.choices(STATUSES, k=rng.randrange(1, 4)):
            found = {"sid": f"sentry-{sid}", "started": _stamp(now), "status": status, "attrs": {"release": release}}
            updates.append(found | ({"did": did} if did else {}))
    return events, updates


def _load(harness, seed: int) -> tuple[str, str]:
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 61)
    keys = {"app1": harness.app_key(ws, "app1"), "app2": harness.app_key(ws, "app2")}
    events, updates = _traffic(seed)
    batches: dict[str, list[dict]] = {"app1": [], "app2": []}
    sent = []
    for app_id, event in events:
        batches[app_id].append(event | {"miniprogram_id": mp})
        if len(batches[app_id]) == 50:
            sent.append((app_id, batches[app_id]))
            batches[app_id] = []
    sent += [(app_id, batch) for app_id, batch in batches.items() if batch]
    for index, (app_id, batch) in enumerate(sent):
        body = json.dumps({"sent_at": _stamp(datetime.now(UTC)), "events": batch}).encode()
        for _time in range(2 if index % 7 == 0 else 1):  # some batches sent twice, as a phone retries
            answer = harness.http.post(
                "/ingest/v1/events", data=body, headers={"X-MPDP-Key": keys[app_id]}, content_type="application/json"
            )
            assert answer.status_code == 202 and not answer.get_json()["rejected"], answer.get_data(as_text=True)
        if index % 5 == 0:
            harness.fold()  # the folder catches up now and then, as it does
    for start in range(0, len(updates), 10):
        body = b"{}\n" + b"".join(b'{"type":"session"}\n' + json.dumps(update).encode() + b"\n" for update in updates[start : start + 10])
        answer = harness.http.post(f"/ingest/sentry/api/61/envelope/?sentry_key={keys['app1']}", data=body)
        assert answer.status_code == 200, answer.get_data(as_text=True)
    harness.fold()
    return ws, mp


def _reports(harness, ws: str, mp: str) -> dict[str, object]:
    today = datetime.now(UTC).date()
    ranges = [(today - timedelta(days=DAYS - 1), today), (today - timedelta(days=2), today - timedelta(days=1)), (today, today)]
    filters = [{}, {"app_id": "app2"}, {"version": "1.1.0"}, {"app_id": "app1", "version": "1.0.0"}, {"app_id": "nowhere"}]
    paths = ["analytics/overview", "analytics/pages", "analytics/retention", "analytics/events", "quality/startup", "quality/summary"]
    found: dict[str, object] = {}
    for start, end in ranges:
        for extra in filters:
            query = "&".join(f"{name}={value}" for name, value in {"miniprogram_id": mp, "from": start, "to": end, **extra}.items())
            for path in [*paths, *(f"analytics/events&name={name}" for name in NAMES)]:
                path, _, name = path.partition("&")
                url = f"/api/v1/workspaces/{ws}/{path}?{query}{'&' + name if name else ''}&limit=200"
                if path in ("analytics/retention", "quality/startup", "quality/summary", "analytics/overview"):
                    url = url.removesuffix("&limit=200")
                answer = harness.get(url, "ada")
                assert answer.status_code == 200, (url, answer.get_data(as_text=True))
                found[url.replace(ws, "WS").replace(mp, "MP")] = answer.get_json()
    return found


@pytest.mark.parametrize("seed", [1, 2])
def test_both_stores_give_the_same_figures_in_every_report(make_harness, seed):
    on_database, on_clickhouse = (
        _reports(harness, *_load(harness, seed))
        for harness in (
            make_harness("database", ingest_rate_limit="100000/minute"),
            make_harness("clickhouse", ingest_rate_limit="100000/minute"),
        )
    )
    assert on_database.keys() == on_clickhouse.keys()
    for url, answer in on_database.items():
        assert on_clickhouse[url] == answer, url
    # No trivial case: there are sessions, new users and crashes to compare.
    whole = next(answer for url, answer in on_database.items() if "analytics/overview" in url and "app_id" not in url)
    assert isinstance(whole, dict) and whole["totals"]["sessions"] > 50 and whole["totals"]["new_users"] > 10
    summary = next(answer for url, answer in on_database.items() if "quality/summary" in url and "app_id" not in url)
    assert isinstance(summary, dict) and summary["crashed_sessions"] > 5 and summary["crashed_users"] > 3


def test_clickhouse_drops_the_days_past_retention_and_follows_a_changed_setting(make_harness):
    harness = make_harness("clickhouse", telemetry_retention_days=30)
    clickhouse = store.open_store(harness.settings)
    now = datetime.now(UTC)

    def row(days_ago: int, number: int) -> RawEvent:
        at = now - timedelta(days=days_ago)
        return RawEvent(at.date(), "mp", f"e{number}", at, now, "app1", "page_view", "1.0.0", "u1", "s1", "home", None, None, None)

    clickhouse.write([row(31, 1), row(29, 2), row(0, 3)])
    clickhouse.optimize()  # TTL is applied as parts merge
    pages = clickhouse.pages("mp", (now - timedelta(days=40)).date(), now.date())
    assert pages == [{"page": "home", "views": 2, "visitors": 1, "avg_duration_ms": None}]

    # The same tables with a shorter retention: the TTL moves, and the older day goes too.
    shorter = store.open_store(dataclasses.replace(harness.settings, telemetry_retention_days=7))
    assert shorter is not None and shorter.database == clickhouse.database
    shorter.optimize()
    assert shorter.pages("mp", (now - timedelta(days=40)).date(), now.date())[0]["views"] == 1


def test_chdb_files_open_in_another_process_are_a_configuration_error(tmp_path):
    """chDB's engine is one process's: a second process on the same files is told to use a server."""
    opening = (
        "import sys, time; from mpdp_common.config import Settings; from mpdp_telemetry import store; "
        f"store.open_store(Settings(telemetry_store='chdb://{tmp_path}/ch')); print('open', flush=True); time.sleep(float(sys.argv[1]))"
    )
    with subprocess.Popen([sys.executable, "-c", opening, "60"], stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "open\n"
            second = subprocess.run([sys.executable, "-c", opening, "0"], capture_output=True, text=True, timeout=60)
            assert second.returncode == 1 and "open" not in second.stdout
            assert "one process at a time" in second.stderr and "clickhouse://" in second.stderr, second.stderr[-2000:]
        finally:
            holder.kill()
