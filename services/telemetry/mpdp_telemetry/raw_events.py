"""Raw events on disk: written a whole batch at a time, read back in commit order by the folder,
dropped a day at a time after the retention period.

A batch goes in with `ON CONFLICT DO NOTHING` (by COPY on PostgreSQL, see bulk.py), which drops
events already kept (a batch a phone sent twice). Rows carry
the id of the transaction that wrote them; the folder reads only transactions older than every
running one (`pg_snapshot_xmin`), so a batch committed late is never skipped. On SQLite (the
embedded mode) one writer at a time makes the rowid that order.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from datetime import date, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from mpdp_common.db import on_postgresql

from . import bulk, store
from .shapes import COLUMNS, RawEvent

log = logging.getLogger(__name__)


class FoldedEvent(NamedTuple):
    """What the folder reads of a raw_events row."""

    day: date
    miniprogram_id: str
    app_id: str
    version: str
    type: str
    user_id: str
    session_id: str
    page: str | None
    duration_ms: int | None
    name: str | None


FOLDED = FoldedEvent._fields
_LIST = ", ".join(COLUMNS)
_PARTITION = re.compile(r"^raw_events_p(\d{8})$")

_known_partitions: set[date] = set()
_partition_lock = threading.Lock()


def partition_name(day: date) -> str:
    return f"raw_events_p{day:%Y%m%d}"


def ensure_partitions(connection: Connection, days: Iterable[date]) -> None:
    """Create the daily partitions that `days` need (PostgreSQL), each in its own short transaction."""
    if not on_postgresql(connection):
        return
    missing = sorted(set(days) - _known_partitions)
    if not missing:
        return
    with _partition_lock:
        for day in missing:
            try:
                with connection.engine.connect() as own:
                    own.execute(
                        text(
                            f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF raw_events "
                            f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
                        )
                    )
                    own.commit()
            except DBAPIError as error:  # another process created it at the same moment
                if "already exists" not in str(error.orig):
                    raise
            _known_partitions.add(day)


def write(session: Session, rows: list[RawEvent]) -> None:
    """Add `rows` in the session's transaction; events already kept are skipped.

    Where ClickHouse is the store they go there at once, before the session commits: a batch
    whose transaction then fails is sent again by the phone, and its second copy is merged away
    like any batch sent twice (clickhouse.py)."""
    if not rows:
        return
    if (clickhouse := store.clickhouse()) is not None:
        clickhouse.write(rows)
        return
    ensure_partitions(session.connection(), {row.day for row in rows})
    bulk.insert_new(session, "raw_events", COLUMNS, rows)


def pending(connection: Connection, position: int, limit: int) -> tuple[list[FoldedEvent], int]:
    """Rows not folded yet, whole transactions at a time, and the position after them."""
    columns = ", ".join(FOLDED)
    if not on_postgresql(connection):
        rows = connection.execute(
            text(f"SELECT rowid, {columns} FROM raw_events WHERE rowid > :after ORDER BY rowid LIMIT :limit"),
            {"after": position, "limit": limit},
        ).all()
        # SQLite hands back days as the text it stores them as.
        return [FoldedEvent(date.fromisoformat(row[1]), *row[2:]) for row in rows], (rows[-1][0] if rows else position)
    horizon = connection.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")).scalar_one()
    rows = connection.execute(
        text(f"SELECT txid, {columns} FROM raw_events WHERE txid >= :after AND txid < :horizon ORDER BY txid LIMIT :limit"),
        {"after": position, "horizon": horizon, "limit": limit + 1},
    ).all()
    if len(rows) <= limit:
        return [FoldedEvent(*row[1:]) for row in rows], max(position, horizon)
    last = rows[-1][0]
    whole = [FoldedEvent(*row[1:]) for row in rows if row[0] != last]
    if whole:
        return whole, last
    # One transaction larger than the limit: it is taken whole.
    rows = connection.execute(text(f"SELECT {columns} FROM raw_events WHERE txid = :txid"), {"txid": last}).all()
    return [FoldedEvent(*row) for row in rows], last + 1


def drop_partitions_before(connection: Connection, oldest_kept: date) -> list[str]:
    """Drop the raw partitions of days before `oldest_kept` (PostgreSQL); the rollups stay."""
    if not on_postgresql(connection):
        connection.execute(text("DELETE FROM raw_events WHERE day < :day"), {"day": oldest_kept})
        return []
    names = connection.execute(
        text("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'raw_events'::regclass")
    ).scalars()
    dropped = []
    for name in names:
        match = _PARTITION.match(name)
        if match and date(int(match[1][:4]), int(match[1][4:6]), int(match[1][6:])) < oldest_kept:
            connection.execute(text(f"DROP TABLE IF EXISTS {name}"))
            dropped.append(name)
    _known_partitions.difference_update({day for day in _known_partitions if day < oldest_kept})
    return dropped
