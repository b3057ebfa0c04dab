"""Telemetry's event spec. It publishes no domain events: analytics events are volume, written in bulk
by ingest, never one by one through the outbox; handlers.py holds what it does with others' events."""

from __future__ import annotations

from mpdp_common.events import EventSpec

from .models import Base

events = EventSpec("telemetry", Base.metadata)
