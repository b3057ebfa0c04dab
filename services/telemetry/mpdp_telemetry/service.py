"""The telemetry service, as the launcher, the app factory and the event runtime see it."""

from __future__ import annotations

import threading

from flask import Flask

from mpdp_common.config import Settings
from mpdp_common.db import EVENT_PROCESS_CONNECTIONS, make_engine
from mpdp_common.service import Service

from . import alerts, guard, handlers, store
from .api_alerts import alert_rules
from .api_analytics import analytics
from .api_ingest import ingest, setup_rate_limits
from .api_quality import quality
from .api_sentry import sentry_envelope  # noqa: F401 - registers the Sentry endpoints on `ingest`
from .events import events
from .models import ApiKey, Base, Member, WorkspacePolicy
from .rollups import keep_folding


def _setup(app: Flask, settings: Settings) -> None:
    setup_rate_limits(app, settings)
    # A ClickHouse store is reached, and its tables made, before the first request.
    store.open_store(settings)


def fold_raw_events(settings: Settings, stop: threading.Event) -> None:
    """The folder: raw events into the daily rollups, a worker process of its own (`mpdpctl work telemetry folder`)."""
    keep_folding(make_engine(settings.database_url, EVENT_PROCESS_CONNECTIONS), stop, settings.telemetry_retention_days)


service = Service(
    name="telemetry",
    package="mpdp_telemetry",
    blueprints=[ingest, analytics, quality, alert_rules],
    metadata=Base.metadata,
    events=events,
    handlers=handlers,
    membership_model=Member,
    workspace_policy_model=WorkspacePolicy,
    api_key_model=ApiKey,
    setup=_setup,
    workers={"folder": fold_raw_events, "guard": guard.run_worker, "alerts": alerts.run_worker},
)
