"""Where raw events go and analytics are read from, chosen by `MPDP_TELEMETRY_STORE`.

The default is the service's own database: raw events by COPY into `raw_events`, folded into the
daily rollups that `reports` reads (raw_events.py, rollups.py, reports.py). A `clickhouse://` or
`chdb:` address moves both to ClickHouse (clickhouse.py): `raw_events.write` hands the rows to it,
and each report of `reports` is answered by it. Callers see the same functions either way; what
stays in the service's database whatever the store (crashes, pre-counted Sentry sessions,
launches) is read there as before.

In a request the store is the one its app's settings name; a worker (the guard) names it once
with `configure`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from flask import has_app_context

from mpdp_common.config import Settings
from mpdp_common.web import current_settings

if TYPE_CHECKING:
    from .clickhouse import ClickHouseStore

_opened: dict[tuple[str, int], ClickHouseStore] = {}
_lock = threading.Lock()
_worker_settings: Settings | None = None


def uses_clickhouse(address: str) -> bool:
    return address.startswith(("clickhouse://", "chdb:"))


def open_store(settings: Settings) -> ClickHouseStore | None:
    """The ClickHouse store `settings` name, its tables created on first use; None for the service's database."""
    address = settings.telemetry_store
    if not address or address.startswith("postgresql"):
        return None
    if not uses_clickhouse(address):
        raise SystemExit(
            "configuration error: MPDP_TELEMETRY_STORE must be empty (the service's database), "
            "clickhouse://user:pass@host:port/db or chdb:///path/db"
        )
    key = (address, settings.telemetry_retention_days)
    with _lock:
        if key not in _opened:
            from .clickhouse import ClickHouseStore  # its packages are the `clickhouse` extra

            _opened[key] = ClickHouseStore(address, settings.telemetry_retention_days)
        return _opened[key]


def configure(settings: Settings) -> ClickHouseStore | None:
    """Name the store of a process that answers no requests (a worker)."""
    global _worker_settings
    _worker_settings = settings
    return open_store(settings)


def clickhouse() -> ClickHouseStore | None:
    """The ClickHouse store in use here, or None where the service's database holds analytics."""
    settings = current_settings() if has_app_context() else _worker_settings
    return open_store(settings) if settings is not None else None
