"""What both telemetry stores share: a raw event's row, and the reports' own arithmetic, so that
the ClickHouse store (clickhouse.py) answers as reports.py does without importing it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import NamedTuple

#: the days after a user's first one that retention reports on
RETENTION_DAYS = 8


class RawEvent(NamedTuple):
    """A raw_events row, as ingest writes it: a tuple, so that a batch goes to COPY as it is."""

    day: date
    miniprogram_id: str
    event_id: str
    occurred_at: datetime
    received_at: datetime
    app_id: str
    type: str
    version: str
    user_id: str
    session_id: str
    page: str | None
    duration_ms: int | None
    name: str | None
    properties: str | None


COLUMNS = RawEvent._fields


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def average(total: int, count: int) -> int | None:
    return round(total / count) if count else None
