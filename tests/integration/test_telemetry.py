"""Telemetry on the real processes: host apps send events through the gateway, the console reads
exact figures back; the real sentry-sdk reports crashes; killed processes lose no accepted event."""

from __future__ import annotations

import gzip
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import requests

from .client import Client
from .conftest import eventually, running_embedded
from .test_catalog import join, new_miniprogram
from .test_events_and_faults import _children, children_of


@dataclass
class Shop:
    ws: str
    mp: dict
    app_id: str
    key_id: str
    admin: Client
    reviewer: Client
    developer: Client
    outsider: Client

    @property
    def base(self) -> str:
        return f"/api/v1/workspaces/{self.ws}"


def new_key(admin: Client, ws: str, app_id: str) -> str:
    created = admin.post(f"/api/v1/workspaces/{ws}/apps/{app_id}/keys", json={"label": "ingest"})
    assert created.status_code == 201, created.text
    return created.json()["key_id"]


@pytest.fixture
def shop(make_user, make_workspace) -> Shop:
    """A workspace with a mini program that telemetry knows, a host app with a key telemetry
    accepts, an assigned reviewer, and a developer who is not assigned."""
    return new_shop(make_user, make_workspace)


def new_shop(make_user: Callable[[str], Client], make_workspace: Callable[[Client], str]) -> Shop:
    admin, reviewer, developer, outsider = make_user("admin"), make_user("reviewer"), make_user("developer"), make_user("outsider")
    ws = make_workspace(admin)
    mp = new_miniprogram(admin, ws)
    join(admin, reviewer, ws, "reviewer", [mp["id"]])
    join(admin, developer, ws, "developer")
    app = admin.post(f"/api/v1/workspaces/{ws}/apps", json={"name": "Super App", "platforms": ["ios"], "bundle_id": "com.acme.super"})
    assert app.status_code == 201, app.text
    key_id = new_key(admin, ws, app.json()["id"])
    shop = Shop(ws, mp, app.json()["id"], key_id, admin, reviewer, developer, outsider)
    # Ready once telemetry's read models have the key, the mini program and the reviewer's assignment.
    eventually(lambda: admin.get(f"{shop.base}/miniprograms/{mp['id']}/dsn?app_id={shop.app_id}").status_code == 200, timeout=20)
    eventually(lambda: reviewer.get(f"{shop.base}/analytics/overview?miniprogram_id={mp['id']}").status_code == 200, timeout=20)
    return shop


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event(shop: Shop, kind: str, user: str, at: datetime, **fields) -> dict:
    return {
        "event_id": secrets.token_hex(12),
        "type": kind,
        "timestamp": stamp(at),
        "miniprogram_id": shop.mp["id"],
        "version": fields.pop("version", "1.0.0"),
        "user_id": user,
        "session_id": fields.pop("session_id", f"{user}-{at:%Y%m%d}"),
        **fields,
    }


@dataclass
class Gateway:
    """Where a test sends events: the platform's gateway, or another platform's (the embedded one)."""

    gateway: str


def send(platform, key_id: str, events: list, sent_at: datetime | None = None, *, gzipped: bool = False, **kwargs) -> requests.Response:
    body = json.dumps({"sent_at": stamp(sent_at or datetime.now(UTC)), "events": events}).encode()
    headers = {"X-MPDP-Key": key_id, "Content-Type": "application/json"}
    if gzipped:
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    return requests.post(f"{platform.gateway}/ingest/v1/events", data=body, headers=headers | kwargs.pop("headers", {}), timeout=30)


def report(user: Client, shop: Shop, endpoint: str, start: date, end: date, **params) -> dict:
    query = {"miniprogram_id": shop.mp["id"], "from": start.isoformat(), "to": end.isoformat(), **params}
    answer = user.get(f"{shop.base}/{endpoint}", params=query)
    assert answer.status_code == 200, answer.text
    return answer.json()


def folded(shop: Shop, page_views: int, start: date, end: date, timeout: float = 60) -> dict:
    """The overview once the consumer has folded `page_views` page views (never more)."""
    seen = []

    def check():
        seen.append(report(shop.admin, shop, "analytics/overview", start, end))
        assert seen[-1]["totals"]["page_views"] <= page_views, seen[-1]["totals"]
        return seen[-1] if seen[-1]["totals"]["page_views"] == page_views else None

    try:
        return eventually(check, timeout=timeout, interval=0.3)
    except AssertionError:
        raise AssertionError(f"{page_views} page views expected, {seen[-1]['totals']['page_views']} counted") from None


def test_figures_are_exact_for_data_the_test_controls(platform, shop):
    figures_are_exact(platform, shop)


def test_figures_are_exact_on_clickhouse_too(tmp_path):
    """The same events and figures with the ClickHouse store (chDB, in the embedded platform's
    one process: chDB's engine belongs to one process)."""
    with running_embedded(tmp_path, MPDP_TELEMETRY_STORE=f"chdb://{tmp_path}/clickhouse") as (gateway, _process):

        def make_workspace(owner: Client) -> str:
            created = owner.post("/api/v1/workspaces", json={"name": "Acme", "kind": "tenant"})
            assert created.status_code == 201, created.text
            ws = created.json()["id"]
            eventually(lambda: any(m["workspace_id"] == ws and m["role"] == "admin" for m in owner.get("/api/v1/me").json()["memberships"]))
            return ws

        figures_are_exact(Gateway(gateway), new_shop(Client(gateway).new_account, make_workspace))
    # The events went to ClickHouse, none to the service's own database.
    with closing(sqlite3.connect(tmp_path / "embedded" / "telemetry.db")) as database:
        assert database.execute("SELECT count(*) FROM raw_events").fetchone() == (0,)


def figures_are_exact(platform, shop: Shop) -> None:
    # A minute past midnight of each of the last three days (never more than a minute ahead of now).
    today = datetime.now(UTC).replace(hour=0, minute=1, second=0, microsecond=0)
    d0, d1, d2 = today - timedelta(days=2), today - timedelta(days=1), today
    events = [
        # day 0: anna and ben arrive; anna in two sessions
        event(shop, "app_launch", "anna", d0, duration_ms=800, session_id="a1"),
        event(shop, "page_view", "anna", d0, page="home", duration_ms=4000, session_id="a1"),
        event(shop, "page_view", "anna", d0, page="cart", duration_ms=2000, session_id="a1"),
        event(shop, "session_end", "anna", d0, duration_ms=60_000, session_id="a1"),
        event(shop, "app_launch", "anna", d0 + timedelta(minutes=30), duration_ms=1200, session_id="a2"),
        event(shop, "page_view", "anna", d0 + timedelta(minutes=31), page="home", duration_ms=1000, session_id="a2"),
        event(shop, "custom", "anna", d0, name="add_to_cart", session_id="a1"),
        event(shop, "app_launch", "ben", d0, duration_ms=400, session_id="b1"),
        event(shop, "page_view", "ben", d0, page="home", session_id="b1"),
        event(shop, "session_end", "ben", d0, duration_ms=120_000, session_id="b1"),
        # day 1: anna comes back on version 1.1.0; cleo arrives
        event(shop, "page_view", "anna", d1, page="home", version="1.1.0", session_id="a3"),
        event(shop, "custom", "anna", d1, name="add_to_cart", version="1.1.0", session_id="a3"),
        event(shop, "app_launch", "cleo", d1, duration_ms=2000, session_id="c1"),
        event(shop, "page_view", "cleo", d1, page="search", session_id="c1"),
        event(shop, "custom", "cleo", d1, name="add_to_cart", session_id="c1"),
        # day 2: ben comes back
        event(shop, "page_view", "ben", d2, page="cart", session_id="b2"),
    ]
    answer = send(platform, shop.key_id, events, gzipped=True)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"accepted": len(events), "rejected": []}

    overview = folded(shop, 7, d0.date(), d2.date())
    assert overview["series"] == [
        {
            "date": d0.date().isoformat(),
            "active_users": 2,
            "new_users": 2,
            "sessions": 3,
            "page_views": 4,
            "avg_session_duration_ms": 90_000,
        },
        {"date": d1.date().isoformat(), "active_users": 2, "new_users": 1, "sessions": 2, "page_views": 2, "avg_session_duration_ms": None},
        {"date": d2.date().isoformat(), "active_users": 1, "new_users": 0, "sessions": 1, "page_views": 1, "avg_session_duration_ms": None},
    ]
    assert overview["totals"] == {"active_users": 3, "new_users": 3, "sessions": 6, "page_views": 7, "avg_session_duration_ms": 90_000}

    # Filters: one version; the newer version saw anna only.
    newer = report(shop.admin, shop, "analytics/overview", d0.date(), d2.date(), version="1.1.0")
    assert [row["active_users"] for row in newer["series"]] == [0, 1, 0]
    assert newer["totals"]["active_users"] == 1 and newer["totals"]["new_users"] == 0
    assert report(shop.admin, shop, "analytics/overview", d0.date(), d2.date(), app_id=shop.app_id)["totals"] == overview["totals"]
    assert report(shop.admin, shop, "analytics/overview", d0.date(), d2.date(), app_id="another-app")["totals"]["page_views"] == 0

    pages = report(shop.admin, shop, "analytics/pages", d0.date(), d2.date())
    assert pages["items"] == [
        {"page": "home", "views": 4, "visitors": 2, "avg_duration_ms": 2500},
        {"page": "cart", "views": 2, "visitors": 2, "avg_duration_ms": 2000},
        {"page": "search", "views": 1, "visitors": 1, "avg_duration_ms": None},
    ]
    assert pages["next_cursor"] is None

    retention = report(shop.admin, shop, "analytics/retention", d0.date(), d2.date())
    assert retention == [
        {"cohort_date": d0.date().isoformat(), "users": 2, "retained": [2, 1, 1, None, None, None, None, None]},
        {"cohort_date": d1.date().isoformat(), "users": 1, "retained": [1, 0, None, None, None, None, None, None]},
        {"cohort_date": d2.date().isoformat(), "users": 0, "retained": [0, None, None, None, None, None, None, None]},
    ]

    tracked = report(shop.admin, shop, "analytics/events", d0.date(), d2.date())
    assert tracked["items"] == [{"name": "add_to_cart", "count": 3, "users": 2}]
    series = report(shop.admin, shop, "analytics/events", d0.date(), d2.date(), name="add_to_cart")
    assert [(row["count"], row["users"]) for row in series["series"]] == [(1, 1), (2, 2), (0, 0)]

    startup = report(shop.admin, shop, "quality/startup", d0.date(), d2.date())
    assert startup["overall"] == {"launches": 4, "p50": 800, "p90": 2000, "p99": 2000}
    assert [(row["launches"], row["p50"]) for row in startup["by_day"]] == [(3, 800), (1, 2000), (0, None)]


def test_a_resent_batch_counts_once_and_device_clocks_are_corrected(platform, shop):
    now = datetime.now(UTC)
    batch = [event(shop, "page_view", f"user{n}", now, page="home") for n in range(5)]
    assert send(platform, shop.key_id, batch).status_code == 202
    assert send(platform, shop.key_id, batch).status_code == 202  # the phone did not see the answer and retried
    # A phone whose clock is 5 days behind: its events belong to today, not to 5 days ago.
    behind = now - timedelta(days=5)
    late = [event(shop, "page_view", "slow-clock", behind, page="home")]
    assert send(platform, shop.key_id, late, sent_at=behind).status_code == 202
    overview = folded(shop, 6, (now - timedelta(days=6)).date(), now.date())
    assert overview["series"][-1]["page_views"] == 6
    assert all(row["page_views"] == 0 for row in overview["series"][:-1])


def test_bad_events_are_refused_by_index_and_the_rest_kept(platform, shop, make_user, make_workspace):
    now = datetime.now(UTC)
    other_owner = make_user("other")
    other_ws = make_workspace(other_owner)
    foreign = new_miniprogram(other_owner, other_ws)
    good = event(shop, "page_view", "u", now, page="home")
    events = [
        good,
        event(shop, "custom", "u", now),  # a tracked event needs its name
        event(shop, "page_view", "u", now, page="home") | {"miniprogram_id": foreign["id"]},
        event(shop, "teleport", "u", now),
        event(shop, "page_view", "u", now, page="home") | {"timestamp": "yesterday"},
        "not an event",
    ]
    answer = send(platform, shop.key_id, events)
    assert answer.status_code == 202, answer.text
    assert answer.json()["accepted"] == 1
    assert [item["index"] for item in answer.json()["rejected"]] == [1, 2, 3, 4, 5]
    assert all(item["reason"] for item in answer.json()["rejected"])
    folded(shop, 1, now.date(), now.date())


def test_crash_free_figures_count_the_sessions_sent_to_ingest(platform, shop):
    """Four users' sessions through ingest, without any Sentry session; anna crashes twice."""
    now = datetime.now(UTC)
    first = [event(shop, "app_launch", user, now, duration_ms=300, session_id=f"{user}-1") for user in ("anna", "ben", "cleo", "dave")]
    first += [
        event(shop, "js_error", "anna", now, session_id="anna-1"),
        event(shop, "app_launch", "anna", now, duration_ms=300, session_id="anna-2", version="1.1.0"),
        event(shop, "page_view", "ben", now, page="home", session_id="ben-1"),
    ]
    assert send(platform, shop.key_id, first).json() == {"accepted": len(first), "rejected": []}
    folded(shop, 1, now.date(), now.date())
    # The second crash's error arrives in a later batch than its session's launch.
    second = [event(shop, "js_error", "anna", now, session_id="anna-2", version="1.1.0")]
    assert send(platform, shop.key_id, second).json() == {"accepted": 1, "rejected": []}

    def health(user: Client, **params) -> tuple:
        summary = report(user, shop, "quality/summary", now.date(), now.date(), **params)
        return tuple(
            summary[name] for name in ("sessions", "crashed_sessions", "crash_free_sessions", "users", "crashed_users", "crash_free_users")
        )

    # Five sessions, anna's two crashed; four users, anna crashed.
    assert eventually(lambda: health(shop.admin) if health(shop.admin)[1] == 2 else None, timeout=60) == (5, 2, 0.6, 4, 1, 0.75)
    summary = report(shop.reviewer, shop, "quality/summary", now.date(), now.date())
    assert summary["js_errors"] == 2
    assert [(row["version"], row["crash_free_sessions"], row["crash_free_users"]) for row in summary["by_version"]] == [
        ("1.1.0", 0.0, 0.0),
        ("1.0.0", 0.75, 0.75),
    ]
    assert health(shop.reviewer, version="1.0.0") == (4, 1, 0.75, 4, 1, 0.75)


def test_keys_sizes_bombs_and_rates_are_refused_with_problems(platform, shop):
    now = datetime.now(UTC)
    one = [event(shop, "page_view", "u", now, page="home")]
    unknown = send(platform, "mak_unknown", one)
    assert unknown.status_code == 401 and unknown.headers["Content-Type"] == "application/problem+json"
    assert send(platform, "", one).status_code == 401

    too_many = send(platform, shop.key_id, [event(shop, "page_view", "u", now, page="home") for _ in range(1001)])
    assert too_many.status_code == 413
    too_big = send(platform, shop.key_id, [event(shop, "custom", "u", now, name="x", properties={"blob": "x" * 4000})] * 300)
    assert too_big.status_code == 413
    # About 100 KiB of gzip that inflates to 100 MiB is refused without inflating it all.
    bomb = gzip.compress(b" " * (100 * 1024 * 1024), compresslevel=9)
    refused = requests.post(
        f"{platform.gateway}/ingest/v1/events",
        data=bomb,
        headers={"X-MPDP-Key": shop.key_id, "Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=30,
    )
    assert refused.status_code == 413, refused.text
    assert send(platform, shop.key_id, one, headers={"Content-Type": "text/plain"}).status_code == 415
    assert (
        requests.post(
            f"{platform.gateway}/ingest/v1/events", data=b"{", headers={"X-MPDP-Key": shop.key_id, "Content-Type": "application/json"}
        ).status_code
        == 400
    )

    # The platform under test allows 30,000 events a minute per key.
    rate_key = new_key(shop.admin, shop.ws, shop.app_id)
    batch = [event(shop, "page_view", "u", now, page="home") for _ in range(1000)]
    eventually(lambda: send(platform, rate_key, batch[:1]).status_code == 202, timeout=20)
    answers = [send(platform, rate_key, batch) for _ in range(31)]
    limited = [answer for answer in answers if answer.status_code == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1

    # A revoked key stops working.
    keys = shop.admin.get(f"{shop.base}/apps/{shop.app_id}/keys").json()["items"]
    revoked = next(key for key in keys if key["key_id"] == rate_key)
    assert shop.admin.delete(f"{shop.base}/apps/{shop.app_id}/keys/{revoked['id']}").status_code == 204
    eventually(lambda: send(platform, rate_key, one).status_code == 401, timeout=10)


def test_roles_decide_who_sees_analytics_and_quality(platform, shop):
    today = datetime.now(UTC).date().isoformat()
    paths = [
        f"{shop.base}/analytics/overview?miniprogram_id={shop.mp['id']}&from={today}&to={today}",
        f"{shop.base}/analytics/pages?miniprogram_id={shop.mp['id']}",
        f"{shop.base}/analytics/retention?miniprogram_id={shop.mp['id']}",
        f"{shop.base}/analytics/events?miniprogram_id={shop.mp['id']}",
        f"{shop.base}/quality/summary?miniprogram_id={shop.mp['id']}",
        f"{shop.base}/quality/startup?miniprogram_id={shop.mp['id']}",
        f"{shop.base}/quality/issues?miniprogram_id={shop.mp['id']}",
        f"{shop.base}/miniprograms/{shop.mp['id']}/dsn",
    ]
    for path in paths:
        assert shop.admin.get(path).status_code == 200, path
        assert shop.reviewer.get(path).status_code == 200, path  # assigned
        assert shop.developer.get(path).status_code == 404, path  # not assigned
        assert shop.outsider.get(path).status_code == 404, path
        assert Client(platform.gateway).get(path).status_code == 401, path
    assert shop.developer.get(f"{shop.base}/quality/issues").json()["items"] == []
    bad = shop.admin.get(f"{shop.base}/analytics/overview?miniprogram_id={shop.mp['id']}&from=2026-02-10&to=2026-02-01")
    assert bad.status_code == 422 and "from" in bad.json()["errors"]
    assert shop.admin.get(f"{shop.base}/analytics/overview").status_code == 422

    # Once assigned, the developer sees it too.
    assert (
        shop.admin.put(
            f"{shop.base}/miniprograms/{shop.mp['id']}/developers", json={"account_ids": [shop.developer.account["id"]]}
        ).status_code
        == 200
    )
    eventually(lambda: shop.developer.get(paths[0]).status_code == 200, timeout=20)


CRASHING_APP = textwrap.dedent(
    """
    import sys
    import sentry_sdk

    dsn, release, user, kind = sys.argv[1:5]
    sentry_sdk.init(dsn=dsn, release=release, default_integrations=True)
    scope = sentry_sdk.get_isolation_scope()
    scope.start_session(session_mode="application")
    sentry_sdk.set_user({"id": user})


    def checkout(cart):
        return cart["coupon"]


    def price(items):
        return 100 / len(items)


    if kind == "checkout":
        checkout({"items": [user]})  # KeyError, not caught: a crash
    elif kind == "price":
        try:
            price([])
        except ZeroDivisionError:
            sentry_sdk.capture_exception()
    elif kind == "timeout":
        with sentry_sdk.new_scope() as local:
            local.fingerprint = ["payment-timeout"]
            sentry_sdk.capture_message(f"payment timed out after {len(user)} s")
    scope.end_session()
    sentry_sdk.flush()
    """
)


def run_app(tmp_path, dsn: str, release: str, user: str, kind: str) -> None:
    script = tmp_path / "shop_app.py"
    script.write_text(CRASHING_APP)
    subprocess.run([sys.executable, str(script), dsn, release, user, kind], capture_output=True, timeout=60, cwd=tmp_path)


def issues(shop: Shop, **params) -> list[dict]:
    answer = shop.admin.get(f"{shop.base}/quality/issues", params={"miniprogram_id": shop.mp["id"], **params})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_the_real_sentry_sdk_reports_grouped_issues_regressions_and_crash_free_figures(platform, shop, tmp_path):
    dsn = shop.admin.get(f"{shop.base}/miniprograms/{shop.mp['id']}/dsn?app_id={shop.app_id}").json()
    assert dsn["dsn"].endswith(f"/ingest/sentry/{shop.mp['telemetry_id']}") and dsn["dsn"].startswith(f"http://{shop.key_id}@")

    runs = [
        ("shop@1.0.0", "anna", "checkout"),
        ("shop@1.0.0", "ben", "checkout"),
        ("shop@1.0.0", "anna", "checkout"),
        ("shop@1.0.0", "cleo", "price"),
        ("shop@1.0.0", "dave", "timeout"),
        ("shop@1.0.0", "eve-long-name", "timeout"),
        ("shop@1.0.0", "fred", "none"),
    ]
    for release, user, kind in runs:
        run_app(tmp_path, dsn["dsn"], release, user, kind)
    found = eventually(lambda: (lambda items: items if sum(item["count"] for item in items) == 6 else None)(issues(shop)), timeout=20)
    assert len(found) == 3, [item["title"] for item in found]
    crash, division, timeout = (
        next(item for item in found if item["title"].startswith(start)) for start in ("KeyError", "ZeroDivisionError", "payment")
    )
    assert (crash["count"], crash["users"], crash["versions"], crash["status"]) == (3, 2, ["1.0.0"], "unresolved")
    assert crash["title"] == "KeyError: 'coupon'" and crash["culprit"] == "__main__ in checkout"
    assert division["count"] == 1
    assert timeout["count"] == 2 and timeout["users"] == 2  # one client fingerprint, two different messages

    detail = shop.admin.get(f"{shop.base}/quality/issues/{crash['id']}").json()
    frames = detail["latest_event"]["exception"]["values"][-1]["stacktrace"]["frames"]
    assert [frame["function"] for frame in frames][-1] == "checkout"

    today = datetime.now(UTC).date()

    # Sessions are counted by the folder, a moment after they arrive.
    def counted() -> dict | None:
        figures = report(shop.admin, shop, "quality/summary", today, today)
        return figures if (figures["sessions"], figures["crashed_sessions"]) == (7, 3) else None

    summary = eventually(counted, timeout=20)
    # Seven sessions of six users: three crashed, of two users (anna twice, ben).
    assert (summary["sessions"], summary["crashed_sessions"], summary["crash_free_sessions"]) == (7, 3, round(1 - 3 / 7, 4))
    assert (summary["users"], summary["crashed_users"], summary["crash_free_users"]) == (6, 2, round(1 - 2 / 6, 4))
    assert summary["error_count"] == 6 and summary["by_version"][0]["version"] == "1.0.0"

    # Resolved, then seen again in the same release: stays resolved. In a newer one: regressed.
    resolved = shop.admin.patch(f"{shop.base}/quality/issues/{crash['id']}", json={"status": "resolved"})
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert shop.reviewer.patch(f"{shop.base}/quality/issues/{crash['id']}", json={"status": "ignored"}).status_code == 403
    assert shop.admin.patch(f"{shop.base}/quality/issues/{crash['id']}", json={"status": "gone"}).status_code == 422
    run_app(tmp_path, dsn["dsn"], "shop@1.0.0", "anna", "checkout")
    eventually(lambda: issues(shop, status="resolved") and issues(shop, status="resolved")[0]["count"] == 4)
    run_app(tmp_path, dsn["dsn"], "shop@1.1.0", "gina", "checkout")
    reopened = eventually(lambda: [item for item in issues(shop, status="unresolved") if item["id"] == crash["id"]])[0]
    assert reopened["versions"] == ["1.0.0", "1.1.0"]
    assert shop.admin.get(f"{shop.base}/quality/issues/{crash['id']}").json()["regressed"] is True
    assert [item["id"] for item in issues(shop, version="1.1.0")] == [crash["id"]]


def test_sentry_endpoints_refuse_bad_keys_and_take_the_store_endpoint(platform, shop):
    telemetry_id = shop.mp["telemetry_id"]
    envelope = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"event"}\n{"message":"hello","level":"warning"}\n'
    url = f"{platform.gateway}/ingest/sentry/api/{telemetry_id}/envelope/"
    headers = {"Content-Type": "application/x-sentry-envelope"}
    assert requests.post(url, data=envelope, headers=headers, timeout=10).status_code == 401
    assert requests.post(url + "?sentry_key=mak_nope", data=envelope, headers=headers, timeout=10).status_code == 401
    auth = {"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={shop.key_id}, sentry_client=test/1.0"}
    assert requests.post(url, data=b"not an envelope\n", headers=headers | auth, timeout=10).status_code == 400
    unknown_items = envelope + b'{"type":"client_report","length":2}\n{}\n{"type":"attachment","length":3}\nabc\n'
    accepted = requests.post(
        url + f"?sentry_key={shop.key_id}", data=gzip.compress(unknown_items), headers=headers | {"Content-Encoding": "gzip"}
    )
    assert accepted.status_code == 200 and accepted.json()["id"] == "9ec79c33ec9942ab8353589fcb2e04dc"
    store = requests.post(
        f"{platform.gateway}/ingest/sentry/api/{telemetry_id}/store/",
        json={"event_id": "0" * 32, "message": "hello", "level": "warning"},
        headers=auth,
        timeout=10,
    )
    assert store.status_code == 200
    assert eventually(lambda: [item for item in issues(shop) if item["title"] == "hello" and item["count"] == 2])
    assert (
        requests.post(f"{platform.gateway}/ingest/sentry/api/999999999/envelope/", data=envelope, headers=headers | auth).status_code == 404
    )


def test_sentry_envelopes_over_the_limits_or_malformed_are_answered_at_once_with_problems(platform, shop):
    url = f"{platform.gateway}/ingest/sentry/api/{shop.mp['telemetry_id']}/envelope/?sentry_key={shop.key_id}"
    headers = {"Content-Type": "application/x-sentry-envelope"}
    events = b"".join(b'{"type":"event"}\n{"event_id":"%032x","message":"crash %d"}\n' % (number, number) for number in range(5000))
    started = time.monotonic()
    refused = requests.post(url, data=b"{}\n" + events, headers=headers, timeout=10)
    assert refused.status_code == 413 and refused.headers["Content-Type"] == "application/problem+json", refused.text
    assert time.monotonic() - started < 3
    sessions = b"".join(b'{"type":"session"}\n{"sid":"s%d","status":"ok"}\n' % number for number in range(101))
    assert requests.post(url, data=b"{}\n" + sessions, headers=headers, timeout=10).status_code == 413

    deep = b"[" * 200_000 + b"]" * 200_000
    malformed = {
        deep + b'\n{"type":"event"}\n{}\n': 400,
        b'{}\n{"type":' + deep + b"}\n{}\n": 400,
        b'{}\n{"type":[]}\n{}\n': 400,
        b'{}\n{"type":"event"}\n{"message":"\\ud800"}\n': 400,
        b'{}\n{"type":"event"}\n{"message":"dropped parts","exception":5,"stacktrace":[1],"logentry":"str",'
        b'"timestamp":"0001-01-01T00:00:00+01:00"}\n': 200,
        b'{}\n{"type":"event"}\n{"exception":{"values":[{"type":"E","value":"v","stacktrace":{"frames":7}}]}}\n': 200,
    }
    for body, status in malformed.items():
        answer = requests.post(url, data=gzip.compress(body), headers=headers | {"Content-Encoding": "gzip"}, timeout=10)
        assert answer.status_code == status, (body[:80], answer.text)
    titles = eventually(lambda: (lambda found: found if len(found) == 2 else None)({item["title"] for item in issues(shop)}))
    assert titles == {"str", "E: v"}
    summary = shop.admin.get(f"{shop.base}/quality/summary", params={"miniprogram_id": shop.mp["id"]})
    assert summary.status_code == 200, summary.text


def test_killing_the_telemetry_processes_during_ingest_loses_no_accepted_event(platform, shop):
    now = datetime.now(UTC)
    accepted = []
    stop = threading.Event()

    def sender(number: int) -> None:
        """Sends batches like a phone: a batch without an answer is sent again, same event ids, until it gets one."""
        sent = 0
        while not stop.is_set():
            sent += 1
            batch = [event(shop, "page_view", f"user{number}-{sent}-{n}", now, page="load") for n in range(50)]
            while True:
                try:
                    answer = send(platform, shop.key_id, batch)
                    if answer.status_code == 202:
                        accepted.append(answer.json()["accepted"])
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.2)

    threads = [threading.Thread(target=sender, args=(number,)) for number in range(3)]
    for thread in threads:
        thread.start()
    try:
        eventually(lambda: len(accepted) >= 10, timeout=30)
        web = _children(platform, "web", "telemetry")
        workers = [pid for master in web for pid in children_of(master)]
        # the consumer and the folder are threads of telemetry's jobs process
        jobs = _children(platform, "jobs", "telemetry")
        for pid in [*web, *workers, *jobs]:
            os.kill(pid, signal.SIGKILL)
        before = len(accepted)
        # The supervisor starts them again and the senders get through again.
        eventually(lambda: len(accepted) >= before + 20, timeout=90, interval=0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert _children(platform, "jobs", "telemetry") not in ([], jobs)
    folded(shop, sum(accepted), now.date(), now.date(), timeout=120)
