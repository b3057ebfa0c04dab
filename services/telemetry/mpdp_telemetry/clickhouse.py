"""Raw events and the analytics read from them, in ClickHouse (a server by `clickhouse://`, or
chDB, its engine inside the process, by `chdb:`), through clickhouse-connect.

Two tables:

- `raw_events`: every accepted event, a ReplacingMergeTree partitioned by day and ordered by
  (mini program, day, type, event id). A batch a phone sent twice lands twice and is one row
  again (the copy received first) once its parts merge; until then the reports that add up rows
  read `FINAL`, and those that count distinct users or sessions need not. Whole days
  are dropped by TTL after `MPDP_TELEMETRY_RETENTION_DAYS`, as PostgreSQL drops its partitions.
- `user_first_days`: each user's first day, kept by a materialized view as `min(day)` in an
  AggregatingMergeTree without TTL, so that a user stays "not new" after their raw days expire,
  as `user_numbers.first_day` does on PostgreSQL.

Every other figure is a query over the raw events of the range (`uniqExact` for distinct
users), not a rollup kept up to date: at 10 million events the reports answer in tens of
milliseconds to a few hundred (docs/telemetry.md has the figures), and there is no folder to run.

The figures are those of rollups.py, rule by rule: a session is counted on each day it sends
events, for the host app and version it showed first (the earliest received); a session of
release health on its first launch (or first Sentry update), crashed when any js_error names it
(or any update's status is a crash), and its user is that launch's (or the first update's that
names one).
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ProgrammingError

from mpdp_common.db import utcnow

from .session_status import CRASHED, SESSION, SEVERITY
from .shapes import COLUMNS, RETENTION_DAYS, RawEvent, average, days

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: the severity a crashed status has at least
_CRASH = min(SEVERITY[status] for status in CRASHED)


def _client(address: str) -> tuple[Client, str, bool]:
    """A client for `address`, the database it names, and whether it is chDB (one engine per process)."""
    parts = urlsplit(address)
    database = parts.path.strip("/").split("/")[-1] if parts.scheme != "chdb" or parts.netloc == "memory" else ""
    if parts.scheme == "chdb":
        if parts.netloc == "memory":
            return clickhouse_connect.get_client(dsn="chdb://memory"), database or "mpdp_telemetry", True
        # chdb:///path/to/dir: the engine's files in that directory, the tables in its database
        try:
            return clickhouse_connect.get_client(dsn=f"chdb://{parts.path}"), "mpdp_telemetry", True
        except ProgrammingError as error:
            raise SystemExit(
                f"configuration error: chDB cannot open {parts.path} ({error}); its files belong to one process at a time: "
                "where telemetry runs as several processes, MPDP_TELEMETRY_STORE names a ClickHouse server (clickhouse://...)"
            ) from error
    client = clickhouse_connect.get_client(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 8123,
        username=unquote(parts.username or "default"),
        password=unquote(parts.password or ""),
        # one client, many threads: no server session, whose queries may not overlap
        autogenerate_session_id=False,
    )
    return client, database or "mpdp_telemetry", False


def schema(database: str, retention_days: int) -> list[str]:
    return [
        f"CREATE DATABASE IF NOT EXISTS {database}",
        f"""CREATE TABLE IF NOT EXISTS {database}.raw_events (
            day Date,
            miniprogram_id LowCardinality(String),
            event_id String,
            occurred_at DateTime64(3, 'UTC'),
            received_at DateTime64(3, 'UTC'),
            app_id LowCardinality(String),
            type LowCardinality(String),
            version LowCardinality(String),
            user_id String,
            session_id String,
            page LowCardinality(Nullable(String)),
            duration_ms Nullable(Int64),
            name LowCardinality(Nullable(String)),
            properties Nullable(String),
            -- the copy received first is the one kept, as PostgreSQL's ON CONFLICT DO NOTHING keeps it
            kept UInt64 MATERIALIZED 18446744073709551615 - toUInt64(toUnixTimestamp64Milli(received_at))
        ) ENGINE = ReplacingMergeTree(kept)
        PARTITION BY day
        ORDER BY (miniprogram_id, day, type, event_id)
        TTL day + INTERVAL {retention_days} DAY
        SETTINGS ttl_only_drop_parts = 1""",
        f"""CREATE TABLE IF NOT EXISTS {database}.user_first_days (
            miniprogram_id LowCardinality(String),
            user_id String,
            first_day SimpleAggregateFunction(min, Date)
        ) ENGINE = AggregatingMergeTree
        ORDER BY (miniprogram_id, user_id)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.user_first_days_mv TO {database}.user_first_days AS
        SELECT miniprogram_id, user_id, min(day) AS first_day FROM {database}.raw_events
        WHERE type != '{SESSION}' GROUP BY miniprogram_id, user_id""",
    ]


class ClickHouseStore:
    """The reports of `reports` (same arguments but the session, same answers) and the raw write."""

    def __init__(self, address: str, retention_days: int):
        self.client, self.database, self.embedded = _client(address)
        if not _NAME.match(self.database):
            raise SystemExit(f"configuration error: MPDP_TELEMETRY_STORE names the database {self.database!r}, not a plain name")
        # chDB is one engine for the whole process: its queries are taken one at a time
        self._lock: threading.Lock | None = threading.Lock() if self.embedded else None
        for statement in schema(self.database, retention_days):
            self._command(statement)
        self._keep_retention(retention_days)

    # -- plumbing ---------------------------------------------------------------------------------

    @contextmanager
    def _serialized(self) -> Iterator[None]:
        if self._lock is None:
            yield
            return
        with self._lock:
            yield

    def _command(self, statement: str) -> None:
        with self._serialized():
            self.client.command(statement)

    def _rows(self, sql: str, parameters: dict[str, Any]) -> Sequence[Sequence[Any]]:
        with self._serialized():
            return self.client.query(sql.replace("{db}", self.database), parameters=parameters).result_rows

    def _keep_retention(self, retention_days: int) -> None:
        """A changed MPDP_TELEMETRY_RETENTION_DAYS moves the TTL of the table made before."""
        created = self._rows(
            "SELECT create_table_query FROM system.tables WHERE database = {d:String} AND name = 'raw_events'", {"d": self.database}
        )
        if created and f"toIntervalDay({retention_days})" not in created[0][0]:
            self._command(f"ALTER TABLE {self.database}.raw_events MODIFY TTL day + INTERVAL {retention_days} DAY")

    def write(self, rows: list[RawEvent]) -> None:
        if not rows:
            return
        with self._serialized():
            self.client.insert(f"{self.database}.raw_events", rows, column_names=list(COLUMNS))

    def optimize(self) -> None:
        """Merge every part now (duplicates gone): what the server does in the background."""
        self._command(f"OPTIMIZE TABLE {self.database}.raw_events FINAL")

    def drop(self) -> None:
        """Drop the store's database, its tables and all (a test's, a benchmark's)."""
        self._command(f"DROP DATABASE IF EXISTS {self.database}")

    @staticmethod
    def _where(miniprogram_id: str, start: date, end: date, app_id: str | None, version: str | None) -> tuple[str, dict[str, Any]]:
        conditions = "miniprogram_id = {mp:String} AND day BETWEEN {start:Date} AND {end:Date}"
        parameters: dict[str, Any] = {"mp": miniprogram_id, "start": start, "end": end}
        if app_id:
            conditions += " AND app_id = {app:String}"
            parameters["app"] = app_id
        if version:
            conditions += " AND version = {version:String}"
            parameters["version"] = version
        return conditions, parameters

    # -- analytics --------------------------------------------------------------------------------

    def overview(self, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None) -> dict:
        where, parameters = self._where(miniprogram_id, start, end, app_id, version)
        filtered = bool(app_id or version)
        per_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        everyone = 0
        # One pass for the days and the whole range (its row's day is the type's default, before
        # any day asked for); unfiltered, a day's sessions are its distinct sessions.
        for day, active, sessions, page_views, session_ends, session_time in self._rows(
            f"""SELECT day, uniqExact(user_id), uniqExact(session_id), countIf(type = 'page_view'), countIf(type = 'session_end'),
                sumIf(ifNull(duration_ms, 0), type = 'session_end')
            FROM {{db}}.raw_events FINAL WHERE {where} AND type != '{SESSION}' GROUP BY GROUPING SETS ((day), ())""",
            parameters,
        ):
            if day < start:
                everyone = active
                continue
            per_day[day].update(active_users=active, page_views=page_views, session_ends=session_ends, session_time=session_time)
            if not filtered:
                per_day[day]["sessions"] = sessions
        if filtered:
            # A session counts on each day it sends events, for the host app and version it showed first.
            shown = "1"
            if app_id:
                shown += " AND shown.1 = {app:String}"
            if version:
                shown += " AND shown.2 = {version:String}"
            for day, sessions in self._rows(
                f"""SELECT day, count() FROM (
                    SELECT day, session_id, argMin((app_id, version), (received_at, occurred_at)) AS shown FROM {{db}}.raw_events
                    WHERE miniprogram_id = {{mp:String}} AND day BETWEEN {{start:Date}} AND {{end:Date}} AND type != '{SESSION}'
                    GROUP BY day, session_id
                ) WHERE {shown} GROUP BY day""",
                parameters,
            ):
                per_day[day]["sessions"] = sessions
            # New users under a filter: new to the mini program that day, and seen where the filter looks.
            new_users = f"""SELECT day, uniqExact(user_id) FROM {{db}}.raw_events WHERE {where} AND type != '{SESSION}'
                AND (user_id, day) IN (SELECT user_id, first_day FROM ({_FIRSTS})) GROUP BY day"""
        else:
            # Unfiltered, a user's first day is a day they were active: the first days alone answer.
            new_users = f"SELECT first_day, count() FROM ({_FIRSTS}) GROUP BY first_day"
        for day, new in self._rows(new_users, parameters):
            per_day[day]["new_users"] = new
        series = []
        total: dict[str, int] = defaultdict(int)
        for day in days(start, end):
            figures = per_day.get(day, {})
            series.append(
                {
                    "date": day,
                    "active_users": figures.get("active_users", 0),
                    "new_users": figures.get("new_users", 0),
                    "sessions": figures.get("sessions", 0),
                    "page_views": figures.get("page_views", 0),
                    "avg_session_duration_ms": average(figures.get("session_time", 0), figures.get("session_ends", 0)),
                }
            )
            for metric in ("new_users", "sessions", "page_views", "session_time", "session_ends"):
                total[metric] += figures.get(metric, 0)
        totals = {
            "active_users": everyone,
            "new_users": total["new_users"],
            "sessions": total["sessions"],
            "page_views": total["page_views"],
            "avg_session_duration_ms": average(total["session_time"], total["session_ends"]),
        }
        return {"series": series, "totals": totals}

    def pages(self, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None) -> list[dict]:
        where, parameters = self._where(miniprogram_id, start, end, app_id, version)
        rows = self._rows(
            f"""SELECT page, count(), uniqExact(user_id), sum(ifNull(duration_ms, 0)), count(duration_ms)
            FROM {{db}}.raw_events FINAL WHERE {where} AND type = 'page_view' GROUP BY page""",
            parameters,
        )
        items = [
            {"page": page, "views": views, "visitors": visitors, "avg_duration_ms": average(time, timed)}
            for page, views, visitors, time, timed in rows
        ]
        return sorted(items, key=lambda item: (-item["views"], item["page"]))

    def retention(self, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None) -> list[dict]:
        later = end + timedelta(days=RETENTION_DAYS - 1)
        where, parameters = self._where(miniprogram_id, start, later, app_id, version)
        parameters |= {"first": start, "last": end}
        # Under a filter, a day's cohort is its new users seen there that day.
        cohort = "WHERE has(offsets, 0)" if app_id or version else ""
        firsts = _FIRSTS.replace("{start:Date}", "{first:Date}").replace("{end:Date}", "{last:Date}")
        rows = self._rows(
            f"""SELECT cohort, count(), sumForEach(arrayMap(k -> toUInt64(has(offsets, k)), range({RETENTION_DAYS}))) FROM (
                SELECT f.user_id, any(f.first_day) AS cohort, groupUniqArray(dateDiff('day', f.first_day, a.day)) AS offsets
                FROM ({firsts}) AS f
                LEFT JOIN (SELECT DISTINCT day, user_id FROM {{db}}.raw_events WHERE {where} AND type != '{SESSION}') AS a
                ON a.user_id = f.user_id
                GROUP BY f.user_id
            ) {cohort} GROUP BY cohort""",
            parameters,
        )
        found = {day: (users, retained) for day, users, retained in rows}
        now = utcnow().date()
        cohorts = []
        for day in days(start, end):
            users, retained = found.get(day, (0, [0] * RETENTION_DAYS))
            cohorts.append(
                {
                    "cohort_date": day,
                    "users": users,
                    "retained": [None if day + timedelta(days=offset) > now else retained[offset] for offset in range(RETENTION_DAYS)],
                }
            )
        return cohorts

    def tracked_events(
        self, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None
    ) -> list[dict]:
        where, parameters = self._where(miniprogram_id, start, end, app_id, version)
        rows = self._rows(
            f"SELECT name, count(), uniqExact(user_id) FROM {{db}}.raw_events FINAL WHERE {where} AND type = 'custom' GROUP BY name",
            parameters,
        )
        items = [{"name": name, "count": count, "users": users} for name, count, users in rows]
        return sorted(items, key=lambda item: (-item["count"], item["name"]))

    def tracked_event(
        self, miniprogram_id: str, name: str, start: date, end: date, app_id: str | None = None, version: str | None = None
    ) -> dict:
        where, parameters = self._where(miniprogram_id, start, end, app_id, version)
        where += " AND type = 'custom' AND name = {name:String}"
        parameters["name"] = name
        per_day = {
            day: (count, users)
            for day, count, users in self._rows(
                f"SELECT day, count(), uniqExact(user_id) FROM {{db}}.raw_events FINAL WHERE {where} GROUP BY day", parameters
            )
        }
        ((everyone,),) = self._rows(f"SELECT uniqExact(user_id) FROM {{db}}.raw_events WHERE {where}", parameters)
        series = [{"date": day, "count": per_day.get(day, (0, 0))[0], "users": per_day.get(day, (0, 0))[1]} for day in days(start, end)]
        summary = {"name": name, "count": sum(row["count"] for row in series), "users": everyone}
        return {"items": [summary], "next_cursor": None, "series": series}

    # -- quality ----------------------------------------------------------------------------------

    def startup_times(
        self, miniprogram_id: str, start: date, end: date, app_id: str | None, version: str | None, *, by_day_and_version: bool
    ) -> list[tuple]:
        """(day, version, duration, launches) or (duration, launches), the durations banded as rollups.band does."""
        where, parameters = self._where(miniprogram_id, start, end, app_id, version)
        keys = "day, version, " if by_day_and_version else ""
        return [
            tuple(row)
            for row in self._rows(
                f"""SELECT {keys}banded, count() FROM (
                    SELECT day, version, if(duration_ms < 100, duration_ms,
                        intDiv(duration_ms + intDiv(scale, 2), scale) * scale) AS banded
                    FROM (SELECT day, version, assumeNotNull(duration_ms) AS duration_ms,
                        toInt64(exp10(length(toString(assumeNotNull(duration_ms))) - 2)) AS scale
                        FROM {{db}}.raw_events FINAL WHERE {where} AND type = 'app_launch' AND duration_ms IS NOT NULL)
                ) GROUP BY {keys}banded""",
                parameters,
            )
        ]

    def launched_sessions(
        self, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None
    ) -> dict[tuple[date, str], list]:
        """As `reports.launched_sessions`: `[sessions, crashed sessions, users, crashed users]` per
        (day, version), the users as integers whose bits are their numbers (numbered here, per answer)."""
        parameters: dict[str, Any] = {"mp": miniprogram_id, "start": start, "end": end}
        counted = "opened.1 BETWEEN {start:Date} AND {end:Date}"
        if app_id:
            counted += " AND opened.2 = {app:String}"
            parameters["app"] = app_id
        if version:
            counted += " AND opened.3 = {version:String}"
            parameters["version"] = version
        opened = "argMin((day, app_id, version), (received_at, occurred_at))"
        severity = f"transform(ifNull(name, 'ok'), {list(SEVERITY)}, {list(SEVERITY.values())}, 0)"
        rows = self._rows(
            f"""SELECT opened.1, opened.3, count(), countIf(crashed), groupUniqArrayIf(user, user != ''),
                groupUniqArrayIf(user, crashed AND user != '') FROM (
                SELECT {opened} AS opened, argMin(user_id, (received_at, occurred_at)) AS user,
                    session_id IN (SELECT session_id FROM {{db}}.raw_events
                        WHERE miniprogram_id = {{mp:String}} AND type = 'js_error') AS crashed
                FROM {{db}}.raw_events WHERE miniprogram_id = {{mp:String}} AND day <= {{end:Date}} AND type = 'app_launch'
                GROUP BY session_id
                UNION ALL
                SELECT {opened} AS opened, argMinIf(user_id, (received_at, occurred_at), user_id != '') AS user,
                    max({severity}) >= {_CRASH} AS crashed
                FROM {{db}}.raw_events WHERE miniprogram_id = {{mp:String}} AND day <= {{end:Date}} AND type = '{SESSION}'
                GROUP BY session_id
            ) WHERE {counted} GROUP BY opened.1, opened.3""",
            parameters,
        )
        numbers: dict[str, int] = {}

        def bits(users: list[str]) -> int:
            value = 0
            for user in users:
                value |= 1 << numbers.setdefault(user, len(numbers))
            return value

        return {
            (day, name): [sessions, crashed, bits(users), bits(crashed_users)]
            for day, name, sessions, crashed, users, crashed_users in rows
        }

    def js_errors(self, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None) -> int:
        where, parameters = self._where(miniprogram_id, start, end, app_id, version)
        ((count,),) = self._rows(f"SELECT count() FROM {{db}}.raw_events FINAL WHERE {where} AND type = 'js_error'", parameters)
        return int(count)


#: the users first seen (by ingest) on a day of the range, and that day
_FIRSTS = """SELECT user_id, min(first_day) AS first_day FROM {db}.user_first_days WHERE miniprogram_id = {mp:String}
    GROUP BY user_id HAVING first_day BETWEEN {start:Date} AND {end:Date}"""
