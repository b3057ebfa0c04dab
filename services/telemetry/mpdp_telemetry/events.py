"""Telemetry's event spec: it publishes what `mpdp_common.contracts.telemetry` declares (a guard's
failing verdict, guard.py). Analytics events are volume, written in bulk by ingest, never one by
one through the outbox; handlers.py holds what it does with others' events."""

from __future__ import annotations

from mpdp_common.events import EventSpec

from .models import Base

events = EventSpec("telemetry", Base.metadata)
