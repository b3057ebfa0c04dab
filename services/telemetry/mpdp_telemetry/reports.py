"""What the console reads, computed from the rollups only: a report costs a few indexed reads
of one row per day (per host app and version), whatever the number of raw events behind it.

This module is the query interface of analytics. Where `MPDP_TELEMETRY_STORE` names ClickHouse
(store.py), each report is answered there from the raw events instead (clickhouse.py), with the
same arguments and the same figures; the callers do not change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from mpdp_common.db import on_postgresql, utcnow

from . import bulk, store
from .models import ALL, DailyCount, StartupTime, UserSet
from .rollups import as_int
from .shapes import RETENTION_DAYS, average, days


def _where(
    model: type[DailyCount | StartupTime | UserSet], miniprogram_id: str, start: date, end: date, app_id: str | None, version: str | None
) -> list[ColumnElement[bool]]:
    conditions = [model.miniprogram_id == miniprogram_id, model.day >= start, model.day <= end]
    if app_id:
        conditions.append(model.app_id == app_id)
    if version:
        conditions.append(model.version == version)
    return conditions


def counts(
    session: Session, miniprogram_id: str, start: date, end: date, app_id: str | None, version: str | None, metrics: Sequence[str]
) -> dict[tuple, int]:
    """Summed figures by (day, metric, key)."""
    rows = session.execute(
        select(DailyCount.day, DailyCount.metric, DailyCount.key, func.sum(DailyCount.value))
        .where(*_where(DailyCount, miniprogram_id, start, end, app_id, version), DailyCount.metric.in_(metrics))
        .group_by(DailyCount.day, DailyCount.metric, DailyCount.key)
    )
    return {(day, metric, key): int(value) for day, metric, key, value in rows}


def user_sets(
    session: Session, miniprogram_id: str, start: date, end: date, app_id: str | None, version: str | None, kind: str
) -> dict[tuple, int]:
    """The users behind `kind` by (day, key), as integers whose bits are the users' numbers."""
    conditions = [UserSet.miniprogram_id == miniprogram_id, UserSet.day >= start, UserSet.day <= end, UserSet.kind == kind]
    if app_id or version:
        # The sets of each host app and version, united below; the rows for all of them are left out.
        conditions.append(UserSet.app_id == app_id if app_id else UserSet.app_id != ALL)
        conditions.append(UserSet.version == version if version else UserSet.version != ALL)
    else:
        conditions += [UserSet.app_id == ALL, UserSet.version == ALL]
    found: dict[tuple, int] = defaultdict(int)
    for day, key, bits in _binary_rows(session, select(UserSet.day, UserSet.key, UserSet.bits).where(*conditions)):
        found[(day, key)] |= as_int(bits)
    return found


def _binary_rows(session: Session, stmt: Select[Any]) -> list[tuple]:
    """The rows of `stmt`, fetched from PostgreSQL in binary: bitmaps arrive as bytes, not as hex text twice their size."""
    connection = session.connection()
    if not on_postgresql(connection):
        return [tuple(row) for row in connection.execute(stmt)]
    compiled = stmt.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    with bulk.driver_cursor(connection, binary=True) as cursor:
        cursor.execute(str(compiled), compiled.params)
        return cursor.fetchall()


def overview(session: Session, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None) -> dict:
    if (clickhouse := store.clickhouse()) is not None:
        return clickhouse.overview(miniprogram_id, start, end, app_id, version)
    figures = counts(session, miniprogram_id, start, end, app_id, version, ["sessions", "page_views", "session_ends", "session_time"])
    per_day: dict[tuple, int] = defaultdict(int)
    for (day, metric, _key), value in figures.items():
        per_day[(day, metric)] += value
    active = user_sets(session, miniprogram_id, start, end, app_id, version, "active")
    new = user_sets(session, miniprogram_id, start, end, None, None, "new")
    series, everyone = [], 0
    total: dict[str, int] = defaultdict(int)
    for day in days(start, end):
        seen = active.get((day, ALL), 0)
        # New users under a filter: new to the mini program that day, and seen where the filter looks.
        newcomers = new.get((day, ALL), 0) & seen
        everyone |= seen
        row: dict = {
            "date": day,
            "active_users": seen.bit_count(),
            "new_users": newcomers.bit_count(),
            "sessions": per_day[(day, "sessions")],
            "page_views": per_day[(day, "page_views")],
            "avg_session_duration_ms": average(per_day[(day, "session_time")], per_day[(day, "session_ends")]),
        }
        series.append(row)
        for metric in ("new_users", "sessions", "page_views"):
            total[metric] += row[metric]
        total["session_time"] += per_day[(day, "session_time")]
        total["session_ends"] += per_day[(day, "session_ends")]
    totals = {
        "active_users": everyone.bit_count(),
        "new_users": total["new_users"],
        "sessions": total["sessions"],
        "page_views": total["page_views"],
        "avg_session_duration_ms": average(total["session_time"], total["session_ends"]),
    }
    return {"series": series, "totals": totals}


def pages(
    session: Session, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None
) -> list[dict]:
    """Every page seen in the range, most viewed first."""
    if (clickhouse := store.clickhouse()) is not None:
        return clickhouse.pages(miniprogram_id, start, end, app_id, version)
    figures = counts(session, miniprogram_id, start, end, app_id, version, ["page_views", "page_time", "page_timed"])
    by_page: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (_day, metric, page), value in figures.items():
        by_page[page][metric] += value
    visitors: dict[str, int] = defaultdict(int)
    for (_day, page), bits in user_sets(session, miniprogram_id, start, end, app_id, version, "page").items():
        visitors[page] |= bits
    items = [
        {
            "page": page,
            "views": figure["page_views"],
            "visitors": visitors[page].bit_count(),
            "avg_duration_ms": average(figure["page_time"], figure["page_timed"]),
        }
        for page, figure in by_page.items()
    ]
    return sorted(items, key=lambda item: (-item["views"], item["page"]))


def retention(
    session: Session, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None
) -> list[dict]:
    """For each day's new users (the cohort), how many were seen again 0 to 7 days later."""
    if (clickhouse := store.clickhouse()) is not None:
        return clickhouse.retention(miniprogram_id, start, end, app_id, version)
    today = utcnow().date()
    active = user_sets(session, miniprogram_id, start, end + timedelta(days=RETENTION_DAYS - 1), app_id, version, "active")
    new = user_sets(session, miniprogram_id, start, end, None, None, "new")
    cohorts = []
    for day in days(start, end):
        cohort = new.get((day, ALL), 0)
        if app_id or version:
            cohort &= active.get((day, ALL), 0)
        retained = []
        for offset in range(RETENTION_DAYS):
            later = day + timedelta(days=offset)
            retained.append(None if later > today else (cohort & active.get((later, ALL), 0)).bit_count())
        cohorts.append({"cohort_date": day, "users": cohort.bit_count(), "retained": retained})
    return cohorts


def tracked_events(
    session: Session, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None
) -> list[dict]:
    if (clickhouse := store.clickhouse()) is not None:
        return clickhouse.tracked_events(miniprogram_id, start, end, app_id, version)
    figures = counts(session, miniprogram_id, start, end, app_id, version, ["events"])
    totals: dict[str, int] = defaultdict(int)
    for (_day, _metric, name), value in figures.items():
        totals[name] += value
    users: dict[str, int] = defaultdict(int)
    for (_day, name), bits in user_sets(session, miniprogram_id, start, end, app_id, version, "event").items():
        users[name] |= bits
    items = [{"name": name, "count": count, "users": users[name].bit_count()} for name, count in totals.items()]
    return sorted(items, key=lambda item: (-item["count"], item["name"]))


def tracked_event(
    session: Session, miniprogram_id: str, name: str, start: date, end: date, app_id: str | None = None, version: str | None = None
) -> dict:
    if (clickhouse := store.clickhouse()) is not None:
        return clickhouse.tracked_event(miniprogram_id, name, start, end, app_id, version)
    figures = counts(session, miniprogram_id, start, end, app_id, version, ["events"])
    sets = user_sets(session, miniprogram_id, start, end, app_id, version, "event")
    series: list[dict] = []
    everyone = 0
    for day in days(start, end):
        bits = sets.get((day, name), 0)
        everyone |= bits
        series.append({"date": day, "count": figures.get((day, "events", name), 0), "users": bits.bit_count()})
    summary = {"name": name, "count": sum(row["count"] for row in series), "users": everyone.bit_count()}
    return {"items": [summary], "next_cursor": None, "series": series}


def percentiles(histogram: dict[int, int]) -> dict:
    """Nearest-rank p50, p90 and p99 of launch times kept as (duration -> launches)."""
    launches = sum(histogram.values())
    found: dict[str, int | None] = {"launches": launches, "p50": None, "p90": None, "p99": None}
    if not launches:
        return found
    ranks = {name: -(-launches * share // 100) for name, share in (("p50", 50), ("p90", 90), ("p99", 99))}
    seen = 0
    for duration in sorted(histogram):
        seen += histogram[duration]
        for name, rank in ranks.items():
            if found[name] is None and seen >= rank:
                found[name] = duration
    return found


def startup(session: Session, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None) -> dict:
    rows: Iterable[Sequence[Any]]
    if (clickhouse := store.clickhouse()) is not None:
        rows = clickhouse.startup_times(miniprogram_id, start, end, app_id, version, by_day_and_version=True)
    else:
        rows = session.execute(
            select(StartupTime.day, StartupTime.version, StartupTime.duration_ms, func.sum(StartupTime.count))
            .where(*_where(StartupTime, miniprogram_id, start, end, app_id, version))
            .group_by(StartupTime.day, StartupTime.version, StartupTime.duration_ms)
        )
    overall: dict[int, int] = defaultdict(int)
    by_day: dict[date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    by_version: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for day, row_version, duration, count in rows:
        overall[duration] += int(count)
        by_day[day][duration] += int(count)
        by_version[row_version][duration] += int(count)
    return {
        "overall": percentiles(overall),
        "by_day": [{"date": day} | percentiles(by_day.get(day, {})) for day in days(start, end)],
        "by_version": [{"version": name} | percentiles(histogram) for name, histogram in sorted(by_version.items())],
    }


def startup_percentiles(
    session: Session, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None
) -> dict:
    """Launch time percentiles over the whole range alone: the database adds the days up, so one
    row per distinct duration comes back."""
    rows: Iterable[Sequence[Any]]
    if (clickhouse := store.clickhouse()) is not None:
        rows = clickhouse.startup_times(miniprogram_id, start, end, app_id, version, by_day_and_version=False)
    else:
        rows = session.execute(
            select(StartupTime.duration_ms, func.sum(StartupTime.count))
            .where(*_where(StartupTime, miniprogram_id, start, end, app_id, version))
            .group_by(StartupTime.duration_ms)
        )
    return percentiles({duration: int(count) for duration, count in rows})


def launched_sessions(
    session: Session, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None
) -> dict[tuple[date, str], list]:
    """Release health from the folded sessions per day and version: `[sessions, crashed sessions,
    users, crashed users]`, the users as bitmaps."""
    if (clickhouse := store.clickhouse()) is not None:
        return clickhouse.launched_sessions(miniprogram_id, start, end, app_id, version)
    found: dict[tuple[date, str], list] = defaultdict(lambda: [0, 0, 0, 0])
    figures = select(DailyCount.day, DailyCount.version, DailyCount.metric, func.sum(DailyCount.value)).where(
        *_where(DailyCount, miniprogram_id, start, end, app_id, version), DailyCount.metric.in_(("launched", "crashed"))
    )
    for day, name, metric, value in session.execute(figures.group_by(DailyCount.day, DailyCount.version, DailyCount.metric)):
        found[(day, name)][0 if metric == "launched" else 1] += int(value)
    # Kept per host app and version only: these figures are always wanted per version.
    sets = select(UserSet.day, UserSet.version, UserSet.kind, UserSet.bits).where(
        *_where(UserSet, miniprogram_id, start, end, app_id, version), UserSet.kind.in_(("launched", "crashed"))
    )
    for day, name, kind, bits in _binary_rows(session, sets):
        found[(day, name)][2 if kind == "launched" else 3] |= as_int(bits)
    return found


def js_errors(session: Session, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None) -> int:
    if (clickhouse := store.clickhouse()) is not None:
        return clickhouse.js_errors(miniprogram_id, start, end, app_id, version)
    return sum(counts(session, miniprogram_id, start, end, app_id, version, ["js_errors"]).values())
