"""Ingest, folding and the reports on SQLite, the embedded mode's storage."""

from __future__ import annotations

import base64
import gzip
import json
import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy


def _now():
    return datetime.now(UTC).replace(microsecond=0)


def _event(miniprogram_id, number, user, kind="page_view", at=None, **extra):
    return {
        "event_id": f"e{number}",
        "type": kind,
        "timestamp": (at or _now()).isoformat().replace("+00:00", "Z"),
        "miniprogram_id": miniprogram_id,
        "version": "1.0.0",
        "user_id": user,
        "session_id": f"s-{user}",
        **extra,
    }


def _send(harness, key_id, events, sent_at=None, **kwargs):
    body = json.dumps({"sent_at": (sent_at or _now()).isoformat(), "events": events}).encode()
    headers = {"X-MPDP-Key": key_id, **kwargs.pop("headers", {})}
    if kwargs.pop("gzipped", False):
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    return harness.http.post("/ingest/v1/events", data=body, headers=headers, content_type="application/json")


@pytest.mark.each_store
def test_a_batch_is_counted_once_and_bad_events_are_refused_by_index(harness):
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 1)
    other = harness.miniprogram(harness.workspace("bob"), 2)
    key = harness.app_key(ws)
    events = [
        _event(mp, 1, "u1", page="home", duration_ms=1000),
        _event(mp, 2, "u2", page="home"),
        _event(mp, 3, "u1", page="cart", duration_ms=3000),
        _event(mp, 4, "u1", kind="custom", name="buy"),
        _event(other, 5, "u3", page="home"),
        _event(mp, 6, "u1", kind="weird"),
        _event(mp, 7, "u1", kind="custom"),
    ]
    answer = _send(harness, key, events, gzipped=True)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    assert answer.get_json()["accepted"] == 4
    assert [item["index"] for item in answer.get_json()["rejected"]] == [4, 5, 6]
    assert _send(harness, key, events).status_code == 202  # a phone's retry
    harness.fold()

    today = _now().date().isoformat()
    overview = harness.get(f"/api/v1/workspaces/{ws}/analytics/overview?miniprogram_id={mp}&from={today}&to={today}", "ada").get_json()
    assert overview["totals"] == {"active_users": 2, "new_users": 2, "sessions": 2, "page_views": 3, "avg_session_duration_ms": None}
    ranking = f"/api/v1/workspaces/{ws}/analytics/pages?miniprogram_id={mp}&from={today}&to={today}"
    pages = harness.get(ranking, "ada").get_json()
    assert pages["items"] == [
        {"page": "home", "views": 2, "visitors": 2, "avg_duration_ms": 1000},
        {"page": "cart", "views": 1, "visitors": 1, "avg_duration_ms": 3000},
    ]
    first = harness.get(f"{ranking}&limit=1", "ada").get_json()
    second = harness.get(f"{ranking}&limit=1&cursor={first['next_cursor']}", "ada").get_json()
    assert [first["items"][0]["page"], second["items"][0]["page"], second["next_cursor"]] == ["home", "cart", None]
    assert harness.get(f"{ranking}&limit=201", "ada").status_code == 422
    tracked = harness.get(f"/api/v1/workspaces/{ws}/analytics/events?miniprogram_id={mp}", "ada").get_json()
    assert tracked["items"] == [{"name": "buy", "count": 1, "users": 1}]


def test_unknown_keys_and_oversized_batches(harness):
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 1)
    unknown = _send(harness, "mak_nope", [_event(mp, 1, "u1", page="p")])
    assert unknown.status_code == 401 and unknown.headers["WWW-Authenticate"] == 'MPDP-Key realm="mpdp"'
    key = harness.app_key(ws)
    assert _send(harness, key, [_event(mp, n, "u1", page="p") for n in range(1001)]).status_code == 413
    bomb = gzip.compress(b"[" + b" " * (11 * 1024 * 1024) + b"]")
    answer = harness.http.post(
        "/ingest/v1/events", data=bomb, headers={"X-MPDP-Key": key, "Content-Encoding": "gzip"}, content_type="application/json"
    )
    assert answer.status_code == 413


@pytest.mark.each_store
def test_clock_skew_moves_events_to_the_servers_day(harness):
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 1)
    key = harness.app_key(ws)
    device_now = _now() - timedelta(days=3)  # the phone's clock is three days behind
    assert _send(harness, key, [_event(mp, 1, "u1", page="p", at=device_now)], sent_at=device_now).status_code == 202
    harness.fold()
    today = _now().date()
    overview = harness.get(
        f"/api/v1/workspaces/{ws}/analytics/overview?miniprogram_id={mp}&from={today - timedelta(days=3)}&to={today}", "ada"
    ).get_json()
    assert [row["page_views"] for row in overview["series"]] == [0, 0, 0, 1]


@pytest.mark.each_store
def test_a_tracked_events_daily_series(harness):
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 1)
    key = harness.app_key(ws)
    yesterday = _now() - timedelta(days=1)
    events = [
        _event(mp, 1, "u1", kind="custom", name="buy", at=yesterday),
        _event(mp, 2, "u1", kind="custom", name="buy"),
        _event(mp, 3, "u2", kind="custom", name="buy"),
    ]
    assert _send(harness, key, events).status_code == 202
    harness.fold()
    answer = harness.get(f"/api/v1/workspaces/{ws}/analytics/events?miniprogram_id={mp}&from={yesterday.date()}&name=buy", "ada")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["items"] == [{"name": "buy", "count": 3, "users": 2}]
    assert [(row["count"], row["users"]) for row in answer.get_json()["series"]] == [(1, 1), (2, 2)]


@pytest.mark.each_store
def test_release_health_from_session_updates_and_aggregates(harness):
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 41)
    key = harness.app_key(ws)
    started = _now().isoformat().replace("+00:00", "Z")
    items = [
        (
            {"type": "session"},
            {"sid": "a", "did": "u1", "init": True, "started": started, "status": "ok", "attrs": {"release": "shop@2.0.0"}},
        ),
        (
            {"type": "session"},
            {"sid": "a", "did": "u1", "started": started, "status": "crashed", "errors": 1, "attrs": {"release": "shop@2.0.0"}},
        ),
        ({"type": "session"}, {"sid": "a", "did": "u1", "started": started, "status": "exited", "attrs": {"release": "shop@2.0.0"}}),
        ({"type": "session"}, {"sid": "b", "did": "u2", "started": started, "status": "exited", "attrs": {"release": "shop@2.0.0"}}),
        ({"type": "sessions"}, {"aggregates": [{"started": started, "exited": 6, "crashed": 2}], "attrs": {"release": "shop@2.0.0"}}),
        ({"type": "profile"}, {"ignored": True}),
    ]
    body = b"{}\n" + b"".join(json.dumps(header).encode() + b"\n" + json.dumps(payload).encode() + b"\n" for header, payload in items)
    answer = harness.http.post(
        f"/ingest/sentry/api/41/envelope/?sentry_key={key}", data=gzip.compress(body), headers={"Content-Encoding": "gzip"}
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    harness.fold()  # session updates are counted by the folder, pre-counted sessions at once
    summary = harness.get(f"/api/v1/workspaces/{ws}/quality/summary?miniprogram_id={mp}", "ada").get_json()
    # Sessions a and b, kept at their worst status, and 8 counted by the SDK: 3 of 10 crashed.
    assert (summary["sessions"], summary["crashed_sessions"], summary["crash_free_sessions"]) == (10, 3, 0.7)
    assert (summary["users"], summary["crashed_users"], summary["crash_free_users"]) == (2, 1, 0.5)
    assert [row["version"] for row in summary["by_version"]] == ["2.0.0"]
    assert harness.http.post(f"/ingest/sentry/api/42/envelope/?sentry_key={key}", data=body).status_code == 404


@pytest.mark.each_store
def test_a_user_seen_earlier_than_before_becomes_new_on_that_day(harness):
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 1)
    key = harness.app_key(ws)
    today = _now()
    yesterday = today - timedelta(days=1)
    assert _send(harness, key, [_event(mp, 1, "u1", page="home", at=today)]).status_code == 202
    harness.fold()
    # A phone that was offline sends what it saw the day before.
    assert _send(harness, key, [_event(mp, 2, "u1", page="home", at=yesterday)]).status_code == 202
    harness.fold()

    span = f"miniprogram_id={mp}&from={yesterday.date().isoformat()}&to={today.date().isoformat()}"
    series = harness.get(f"/api/v1/workspaces/{ws}/analytics/overview?{span}", "ada").get_json()["series"]
    assert [(row["date"], row["new_users"], row["active_users"]) for row in series] == [
        (yesterday.date().isoformat(), 1, 1),
        (today.date().isoformat(), 0, 1),
    ]


def test_reviewers_see_the_crashes_of_every_mini_program_and_developers_of_those_assigned_to_them(harness):
    ws = harness.workspace("ada", rex="reviewer", dev="developer")
    shop, games = harness.miniprogram(ws, 51), harness.miniprogram(ws, 52)
    assignment = {"miniprogram_id": shop, "account_id": "dev", "workspace_id": ws}
    harness.deliver("catalog.assignment.added", assignment | {"assigned": True, "revision": 1})
    key = harness.app_key(ws)
    for telemetry_id in (51, 52):
        crash = {"event_id": f"{telemetry_id:032x}", "exception": {"values": [{"type": "ValueError", "value": "boom"}]}}
        answer = harness.http.post(f"/ingest/sentry/api/{telemetry_id}/store/?sentry_key={key}", json=crash)
        assert answer.status_code == 200, answer.get_data(as_text=True)

    def issues(account):
        return {
            item["miniprogram_id"]: item["id"]
            for item in harness.get(f"/api/v1/workspaces/{ws}/quality/issues", account).get_json()["items"]
        }

    everything = issues("ada")
    assert set(everything) == {shop, games}
    # a reviewer judges requests beside what is live: every mini program of the workspace, read-only
    assert set(issues("rex")) == {shop, games}
    assert harness.get(f"/api/v1/workspaces/{ws}/quality/issues/{everything[games]}", "rex").status_code == 200
    assert set(issues("dev")) == {shop}
    assert harness.get(f"/api/v1/workspaces/{ws}/quality/issues/{everything[shop]}", "dev").status_code == 200
    assert harness.get(f"/api/v1/workspaces/{ws}/quality/issues/{everything[games]}", "dev").status_code == 404
    assert harness.get(f"/api/v1/workspaces/{ws}/quality/summary?miniprogram_id={games}", "dev").status_code == 404
    harness.deliver("catalog.assignment.removed", assignment | {"assigned": False, "revision": 2})
    assert issues("dev") == {}


def test_an_assignment_event_older_than_the_one_applied_changes_nothing(harness):
    ws = harness.workspace("ada", dev="developer")
    shop = harness.miniprogram(ws, 53)
    overview = f"/api/v1/workspaces/{ws}/analytics/overview?miniprogram_id={shop}&from=2026-11-01&to=2026-11-02"
    assignment = {"miniprogram_id": shop, "account_id": "dev", "workspace_id": ws}
    # The removal overtook the assignment it ends, as when the assignment's first delivery failed and was retried.
    harness.deliver("catalog.assignment.removed", assignment | {"assigned": False, "revision": 2})
    harness.deliver("catalog.assignment.added", assignment | {"assigned": True, "revision": 1})
    assert harness.get(overview, "dev").status_code == 404
    assert harness.get(overview, "ada").status_code == 200

    harness.deliver("catalog.assignment.added", assignment | {"assigned": True, "revision": 3})
    assert harness.get(overview, "dev").status_code == 200
    # An event published before assignments had revisions is older than any that has one.
    harness.deliver("catalog.assignment.removed", assignment)
    assert harness.get(overview, "dev").status_code == 200


@pytest.mark.each_store
def test_a_mini_program_announced_again_keeps_its_users_and_assignments(harness):
    """`mpdpctl announce catalog` re-publishes `catalog.miniprogram.created` for every mini program."""
    ws = harness.workspace("ada", dev="developer")
    key = harness.app_key(ws)
    created = {"telemetry_id": 54, "workspace_id": ws, "name": "Shop", "created_by": "ada"}
    shop = harness.miniprogram(ws, 54)
    harness.deliver("catalog.assignment.added", {"miniprogram_id": shop, "account_id": "dev", "workspace_id": ws, "revision": 1})
    assert _send(harness, key, [_event(shop, 1, "u1", page="home"), _event(shop, 2, "u2", page="home")]).status_code == 202
    harness.fold()
    dsn = harness.get(f"/api/v1/workspaces/{ws}/miniprograms/{shop}/dsn", "ada").get_json()

    harness.deliver("catalog.miniprogram.created", created | {"miniprogram_id": shop})
    # A new user takes the next place in the user bitmaps, not a known user's.
    assert _send(harness, key, [_event(shop, 3, "u3", page="home")]).status_code == 202
    harness.fold()

    today = _now().date().isoformat()
    overview = f"/api/v1/workspaces/{ws}/analytics/overview?miniprogram_id={shop}&from={today}&to={today}"
    assert harness.get(overview, "ada").get_json()["totals"]["active_users"] == 3
    assert harness.get(overview, "dev").status_code == 200
    assert harness.get(f"/api/v1/workspaces/{ws}/miniprograms/{shop}/dsn", "ada").get_json() == dsn


class Crashes:
    """A mini program of ada's, and the crashes its host app reports."""

    def __init__(self, harness, telemetry_id):
        self.harness, self.telemetry_id = harness, telemetry_id
        self.ws = harness.workspace("ada")
        self.miniprogram_id = harness.miniprogram(self.ws, telemetry_id)
        self.key = harness.app_key(self.ws)
        self.sent = 0

    def crash(self, message, at):
        self.sent += 1
        event = {"event_id": f"{self.sent:032x}", "message": message, "timestamp": at.isoformat()}
        answer = self.harness.http.post(f"/ingest/sentry/api/{self.telemetry_id}/store/?sentry_key={self.key}", json=event)
        assert answer.status_code == 200, answer.get_data(as_text=True)

    def page(self, **params):
        path = f"/api/v1/workspaces/{self.ws}/quality/issues"
        return self.harness.get(path, "ada", query_string={"miniprogram_id": self.miniprogram_id, **params})

    def titles(self, **params):
        answer = self.page(**params)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return [item["title"] for item in answer.get_json()["items"]]

    def every_page(self, **params):
        items, cursor = [], None
        while True:
            answer = self.page(limit=2, **params, **({"cursor": cursor} if cursor else {})).get_json()
            items += answer["items"]
            cursor = answer["next_cursor"]
            if cursor is None:
                return items


def test_issues_are_listed_by_the_latest_crash_the_most_events_or_the_newest(harness):
    crashes, now = Crashes(harness, 61), _now()
    for message, days_ago in [("old", 5), ("busy", 3), ("busy", 2.5), ("busy", 2), ("new", 1), ("old", 1 / 24)]:
        crashes.crash(message, now - timedelta(days=days_ago))
    assert crashes.titles() == ["old", "new", "busy"]
    assert crashes.titles(sort="last_seen") == ["old", "new", "busy"]
    assert crashes.titles(sort="events") == ["busy", "old", "new"]
    assert crashes.titles(sort="first_seen") == ["new", "busy", "old"]
    refused = crashes.page(sort="oldest")
    assert refused.status_code == 422 and "sort" in refused.get_json()["errors"]


def test_paging_through_issues_that_crashed_at_the_same_moment_gives_each_once(harness):
    crashes, moment = Crashes(harness, 62), _now() - timedelta(hours=1)
    for number in range(5):
        crashes.crash(f"crash {number}", moment)
    crashes.crash("crash 0", moment - timedelta(hours=1))
    for sort in ("last_seen", "events", "first_seen"):
        items = crashes.every_page(sort=sort)
        assert len(items) == 5 and {item["title"] for item in items} == {f"crash {number}" for number in range(5)}, sort
        # equal values go by id, largest first, as on the pages of any other order
        tied = [item for item in items if item["title"] != "crash 0"]
        assert [item["id"] for item in tied] == sorted((item["id"] for item in tied), reverse=True), sort
    assert crashes.every_page(sort="events")[0]["title"] == "crash 0"
    assert crashes.every_page(sort="first_seen")[-1]["title"] == "crash 0"


def test_a_cursor_goes_on_only_in_the_order_that_made_it(harness):
    crashes, now = Crashes(harness, 63), _now()
    for number in range(3):
        crashes.crash(f"crash {number}", now - timedelta(hours=number))
    for made_by, used_with in [("events", "last_seen"), ("last_seen", "first_seen"), ("first_seen", "events")]:
        cursor = crashes.page(sort=made_by, limit=1).get_json()["next_cursor"]
        assert crashes.page(sort=made_by, cursor=cursor).status_code == 200
        refused = crashes.page(sort=used_with, cursor=cursor)
        assert refused.status_code == 422 and refused.get_json()["errors"] == {"cursor": ["Not a cursor this list handed out."]}
    # past PostgreSQL's bigint, or not a count at all
    for forged in (["events", 2**63, "x"], ["events", "many", "x"], ["events", True, "x"]):
        cursor = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
        assert crashes.page(sort="events", cursor=cursor).status_code == 422, forged


def test_a_release_with_a_non_ascii_digit_keeps_the_quality_pages_working(harness):
    crashes = Crashes(harness, 63)
    for release in ("shop@1.²", "shop@1.2", "shop@1.10"):
        event = {"event_id": secrets.token_hex(16), "message": "boom", "release": release}
        assert harness.http.post(f"/ingest/sentry/api/63/store/?sentry_key={crashes.key}", json=event).status_code == 200
    items = crashes.page().get_json()["items"]
    assert items[0]["versions"] == ["1.²", "1.2", "1.10"]
    summary = harness.get(f"/api/v1/workspaces/{crashes.ws}/quality/summary?miniprogram_id={crashes.miniprogram_id}", "ada")
    assert summary.status_code == 200, summary.get_data(as_text=True)
    assert [row["version"] for row in summary.get_json()["by_version"]] == ["1.10", "1.2", "1.²"]
    resolved = harness.call("PATCH", f"/api/v1/workspaces/{crashes.ws}/quality/issues/{items[0]['id']}", "ada", json={"status": "resolved"})
    assert resolved.status_code == 200, resolved.get_data(as_text=True)


def _envelope(*items: tuple[dict, object]) -> bytes:
    return b"{}\n" + b"".join(json.dumps(header).encode() + b"\n" + json.dumps(payload).encode() + b"\n" for header, payload in items)


def test_an_envelope_over_sentrys_limits_is_refused_at_once_and_nothing_of_it_kept(harness):
    crashes = Crashes(harness, 64)
    url = f"/ingest/sentry/api/64/envelope/?sentry_key={crashes.key}"
    events = [({"type": "event"}, {"event_id": f"{number:032x}", "message": f"crash {number}"}) for number in range(5000)]
    started = time.monotonic()
    refused = harness.http.post(url, data=_envelope(*events))
    assert refused.status_code == 413 and refused.content_type == "application/problem+json"
    assert "at most 1 event item" in refused.get_json()["detail"]
    assert time.monotonic() - started < 2
    sessions = [({"type": "session"}, {"sid": f"s{number}", "status": "ok"}) for number in range(101)]
    assert harness.http.post(url, data=_envelope(*sessions)).status_code == 413
    assert crashes.titles() == []
    # One event with its 100 attachments and 100 sessions is what an SDK may send.
    attachments = [({"type": "attachment", "length": 5, "filename": "log.txt"}, "abc")] * 100
    accepted = harness.http.post(url, data=_envelope(events[0], *sessions[:100], *attachments))
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    assert crashes.titles() == ["crash 0"]


def test_the_stored_event_is_cut_and_the_issue_list_never_loads_stored_events(harness):
    crashes = Crashes(harness, 65)
    frames = [{"function": f"f{number}", "module": "app", "in_app": True} for number in range(1000)]
    for number in range(3):
        event = {
            "event_id": secrets.token_hex(16),
            "exception": {"values": [{"type": f"Error{number}", "value": "v", "stacktrace": {"frames": frames}}]},
            "extra": {"rows": [{}] * 1_000_000},
            "breadcrumbs": [{"message": "m" * 10_000}] * 200,
        }
        body = gzip.compress(json.dumps(event).encode())
        answer = harness.http.post(
            f"/ingest/sentry/api/65/store/?sentry_key={crashes.key}", data=body, headers={"Content-Encoding": "gzip"}
        )
        assert answer.status_code == 200, answer.get_data(as_text=True)

    statements = []
    listen = lambda _conn, _cursor, statement, *_args: statements.append(statement)  # noqa: E731
    sqlalchemy.event.listen(harness.engine, "before_cursor_execute", listen)
    try:
        listed = crashes.page(limit=200)
    finally:
        sqlalchemy.event.remove(harness.engine, "before_cursor_execute", listen)
    assert listed.status_code == 200 and len(listed.get_json()["items"]) == 3
    assert "latest_event" not in listed.get_json()["items"][0]
    assert statements and not [statement for statement in statements if "latest_event" in statement]

    detail = harness.get(f"/api/v1/workspaces/{crashes.ws}/quality/issues/{listed.get_json()['items'][0]['id']}", "ada").get_json()
    stored = detail["latest_event"]
    assert len(stored["extra"]["rows"]) == 50
    assert [frame["function"] for frame in stored["exception"]["values"][0]["stacktrace"]["frames"]][::249] == ["f750", "f999"]
    assert len(stored["breadcrumbs"]["values"]) <= 100 and len(json.dumps(stored)) < 1_500_000


_DEEP = b"[" * 200_000 + b"]" * 200_000
_EVENT_HEADER = b'{"type":"event"}\n'


@pytest.mark.parametrize(
    ("body", "status", "title"),
    [
        (_DEEP + b"\n" + _EVENT_HEADER + b'{"message":"m"}\n', 400, None),
        (b'{}\n{"type":' + _DEEP + b"}\n{}\n", 400, None),
        (b'{}\n{"type":[]}\n{}\n', 400, None),
        (b'{}\n{"type":"event"}\n{"message":"\\ud800"}\n', 400, None),
        (b'{}\n{"type":"session"}\n{"sid":"\\udfff","status":"ok"}\n', 400, None),
        (b'{}\n{"type":"event"}\n{"message":"m","extra":{"x":NaN}}\n', 400, None),
        (b'{}\n{"type":"event"}\n{"message":"five","exception":5}\n', 200, "five"),
        (b'{}\n{"type":"event"}\n{"message":"values","exception":{"values":5}}\n', 200, "values"),
        (b'{}\n{"type":"event"}\n{"exception":{"values":[{"type":"E","value":"st","stacktrace":[1]}]}}\n', 200, "E: st"),
        (b'{}\n{"type":"event"}\n{"exception":{"values":[{"type":"E","value":"fr","stacktrace":{"frames":7}}]}}\n', 200, "E: fr"),
        (b'{}\n{"type":"event"}\n{"logentry":"str","stacktrace":[1]}\n', 200, "str"),
        (b'{}\n{"type":"event"}\n{"message":"old","timestamp":"0001-01-01T00:00:00+01:00"}\n', 200, "old"),
        (b'{}\n{"type":"session"}\n{"sid":"s1","status":"ok","started":"0001-01-01T00:00:00+01:00"}\n', 200, None),
    ],
    ids=[
        "deep envelope header",
        "deep item header",
        "item type a list",
        "lone surrogate in an event",
        "lone surrogate in a session",
        "NaN",
        "exception: 5",
        "exception.values: 5",
        "stacktrace: [1]",
        "frames: 7",
        "logentry: str",
        "timestamp in year 0 in UTC",
        "session started in year 0 in UTC",
    ],
)
def test_malformed_sentry_payloads_are_refused_or_have_the_bad_part_dropped_never_a_500(harness, body, status, title):
    crashes = Crashes(harness, 66)
    answer = harness.http.post(f"/ingest/sentry/api/66/envelope/?sentry_key={crashes.key}", data=body)
    assert answer.status_code == status, answer.get_data(as_text=True)
    if status >= 400:
        assert answer.content_type == "application/problem+json"
    assert crashes.titles() == ([title] if title else [])
    summary = harness.get(f"/api/v1/workspaces/{crashes.ws}/quality/summary?miniprogram_id={crashes.miniprogram_id}", "ada")
    assert summary.status_code == 200


def _post_envelope(harness, key, telemetry_id, items):
    answer = harness.http.post(f"/ingest/sentry/api/{telemetry_id}/envelope/?sentry_key={key}", data=_envelope(*items))
    assert answer.status_code == 200, answer.get_data(as_text=True)


def _health(summary):
    return (summary["sessions"], summary["crashed_sessions"], summary["crash_free_sessions"]), (
        summary["users"],
        summary["crashed_users"],
        summary["crash_free_users"],
    )


@pytest.mark.each_store
def test_sessions_that_the_javascript_sdks_end_unhandled_are_crashed(harness):
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 43)
    key = harness.app_key(ws)
    started = _now().isoformat().replace("+00:00", "Z")
    release = {"release": "shop@3.0.0"}
    _post_envelope(
        harness,
        key,
        43,
        [
            ({"type": "session"}, {"sid": "a", "did": "u1", "init": True, "started": started, "status": "ok", "attrs": release}),
            # an uncaught error ends a browser's session as `unhandled`; a later `ok` does not undo it
            ({"type": "session"}, {"sid": "a", "did": "u1", "started": started, "status": "unhandled", "errors": 1, "attrs": release}),
            ({"type": "session"}, {"sid": "a", "did": "u1", "started": started, "status": "ok", "attrs": release}),
            ({"type": "session"}, {"sid": "b", "did": "u2", "started": started, "status": "exited", "attrs": release}),
            (
                {"type": "sessions"},
                {"aggregates": [{"started": started, "exited": 3, "errored": 1, "abnormal": 1, "unhandled": 1}], "attrs": release},
            ),
        ],
    )
    harness.fold()
    summary = harness.get(f"/api/v1/workspaces/{ws}/quality/summary?miniprogram_id={mp}", "ada").get_json()
    # a, b and 6 pre-counted: a, one abnormal and one unhandled of 8 crashed; u1 of 2 users.
    assert _health(summary) == ((8, 3, 0.625), (2, 1, 0.5))


@pytest.mark.each_store
def test_crash_free_figures_count_the_sessions_sent_to_ingest(harness):
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 44)
    key = harness.app_key(ws)
    now = _now()
    yesterday = now - timedelta(days=1)

    def launch(number, user, session_id, at=now, version="1.0.0"):
        return _event(mp, number, user, kind="app_launch", at=at, session_id=session_id, version=version, duration_ms=500)

    def error(number, user, session_id, at=now, version="1.0.0"):
        return _event(mp, number, user, kind="js_error", at=at, session_id=session_id, version=version)

    assert (
        _send(
            harness,
            key,
            [
                launch(1, "anna", "a1", at=yesterday),
                error(2, "anna", "a1", at=yesterday),
                error(3, "anna", "a1", at=yesterday),  # two errors, one crashed session
                launch(4, "ben", "b1", at=yesterday),
                launch(5, "ben", "b1", at=yesterday),  # launched twice, one session
                launch(6, "cleo", "c1"),
                _event(mp, 7, "cleo", page="home", session_id="c2"),  # never launched: no session of release health
                error(8, "cleo", "c2"),
            ],
        ).status_code
        == 202
    )
    harness.fold()
    # anna's second crash: its error folded before its launch, each in a batch of its own
    assert _send(harness, key, [error(9, "anna", "a2", version="1.1.0")]).status_code == 202
    harness.fold()
    assert _send(harness, key, [launch(10, "anna", "a2", version="1.1.0"), launch(11, "dave", "d1", version="1.1.0")]).status_code == 202
    harness.fold()
    assert _send(harness, key, [error(12, "anna", "a2", version="1.1.0")]).status_code == 202
    harness.fold()

    path = f"/api/v1/workspaces/{ws}/quality/summary?miniprogram_id={mp}&from={yesterday.date()}&to={now.date()}"
    summary = harness.get(path, "ada").get_json()
    # Five sessions of four users; anna's two crashed.
    assert _health(summary) == ((5, 2, 0.6), (4, 1, 0.75))
    assert summary["js_errors"] == 5
    assert [(row["version"], *_health(row)) for row in summary["by_version"]] == [
        ("1.1.0", (2, 1, 0.5), (2, 1, 0.5)),
        ("1.0.0", (3, 1, round(2 / 3, 4)), (3, 1, round(2 / 3, 4))),
    ]
    # Per day, each day of the range: yesterday's anna and ben, today's cleo, anna again and dave.
    assert [(row["date"], *_health(row)) for row in summary["by_day"]] == [
        (yesterday.date().isoformat(), (2, 1, 0.5), (2, 1, 0.5)),
        (now.date().isoformat(), (3, 1, round(2 / 3, 4)), (3, 1, round(2 / 3, 4))),
    ]
    assert _health(harness.get(f"{path}&version=1.1.0", "ada").get_json()) == ((2, 1, 0.5), (2, 1, 0.5))
    assert _health(harness.get(f"{path}&app_id=app1", "ada").get_json()) == _health(summary)
    assert _health(harness.get(f"{path}&app_id=another", "ada").get_json()) == ((0, 0, None), (0, 0, None))
    today = harness.get(f"/api/v1/workspaces/{ws}/quality/summary?miniprogram_id={mp}&from={now.date()}&to={now.date()}", "ada")
    assert _health(today.get_json()) == ((3, 1, round(2 / 3, 4)), (3, 1, round(2 / 3, 4)))

    # A Sentry session of a user ingest knows is that same user: anna crashed, once.
    started = now.isoformat().replace("+00:00", "Z")
    crash = {"sid": "s1", "did": "anna", "started": started, "status": "crashed", "attrs": {"release": "shop@1.1.0"}}
    _post_envelope(harness, key, 44, [({"type": "session"}, crash)])
    harness.fold()
    assert _health(harness.get(path, "ada").get_json()) == ((6, 3, 0.5), (4, 1, 0.75))


def _page_views_and_users(harness, ws, mp):
    harness.fold()
    today = _now().date().isoformat()
    overview = harness.get(f"/api/v1/workspaces/{ws}/analytics/overview?miniprogram_id={mp}&from={today}&to={today}", "ada").get_json()
    return overview["totals"]["page_views"], overview["totals"]["active_users"]


@pytest.mark.each_store
def test_times_past_what_a_time_can_hold_are_refused_by_index_or_as_the_batchs_sent_at(harness):
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 45)
    key = harness.app_key(ws)
    device_now = _now() - timedelta(days=2)  # the device's clock is behind: its skew moves every time later
    events = [
        _event(mp, 1, "u1", page="home", at=device_now),
        _event(mp, 2, "u1", page="home") | {"timestamp": "9999-12-31T23:59:59Z"},
        _event(mp, 3, "u1", page="home") | {"timestamp": "0001-01-01T00:00:00+01:00"},
        _event(mp, 4, "u1", page="home") | {"timestamp": "9999-12-31T23:59:59-01:00"},
        _event(mp, 5, "u1", page="home") | {"timestamp": "10000-01-01T00:00:00Z"},
        _event(mp, 6, "u1", page="home") | {"timestamp": 1e20},
        _event(mp, 7, "u2", page="home", at=device_now),
    ]
    answer = _send(harness, key, events, sent_at=device_now)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    assert answer.get_json()["accepted"] == 2
    assert [item["index"] for item in answer.get_json()["rejected"]] == [1, 2, 3, 4, 5]
    assert _page_views_and_users(harness, ws, mp) == (2, 2)

    for sent_at in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "-9999-01-01T00:00:00Z", 1e20, -1e20):
        body = json.dumps({"sent_at": sent_at, "events": [_event(mp, 8, "u1", page="home")]})
        refused = harness.http.post("/ingest/v1/events", data=body, headers={"X-MPDP-Key": key}, content_type="application/json")
        assert refused.status_code == 422, (sent_at, refused.get_data(as_text=True))
        assert refused.get_json()["errors"] == {"sent_at": ["Not an RFC 3339 time with a zone."]}


@pytest.mark.each_store
def test_lone_surrogates_are_refused_by_index_or_as_the_batchs_sent_at(harness):
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 46)
    key = harness.app_key(ws)
    events = [
        _event(mp, 1, "u1", page="home"),
        _event(mp, 2, "u1", kind="custom", name="buy\ud800"),
        _event(mp, 3, "u1", kind="custom", name="buy", properties={"colour": "\udfff"}),
        _event(mp, 4, "u1", kind="custom", name="buy", properties={"\ud800": 1}),
        _event(mp, 5, "u1", page="\ud800"),
        _event(mp, 6, "\ud800", page="home"),
        _event(mp, 7, "u1", page="home", version="1.0\ud800"),
        _event(mp, 8, "u1", page="home") | {"miniprogram_id": "\ud800"},
        _event(mp, 9, "u2", kind="custom", name="buy", properties={"colour": "red"}),
    ]
    answer = _send(harness, key, events)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    assert answer.get_json()["accepted"] == 2
    assert [item["index"] for item in answer.get_json()["rejected"]] == list(range(1, 8))
    assert _page_views_and_users(harness, ws, mp) == (1, 2)
    tracked = harness.get(f"/api/v1/workspaces/{ws}/analytics/events?miniprogram_id={mp}", "ada").get_json()
    assert tracked["items"] == [{"name": "buy", "count": 1, "users": 1}]

    body = json.dumps({"sent_at": "2026-01-01T00:00:00Z\ud800", "events": [_event(mp, 10, "u1", page="home")]})
    refused = harness.http.post("/ingest/v1/events", data=body, headers={"X-MPDP-Key": key}, content_type="application/json")
    assert refused.status_code == 422 and refused.get_json()["errors"] == {"sent_at": ["Not an RFC 3339 time with a zone."]}


def test_launch_times_are_kept_to_two_significant_digits_within_five_percent():
    from mpdp_telemetry.rollups import band

    assert [band(ms) for ms in (0, 87, 99, 100, 104, 105, 1234, 1250, 2000, 99_999)] == [
        0,
        87,
        99,
        100,
        100,
        110,
        1200,
        1300,
        2000,
        100_000,
    ]
    assert all(abs(band(ms) - ms) <= ms * 0.05 for ms in range(1, 200_000))
