"""What the telemetry service publishes.

Telemetry judges the health of every launch in grayscale that has a guard (it learns them from
`catalog.launch.status_changed`); when the version's figures on its host app fall below the
guard's floors it publishes `telemetry.release_health.failing`, and the catalog halts the launch:

    @events.handles(FAILING)
    def on_release_health_failing(session, event):
        lifecycle.halt(session, event.payload)
"""

from __future__ import annotations

from marshmallow import fields

from . import Payload, declare

FAILING = "telemetry.release_health.failing"


class HealthFigures(Payload):
    """One version's health on one host app over a range of days, from Sentry's sessions and ingest's alike."""

    sessions = fields.Integer()
    crashed_sessions = fields.Integer()
    #: shares 0 to 1, null without sessions (or users)
    crash_free_sessions = fields.Float(allow_none=True)
    users = fields.Integer()
    crashed_users = fields.Integer()
    crash_free_users = fields.Float(allow_none=True)
    error_count = fields.Integer()
    startup_p50_ms = fields.Integer(allow_none=True)
    startup_p90_ms = fields.Integer(allow_none=True)


class Figures(Payload):
    """What a verdict was made of: the version's health, and the released version's over the same days."""

    version = fields.Nested(HealthFigures)
    baseline = fields.Nested(HealthFigures, allow_none=True)


@declare(FAILING)
class ReleaseHealthFailing(Payload):
    """A guarded launch's version fails its guard on its host app."""

    launch_id = fields.String()
    workspace_id = fields.String()
    miniprogram_id = fields.String()
    app_id = fields.String()
    version = fields.String()
    #: the launch's revision (see catalog.launch.status_changed) that the verdict judged
    revision = fields.Integer()
    #: for people: which figure is below which floor
    reason = fields.String()
    figures = fields.Nested(Figures)
