"""What the telemetry service publishes.

Crash groups: `telemetry.issue.created` when a crash event groups with no earlier one, and
`telemetry.issue.regressed` when a resolved one comes back in a newer version, each published in
the transaction that records the event. Alert rules (`telemetry.alert_rule.created`/`deleted`)
watch a mini program's crash-free figures, error counts and crash groups; `telemetry.alert.fired`
says one fired, for the people to be told.

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
ISSUE_CREATED = "telemetry.issue.created"
ISSUE_REGRESSED = "telemetry.issue.regressed"
ALERT_FIRED = "telemetry.alert.fired"
ALERT_RULE_CREATED = "telemetry.alert_rule.created"
ALERT_RULE_DELETED = "telemetry.alert_rule.deleted"


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


class IssueShape(Payload):
    issue_id = fields.String()
    workspace_id = fields.String()
    miniprogram_id = fields.String()
    title = fields.String()
    culprit = fields.String(allow_none=True)
    level = fields.String()
    #: the version of the event that made the change
    version = fields.String()


@declare(ISSUE_CREATED)
class IssueCreated(IssueShape):
    """A crash issue was seen for the first time."""

    first_seen = fields.DateTime()


@declare(ISSUE_REGRESSED)
class IssueRegressed(IssueShape):
    """A resolved issue was seen again in a version newer than the one it was resolved in."""

    resolved_in = fields.String(allow_none=True)
    regressed_at = fields.DateTime()


@declare(ALERT_FIRED)
class AlertFired(Payload):
    """An alert rule of a mini program fired (once, until its figure is back on the right side)."""

    alert_rule_id = fields.String()
    workspace_id = fields.String()
    miniprogram_id = fields.String()
    #: crash_free_sessions_below, crash_free_users_below, new_issue, regression or error_spike
    kind = fields.String()
    threshold = fields.Float(allow_none=True)
    window_minutes = fields.Integer(allow_none=True)
    min_sessions = fields.Integer(allow_none=True)
    #: the figure judged: a crash-free share, or the window's error count (error_spike)
    value = fields.Float(allow_none=True)
    sessions = fields.Integer(allow_none=True)
    issue_id = fields.String(allow_none=True)
    #: for people
    summary = fields.String()
    fired_at = fields.DateTime()


class AlertRuleFields(Payload):
    alert_rule_id = fields.String()
    workspace_id = fields.String()
    miniprogram_id = fields.String()
    #: crash_free_sessions_below, crash_free_users_below, new_issue, regression or error_spike
    kind = fields.String()
    #: a share 0 to 1 (crash_free_*), a factor over the previous windows (error_spike), else null
    threshold = fields.Float(allow_none=True)
    min_sessions = fields.Integer(allow_none=True)
    window_minutes = fields.Integer(allow_none=True)
    #: error_spike: the fewest errors in the window that can be a spike, else null
    min_errors = fields.Integer(allow_none=True)


@declare(ALERT_RULE_CREATED)
class AlertRuleCreated(AlertRuleFields):
    """An admin made an alert rule for a mini program."""

    created_by = fields.String()


@declare(ALERT_RULE_DELETED)
class AlertRuleDeleted(AlertRuleFields):
    """An admin deleted an alert rule: it fires no more."""

    deleted_by = fields.String()


@declare("telemetry.issue.status_changed")
class IssueStatusChanged(Payload):
    """A person resolved, ignored or reopened a crash issue (for the audit log)."""

    issue_id = fields.String()
    workspace_id = fields.String()
    miniprogram_id = fields.String()
    title = fields.String()
    status = fields.String()
    previous_status = fields.String()
