from __future__ import annotations

from datetime import timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from mpdp_common.db import utcnow
from mpdp_common.pagination import NumberedPageQuery, PageQuery, page_schema
from mpdp_common.schemas import ResponseSchema, Timestamp

#: the longest date range a report covers, in days (ten years)
MAX_RANGE_DAYS = 3660
ISSUE_STATUSES = ["unresolved", "resolved", "ignored"]
#: how the issues list can be ordered, each the largest (newest) first
ISSUE_SORTS = ["last_seen", "events", "first_seen"]

Id = lambda **kwargs: fields.String(validate=validate.Length(min=1, max=64), **kwargs)  # noqa: E731


# -- ingest ---------------------------------------------------------------------------------------

#: the most events a batch holds (413 beyond)
MAX_EVENTS = 1000
EVENT_TYPES = ["app_launch", "page_view", "session_end", "js_error", "custom"]
MAX_PROPERTIES_BYTES = 4096
#: the longest each text of an event may be
TEXT_LIMITS = {"event_id": 64, "version": 64, "user_id": 128, "session_id": 128, "miniprogram_id": 32}
MAX_DURATION_MS = 86_400_000


def _event_text(name: str, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=TEXT_LIMITS[name]), required=True, **kwargs)


class IngestEventSchema(Schema):
    """One analytics event as ingest keeps it: the view checks each event itself (an event that
    does not fit is rejected by its index, the others are kept), so this schema only describes it."""

    event_id = _event_text("event_id", metadata={"description": "the dedupe key: sent again, it counts once"})
    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    timestamp = fields.DateTime(
        required=True,
        metadata={
            "description": "with a zone; after the skew correction, at most 30 days old (less when raw events are kept for less) "
            "and 1 hour ahead"
        },
    )
    miniprogram_id = _event_text("miniprogram_id", metadata={"description": "a mini program this app key reports for"})
    version = _event_text("version")
    user_id = _event_text("user_id")
    session_id = _event_text("session_id")
    page = fields.String(validate=validate.Length(min=1, max=255), allow_none=True, metadata={"description": "required for page_view"})
    duration_ms = fields.Integer(
        validate=validate.Range(min=0, max=MAX_DURATION_MS), allow_none=True, metadata={"description": "required for session_end"}
    )
    name = fields.String(validate=validate.Length(min=1, max=100), allow_none=True, metadata={"description": "required for custom"})
    properties = fields.Dict(allow_none=True, metadata={"description": f"at most {MAX_PROPERTIES_BYTES} bytes of JSON"})


class IngestBatchSchema(Schema):
    """A batch of analytics events, as `POST /ingest/v1/events` reads it (gzip accepted)."""

    sent_at = fields.DateTime(
        allow_none=True, metadata={"description": "the device's clock when it sent the batch: every timestamp is corrected by its skew"}
    )
    events = fields.List(
        fields.Nested(IngestEventSchema),
        required=True,
        validate=validate.Length(max=MAX_EVENTS),
        metadata={"description": f"at most {MAX_EVENTS} (413 beyond)"},
    )


class RejectedSchema(ResponseSchema):
    index = fields.Integer(metadata={"description": "the event's place in the batch, from 0"})
    reason = fields.String()


class IngestResultSchema(ResponseSchema):
    accepted = fields.Integer(metadata={"description": "events kept (a resent event counts here and once in the figures)"})
    rejected = fields.List(fields.Nested(RejectedSchema))


class SentryAcceptedSchema(ResponseSchema):
    id = fields.String(
        allow_none=True, metadata={"description": "the event_id the envelope's header (the event, for store) names, as sent"}
    )


# -- queries --------------------------------------------------------------------------------------


class RangeQuery(Schema):
    """`from` and `to` are UTC days, both included; by default the last 7 days."""

    miniprogram_id = Id(required=True)
    start = fields.Date(
        data_key="from",
        load_default=None,
        metadata={
            "description": f"the first UTC day (default: 6 days before `to`); not after `to`, at most {MAX_RANGE_DAYS} days before it"
        },
    )
    end = fields.Date(data_key="to", load_default=None, metadata={"description": "the last UTC day, included (default: today)"})
    app_id = Id(load_default=None)
    version = fields.String(validate=validate.Length(min=1, max=64), load_default=None)

    @validates_schema
    def _range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        end = data.get("end") or utcnow().date()
        start = data.get("start") or end - timedelta(days=6)
        if start > end:
            raise ValidationError("Must not be after `to`.", "from")
        if (end - start).days >= MAX_RANGE_DAYS:
            raise ValidationError(f"A range covers at most {MAX_RANGE_DAYS} days.", "from")
        data["start"], data["end"] = start, end


class PagedRangeQuery(NumberedPageQuery, RangeQuery):
    """A report that lists: a range of days, a page of rows at a time."""


class EventsQuery(PagedRangeQuery):
    name = fields.String(validate=validate.Length(min=1, max=100), load_default=None)


class IssuesQuery(PageQuery):
    miniprogram_id = Id(load_default=None)
    status = fields.String(validate=validate.OneOf(ISSUE_STATUSES), load_default=None)
    version = fields.String(validate=validate.Length(min=1, max=64), load_default=None)
    sort = fields.String(
        validate=validate.OneOf(ISSUE_SORTS),
        load_default="last_seen",
        metadata={
            "description": "last_seen: the latest crash first; events: the most crash events first; first_seen: the newest "
            "issue first. Ties go by id; a cursor goes on in the order that made it."
        },
    )


class LaunchHealthQuery(Schema):
    """A guard to judge by instead of the launch's own (each field given replaces the launch's)."""

    min_crash_free_sessions = fields.Float(validate=validate.Range(min=0, max=1), load_default=None)
    min_crash_free_users = fields.Float(validate=validate.Range(min=0, max=1), load_default=None)
    min_sessions = fields.Integer(validate=validate.Range(min=1, max=1_000_000_000), load_default=None)
    max_drop_from_baseline = fields.Float(validate=validate.Range(min=0, max=1), load_default=None)


class DsnQuery(Schema):
    app_id = Id(load_default=None)


# -- answers --------------------------------------------------------------------------------------


class OverviewDaySchema(ResponseSchema):
    date = fields.Date()
    active_users = fields.Integer()
    new_users = fields.Integer()
    sessions = fields.Integer()
    page_views = fields.Integer()
    avg_session_duration_ms = fields.Integer(allow_none=True)


class OverviewTotalsSchema(ResponseSchema):
    active_users = fields.Integer(metadata={"description": "distinct users over the whole range"})
    new_users = fields.Integer()
    sessions = fields.Integer()
    page_views = fields.Integer()
    avg_session_duration_ms = fields.Integer(allow_none=True)


class OverviewSchema(ResponseSchema):
    series = fields.List(fields.Nested(OverviewDaySchema))
    totals = fields.Nested(OverviewTotalsSchema)


class PageStatsSchema(ResponseSchema):
    page = fields.String()
    views = fields.Integer()
    visitors = fields.Integer(metadata={"description": "distinct users over the whole range"})
    avg_duration_ms = fields.Integer(allow_none=True)


class CohortSchema(ResponseSchema):
    cohort_date = fields.Date()
    users = fields.Integer()
    retained = fields.List(
        fields.Integer(allow_none=True), metadata={"description": "users of the cohort seen 0..7 days later; null for days still to come"}
    )


class TrackedEventSchema(ResponseSchema):
    name = fields.String()
    count = fields.Integer()
    users = fields.Integer()


class EventDaySchema(ResponseSchema):
    date = fields.Date()
    count = fields.Integer()
    users = fields.Integer()


#: every tracked event, or with `?name=` that one and its series per day
TrackedEventPage = page_schema(
    TrackedEventSchema,
    series=fields.List(fields.Nested(EventDaySchema), metadata={"optional": True, "description": "with ?name=: that event per day"}),
)


class PercentilesSchema(ResponseSchema):
    launches = fields.Integer()
    p50 = fields.Integer(allow_none=True)
    p90 = fields.Integer(allow_none=True)
    p99 = fields.Integer(allow_none=True)


class StartupDaySchema(PercentilesSchema):
    date = fields.Date()


class StartupVersionSchema(PercentilesSchema):
    version = fields.String()


class StartupSchema(ResponseSchema):
    overall = fields.Nested(PercentilesSchema)
    by_day = fields.List(fields.Nested(StartupDaySchema))
    by_version = fields.List(fields.Nested(StartupVersionSchema))


class HealthSchema(ResponseSchema):
    sessions = fields.Integer()
    crashed_sessions = fields.Integer()
    crash_free_sessions = fields.Float(
        allow_none=True,
        validate=validate.Range(min=0, max=1),
        metadata={"description": "share of sessions without a crash; null without sessions"},
    )
    users = fields.Integer()
    crashed_users = fields.Integer()
    crash_free_users = fields.Float(
        allow_none=True,
        validate=validate.Range(min=0, max=1),
        metadata={"description": "share of users without a crash; null without users"},
    )
    error_count = fields.Integer()


class VersionHealthSchema(HealthSchema):
    version = fields.String()


class DayHealthSchema(HealthSchema):
    date = fields.Date()


class SummarySchema(HealthSchema):
    js_errors = fields.Integer(metadata={"description": "js_error events sent to /ingest/v1/events"})
    by_version = fields.List(fields.Nested(VersionHealthSchema))
    by_day = fields.List(fields.Nested(DayHealthSchema), metadata={"description": "every day of the range, oldest first"})


class LaunchFiguresSchema(HealthSchema):
    startup_p50_ms = fields.Integer(allow_none=True)
    startup_p90_ms = fields.Integer(allow_none=True)


class GuardSchema(ResponseSchema):
    min_crash_free_sessions = fields.Float(allow_none=True)
    min_crash_free_users = fields.Float(allow_none=True)
    min_sessions = fields.Integer()
    max_drop_from_baseline = fields.Float(allow_none=True)


class VersionsSchema(ResponseSchema):
    version = fields.String()
    baseline = fields.String(allow_none=True, metadata={"description": "the version released on that host app, or null"})


class LaunchHealthSchema(ResponseSchema):
    launch_id = fields.String()
    app_id = fields.String()
    versions = fields.Nested(VersionsSchema)
    start = fields.Date(data_key="from", metadata={"description": "the day its rollout began (UTC)"})
    end = fields.Date(data_key="to")
    version = fields.Nested(LaunchFiguresSchema, metadata={"description": "the launch's version on its host app"})
    baseline = fields.Nested(LaunchFiguresSchema, allow_none=True, metadata={"description": "the released version, same app and days"})
    guard = fields.Nested(GuardSchema)
    verdict = fields.String(
        validate=validate.OneOf(("healthy", "failing", "insufficient_data")),
        metadata={"description": "insufficient_data: fewer than min_sessions sessions"},
    )
    reason = fields.String(allow_none=True, metadata={"description": "which figure fails which floor"})


class IssueSchema(ResponseSchema):
    id = fields.String()
    miniprogram_id = fields.String()
    title = fields.String()
    culprit = fields.String()
    level = fields.String(metadata={"description": "the latest event's Sentry level (error, fatal, warning, ...)"})
    status = fields.String(validate=validate.OneOf(ISSUE_STATUSES))
    regressed = fields.Boolean()
    count = fields.Integer()
    users = fields.Integer()
    first_seen = Timestamp()
    last_seen = Timestamp()
    versions = fields.List(fields.String())


class IssueDetailSchema(IssueSchema):
    latest_event = fields.Dict(metadata={"description": "the latest crash event, as Sentry's event payload, with its stack trace"})


class IssuePatchSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(ISSUE_STATUSES))


class DsnSchema(ResponseSchema):
    dsn = fields.String()
    app_id = fields.String()
    key_id = fields.String()
    telemetry_id = fields.Integer()


# -- alert rules ----------------------------------------------------------------------------------

ALERT_KINDS = ["crash_free_sessions_below", "crash_free_users_below", "new_issue", "regression", "error_spike"]
ALERT_STATES = ["ok", "firing"]
#: the fields each kind takes beside its kind, with their defaults (None: required)
ALERT_FIELDS: dict[str, dict[str, float | int | None]] = {
    "crash_free_sessions_below": {"threshold": None, "min_sessions": 100, "window_minutes": 60},
    "crash_free_users_below": {"threshold": None, "min_sessions": 100, "window_minutes": 60},
    "error_spike": {"threshold": 3.0, "min_sessions": 100, "window_minutes": 60, "min_errors": 10},
    "new_issue": {},
    "regression": {},
}


class AlertRuleCreateSchema(Schema):
    miniprogram_id = Id(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ALERT_KINDS))
    threshold = fields.Float(
        load_default=None,
        allow_none=True,
        allow_nan=False,
        metadata={
            "description": "crash_free_*: the share (0 to 1) below which it fires, required; error_spike: the factor (above 1, "
            "default 3) over the previous windows' average error count; none for new_issue and regression"
        },
    )
    min_sessions = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1),
        metadata={"description": "crash_free_* and error_spike: the fewest sessions in the window for a verdict (default 100)"},
    )
    window_minutes = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=5, max=10080),
        metadata={"description": "crash_free_* and error_spike: the window's length, 5 minutes to 7 days (default 60)"},
    )
    min_errors = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1),
        metadata={"description": "error_spike: the fewest errors in the window that can be a spike (default 10)"},
    )

    @validates_schema
    def _fields_of_kind(self, data: dict[str, Any], **_kwargs: Any) -> None:
        kind = data.get("kind")
        if kind not in ALERT_FIELDS:
            return
        taken = ALERT_FIELDS[kind]
        for name in ("threshold", "min_sessions", "window_minutes", "min_errors"):
            if name not in taken and data.get(name) is not None:
                raise ValidationError(f"A {kind} rule takes no {name}.", name)
            if name in taken and data.get(name) is None:
                if taken[name] is None:
                    raise ValidationError(f"A {kind} rule needs a {name}.", name)
                data[name] = taken[name]
        threshold = data.get("threshold") or 0.0
        if kind.startswith("crash_free_") and not 0 <= threshold <= 1:
            raise ValidationError("A crash-free threshold is a share from 0 to 1.", "threshold")
        if kind == "error_spike" and threshold <= 1:
            raise ValidationError("A spike's threshold is a factor above 1.", "threshold")


class AlertRulesQuery(PageQuery):
    miniprogram_id = Id(load_default=None)


class AlertRuleSchema(ResponseSchema):
    id = fields.String()
    miniprogram_id = fields.String()
    kind = fields.String(validate=validate.OneOf(ALERT_KINDS))
    threshold = fields.Float(allow_none=True)
    min_sessions = fields.Integer(allow_none=True)
    window_minutes = fields.Integer(allow_none=True)
    min_errors = fields.Integer(allow_none=True)
    state = fields.String(
        validate=validate.OneOf(ALERT_STATES), metadata={"description": "firing: it fired and has not been back to ok since"}
    )
    last_fired_at = Timestamp(allow_none=True)
    last_value = fields.Float(
        allow_none=True, metadata={"description": "the last evaluation's figure (a share, or an error count); null before one"}
    )
    last_sessions = fields.Integer(allow_none=True, metadata={"description": "the sessions of the last evaluation's window"})
    evaluated_at = Timestamp(allow_none=True)
    created_at = Timestamp()
    created_by = fields.String()
