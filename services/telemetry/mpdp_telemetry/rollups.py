"""The folder: turns new raw events into the daily rollups the console reads.

It runs as telemetry's worker process (`mpdpctl work telemetry folder`). Each pass takes the raw rows written since the last
pass (whole transactions, in commit order), adds them to the rollups and moves its position in
one database transaction, so that a crash in the middle folds nothing twice and loses nothing.

Distinct users are kept exactly as bitmaps: each user of a mini program gets a dense number, and
every (day, host app, version[, page | event name]) has the bitmap of the users seen there. A
union of bitmaps answers "how many users" for any filter and any range of days; a count per
day would not add up across days.

Release health is folded the same way from both of its sources: ingest's sessions (an
`app_launch`, crashed when a `js_error` came with it) and Sentry's (each update of a session a
raw event of type `session`, crashed at a crashed, abnormal or unhandled status). Each session
and each crash counts once, on the day, host app and version where the session began, into the
`launched` and `crashed` counts and user sets; a Sentry `did` is numbered like an ingest user
(the same id is the same user), without a first day until ingest sees it.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from mpdp_common.db import dialect_insert, session_scope, utcnow

from . import bulk, raw_events
from .models import ALL, DailyCount, FoldPosition, LaunchedSession, MiniProgram, ReleaseSession, StartupTime, UserNumber, UserSet
from .session_status import CRASHED, SESSION, SEVERITY

log = logging.getLogger(__name__)

POSITION = "raw_events"
BATCH = 50_000
CHUNK = 5_000


# -- bitmaps --------------------------------------------------------------------------------------


def set_bits(bits: bytearray, numbers: Iterable[int]) -> None:
    for number in numbers:
        byte = number >> 3
        if byte >= len(bits):
            bits.extend(bytes(byte + 1 - len(bits)))
        bits[byte] |= 1 << (number & 7)


def clear_bit(bits: bytearray, number: int) -> None:
    if (number >> 3) < len(bits):
        bits[number >> 3] &= ~(1 << (number & 7)) & 0xFF


def as_int(bits: bytes) -> int:
    return int.from_bytes(bits, "little")


def band(duration_ms: int) -> int:
    """A launch time kept to two significant digits (1,234 ms as 1,200): percentiles move by at most
    5 %, and a version's day has a few hundred distinct times to read rather than thousands."""
    if duration_ms < 100:
        return duration_ms
    scale = 10 ** (len(str(duration_ms)) - 2)
    return (duration_ms + scale // 2) // scale * scale


# -- writing --------------------------------------------------------------------------------------


def _add_counts(session: Session, counts: dict[tuple, int]) -> None:
    if not counts:
        return
    names = ("miniprogram_id", "day", "app_id", "version", "metric", "key")
    stmt = dialect_insert(session, DailyCount)
    stmt = stmt.on_conflict_do_update(index_elements=list(names), set_={"value": DailyCount.value + stmt.excluded.value})
    rows = [dict(zip(names, key, strict=True), value=value) for key, value in counts.items()]
    for start in range(0, len(rows), CHUNK):
        session.execute(stmt, rows[start : start + CHUNK])


def _add_startup_times(session: Session, times: dict[tuple, int]) -> None:
    if not times:
        return
    names = ("miniprogram_id", "day", "app_id", "version", "duration_ms")
    stmt = dialect_insert(session, StartupTime)
    stmt = stmt.on_conflict_do_update(index_elements=list(names), set_={"count": StartupTime.count + stmt.excluded.count})
    session.execute(stmt, [dict(zip(names, key, strict=True), count=count) for key, count in times.items()])


def _apply_bits(session: Session, additions: dict[tuple, set[int]], removals: dict[tuple, set[int]]) -> None:
    """OR the new users into the stored bitmaps (and clear `removals`); the folder is the only writer."""
    keys = set(additions) | set(removals)
    if not keys:
        return
    stored: dict[tuple, bytearray] = {}
    by_miniprogram: dict[str, list[tuple]] = defaultdict(list)
    for key in keys:
        by_miniprogram[key[0]].append(key)
    for miniprogram_id, wanted in by_miniprogram.items():
        days = {key[1] for key in wanted}
        rows = session.execute(
            select(UserSet.day, UserSet.app_id, UserSet.version, UserSet.kind, UserSet.key, UserSet.bits).where(
                UserSet.miniprogram_id == miniprogram_id, UserSet.day.in_(days)
            )
        )
        for day, app_id, version, kind, key, bits in rows:
            full = (miniprogram_id, day, app_id, version, kind, key)
            if full in keys:
                stored[full] = bytearray(bits)
    names = ("miniprogram_id", "day", "app_id", "version", "kind", "key")
    upserts = []
    for key in keys:
        bits = stored.get(key, bytearray())
        set_bits(bits, additions.get(key, ()))
        for number in removals.get(key, ()):
            clear_bit(bits, number)
        upserts.append(dict(zip(names, key, strict=True), bits=bytes(bits)))
    stmt = dialect_insert(session, UserSet)
    stmt = stmt.on_conflict_do_update(index_elements=list(names), set_={"bits": stmt.excluded.bits})
    for start in range(0, len(upserts), 500):
        session.execute(stmt, upserts[start : start + 500])


def _number_users(session: Session, miniprogram_id: str, first_days: dict[str, date | None], bits: dict, unbits: dict) -> dict[str, int]:
    """Each user's number, numbering the new ones; a user now seen earlier than before moves to
    that day's new users. A first day of None (a user only a Sentry session names) is no day: such
    a user is not new anywhere until ingest sees it."""
    numbers: dict[str, int] = {}
    moved: list[dict] = []
    users = list(first_days)
    for start in range(0, len(users), CHUNK):
        chunk = users[start : start + CHUNK]
        rows = session.execute(
            select(UserNumber.user_id, UserNumber.number, UserNumber.first_day).where(
                UserNumber.miniprogram_id == miniprogram_id, bulk.among(session, UserNumber.user_id, chunk)
            )
        )
        for user_id, number, first_day in rows:
            numbers[user_id] = number
            seen = first_days[user_id]
            if seen is not None and (first_day is None or seen < first_day):
                moved.append({"miniprogram_id": miniprogram_id, "user_id": user_id, "first_day": seen})
                if first_day is not None:
                    unbits[(miniprogram_id, first_day, ALL, ALL, "new", ALL)].add(number)
                bits[(miniprogram_id, seen, ALL, ALL, "new", ALL)].add(number)
    if moved:
        # One statement for every user seen earlier than before, by primary key.
        session.execute(update(UserNumber), moved)
    new = [user_id for user_id in users if user_id not in numbers]
    if new:
        miniprogram = session.execute(select(MiniProgram).where(MiniProgram.id == miniprogram_id).with_for_update()).scalar_one()
        first = miniprogram.user_count
        miniprogram.user_count = first + len(new)
        numbered = []
        for offset, user_id in enumerate(new):
            numbers[user_id] = first + offset
            numbered.append((miniprogram_id, user_id, first + offset, first_days[user_id]))
            if first_days[user_id] is not None:
                bits[(miniprogram_id, first_days[user_id], ALL, ALL, "new", ALL)].add(first + offset)
        bulk.insert_new(session, "user_numbers", ("miniprogram_id", "user_id", "number", "first_day"), numbered)
    return numbers


def _count_sessions(session: Session, first_seen: dict[tuple, tuple], counts: dict) -> None:
    """A session counts once, on each day it sends events, for the host app and version it first showed."""
    new = bulk.insert_new(
        session,
        "session_days",
        ("miniprogram_id", "day", "session_id"),
        list(first_seen),
        returning=("miniprogram_id", "day", "session_id"),
    )
    for miniprogram_id, day, session_id in new:
        app_id, version = first_seen[(miniprogram_id, day, session_id)]
        counts[(miniprogram_id, day, app_id, version, "sessions", ALL)] += 1


def _counted_sessions(
    session: Session, model: type[LaunchedSession] | type[ReleaseSession], outcome: Any, keys: Iterable[tuple]
) -> dict[tuple, tuple]:
    """What has been counted of each (mini program, session) in `keys`: day, host app, version, user and `outcome`."""
    by_miniprogram: dict[str, list[str]] = defaultdict(list)
    for miniprogram_id, session_id in keys:
        by_miniprogram[miniprogram_id].append(session_id)
    stored: dict[tuple, tuple] = {}
    for miniprogram_id, session_ids in by_miniprogram.items():
        for start in range(0, len(session_ids), CHUNK):
            rows = session.execute(
                select(model.session_id, model.day, model.app_id, model.version, model.user_number, outcome).where(
                    model.miniprogram_id == miniprogram_id,
                    bulk.among(session, model.session_id, session_ids[start : start + CHUNK]),
                )
            )
            for session_id, *state in rows:
                stored[(miniprogram_id, session_id)] = tuple(state)
    return stored


def _keep_counted_sessions(
    session: Session, model: type[LaunchedSession] | type[ReleaseSession], names: tuple[str, ...], upserts: list[dict]
) -> None:
    stmt = dialect_insert(session, model)
    stmt = stmt.on_conflict_do_update(index_elements=list(names[:2]), set_={name: stmt.excluded[name] for name in names[2:]})
    for start in range(0, len(upserts), CHUNK):
        session.execute(stmt, upserts[start : start + CHUNK])


def _count_launched_sessions(
    session: Session, launches: dict[tuple, tuple], errored: set[tuple], numbers: dict[str, dict[str, int]], counts: dict, bits: dict
) -> None:
    """Release health from ingest: sessions launched and those of them that crashed, with their users.

    A session and its crash are counted once each, on its launch's day, host app and version,
    whichever of the launch and the first js_error arrives first; `launched_sessions` remembers
    what each session has shown so far."""
    keys = set(launches) | errored
    if not keys:
        return
    stored = _counted_sessions(session, LaunchedSession, LaunchedSession.crashed, keys)
    names = ("miniprogram_id", "session_id", "day", "app_id", "version", "user_number", "crashed")
    upserts = []
    for key in keys:
        before = stored.get(key, (None, None, None, None, False))
        launch, was_crashed = before[:4], before[4]
        counted = launch[0] is not None
        if not counted and key in launches:
            day, app_id, version, user_id = launches[key]
            launch = (day, app_id, version, numbers[key[0]][user_id])
        crashed = was_crashed or key in errored
        if launch[0] is not None:
            where = (key[0], *launch[:3])
            if not counted:
                counts[(*where, "launched", ALL)] += 1
                bits[(*where, "launched", ALL)].add(launch[3])
            if crashed and not (counted and was_crashed):
                counts[(*where, "crashed", ALL)] += 1
                bits[(*where, "crashed", ALL)].add(launch[3])
        after = (*launch, crashed)
        if after != before:
            upserts.append(dict(zip(names, (*key, *after), strict=True)))
    _keep_counted_sessions(session, LaunchedSession, names, upserts)


def _count_release_sessions(
    session: Session, updates: dict[tuple, list], numbers: dict[str, dict[str, int]], counts: dict, bits: dict
) -> None:
    """Release health from Sentry: each session counted once on the day, host app and version of
    its first update, and its crash once, whatever the order its updates arrive in;
    `release_sessions` keeps what has been counted of each. `updates` holds, per (mini program,
    session), its first day, host app, version and user and its worst status in this batch."""
    stored = _counted_sessions(session, ReleaseSession, ReleaseSession.status, updates)
    names = ("miniprogram_id", "session_id", "day", "app_id", "version", "user_number", "status")
    upserts = []
    for key, (day, app_id, version, user_id, status) in updates.items():
        number = numbers[key[0]].get(user_id) if user_id else None
        before = stored.get(key)
        if before is None:
            where, counted_number, was_crashed = (key[0], day, app_id, version), None, False
            counts[(*where, "launched", ALL)] += 1
        else:
            where, counted_number, was_crashed = (key[0], *before[:3]), before[3], before[4] in CRASHED
            if SEVERITY[before[4]] >= SEVERITY[status]:
                status = before[4]
        user = counted_number if counted_number is not None else number
        crashed = status in CRASHED
        if crashed and not was_crashed:
            counts[(*where, "crashed", ALL)] += 1
        if user is not None:
            if counted_number is None:
                bits[(*where, "launched", ALL)].add(user)
            if crashed and (counted_number is None or not was_crashed):
                bits[(*where, "crashed", ALL)].add(user)
        after = (*where[1:], user, status)
        if after != before:
            upserts.append(dict(zip(names, (*key, *after), strict=True)))
    _keep_counted_sessions(session, ReleaseSession, names, upserts)


def fold(session: Session, rows: list[raw_events.FoldedEvent]) -> None:
    """Add `rows` to the rollups, in the caller's transaction."""
    counts: dict[tuple, int] = defaultdict(int)
    times: dict[tuple, int] = defaultdict(int)
    first_days: dict[str, dict[str, date | None]] = defaultdict(dict)
    sessions: dict[tuple, tuple] = {}
    launches: dict[tuple, tuple] = {}
    errored: set[tuple] = set()
    updates: dict[tuple, list] = {}
    for row in rows:
        if row.type == SESSION:
            # A Sentry session's update: release health only, its `did` a user numbered like the others.
            update_ = updates.setdefault((row.miniprogram_id, row.session_id), [row.day, row.app_id, row.version, row.user_id, row.name])
            if SEVERITY[row.name or "ok"] > SEVERITY[update_[4]]:
                update_[4] = row.name
            update_[3] = update_[3] or row.user_id
            if row.user_id:
                first_days[row.miniprogram_id].setdefault(row.user_id, None)
    rows = [row for row in rows if row.type != SESSION]
    for day, miniprogram_id, app_id, version, kind, user_id, session_id, page, duration_ms, name in rows:
        seen = first_days[miniprogram_id].get(user_id)
        if seen is None or day < seen:
            first_days[miniprogram_id][user_id] = day
        sessions.setdefault((miniprogram_id, day, session_id), (app_id, version))
        where = (miniprogram_id, day, app_id, version)
        if kind == "page_view":
            counts[(*where, "page_views", page)] += 1
            if duration_ms is not None:
                counts[(*where, "page_time", page)] += duration_ms
                counts[(*where, "page_timed", page)] += 1
        elif kind == "session_end":
            counts[(*where, "session_ends", ALL)] += 1
            counts[(*where, "session_time", ALL)] += duration_ms or 0
        elif kind == "custom":
            counts[(*where, "events", name)] += 1
        elif kind == "app_launch":
            counts[(*where, "launches", ALL)] += 1
            launches.setdefault((miniprogram_id, session_id), (day, app_id, version, user_id))
            if duration_ms is not None:
                times[(*where, band(duration_ms))] += 1
        elif kind == "js_error":
            counts[(*where, "js_errors", ALL)] += 1
            errored.add((miniprogram_id, session_id))

    bits: dict[tuple, set[int]] = defaultdict(set)
    unbits: dict[tuple, set[int]] = defaultdict(set)
    numbers = {miniprogram_id: _number_users(session, miniprogram_id, users, bits, unbits) for miniprogram_id, users in first_days.items()}
    for day, miniprogram_id, app_id, version, kind, user_id, _session_id, page, _duration_ms, name in rows:
        number = numbers[miniprogram_id][user_id]
        # Each set is kept per host app and version, and once more for all of them: an unfiltered
        # report reads one row a day instead of one per host app and version.
        for where in ((miniprogram_id, day, app_id, version), (miniprogram_id, day, ALL, ALL)):
            bits[(*where, "active", ALL)].add(number)
            if kind == "page_view":
                bits[(*where, "page", page)].add(number)
            elif kind == "custom":
                bits[(*where, "event", name)].add(number)
    _count_sessions(session, sessions, counts)
    _count_launched_sessions(session, launches, errored, numbers, counts, bits)
    _count_release_sessions(session, updates, numbers, counts, bits)
    _add_counts(session, counts)
    _add_startup_times(session, times)
    _apply_bits(session, bits, unbits)


def fold_pending(engine: Engine, limit: int = BATCH) -> int:
    """One pass: fold what has been written since the last one; the number of raw rows folded."""
    with session_scope(sessionmaker(engine)) as session:
        # The position's row is locked: one folder at a time, however many consumers run.
        start = dialect_insert(session, FoldPosition).values(name=POSITION, position=0, updated_at=utcnow())
        session.execute(start.on_conflict_do_nothing())
        position = session.execute(select(FoldPosition).where(FoldPosition.name == POSITION).with_for_update()).scalar_one()
        rows, after = raw_events.pending(session.connection(), position.position, limit)
        if rows:
            fold(session, rows)
        if after != position.position:
            position.position, position.updated_at = after, utcnow()
        return len(rows)


def keep_folding(engine: Engine, stop: threading.Event, retention_days: int, idle_seconds: float = 0.5) -> None:
    """The folder's loop: fold while there is work, prepare tomorrow's partitions, drop expired ones."""
    last_housekeeping = None
    while not stop.is_set():
        try:
            today = utcnow().date()
            if last_housekeeping != today:
                with engine.connect() as connection:
                    raw_events.ensure_partitions(connection, [today + timedelta(days=offset) for offset in range(-1, 3)])
                with engine.begin() as connection:
                    dropped = raw_events.drop_partitions_before(connection, today - timedelta(days=retention_days))
                if dropped:
                    log.info("dropped raw partitions past retention: %s", ", ".join(dropped))
                last_housekeeping = today
            folded = fold_pending(engine)
            if folded:
                log.debug("folded %d raw events", folded)
                continue
        except Exception:
            log.exception("folding failed; retrying")
            stop.wait(2)
        stop.wait(idle_seconds)
