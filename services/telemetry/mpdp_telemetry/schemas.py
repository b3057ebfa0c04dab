from __future__ import annotations

from datetime import timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from mpdp_common.db import utcnow
from mpdp_common.pagination import PageQuery, page_schema
from mpdp_common.schemas import Timestamp

#: the longest date range a report covers, in days (ten years)
MAX_RANGE_DAYS = 3660
ISSUE_STATUSES = ["unresolved", "resolved", "ignored"]
#: how the issues list can be ordered, each the largest (newest) first
ISSUE_SORTS = ["last_seen", "events", "first_seen"]

Id = lambda **kwargs: fields.String(validate=validate.Length(min=1, max=64), **kwargs)  # noqa: E731


# -- ingest ---------------------------------------------------------------------------------------


class RejectedSchema(Schema):
    index = fields.Integer()
    reason = fields.String()


class IngestResultSchema(Schema):
    accepted = fields.Integer(metadata={"description": "events kept (a resent event counts here and once in the figures)"})
    rejected = fields.List(fields.Nested(RejectedSchema))


# -- queries --------------------------------------------------------------------------------------


class RangeQuery(Schema):
    """`from` and `to` are UTC days, both included; by default the last 7 days."""

    miniprogram_id = Id(required=True)
    start = fields.Date(data_key="from", load_default=None)
    end = fields.Date(data_key="to", load_default=None)
    app_id = Id(load_default=None)
    version = fields.String(validate=validate.Length(min=1, max=64), load_default=None)

    @validates_schema
    def _range(self, data, **_kwargs):
        end = data.get("end") or utcnow().date()
        start = data.get("start") or end - timedelta(days=6)
        if start > end:
            raise ValidationError("Must not be after `to`.", "from")
        if (end - start).days >= MAX_RANGE_DAYS:
            raise ValidationError(f"A range covers at most {MAX_RANGE_DAYS} days.", "from")
        data["start"], data["end"] = start, end


class PagedRangeQuery(PageQuery, RangeQuery):
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


class OverviewDaySchema(Schema):
    date = fields.Date()
    active_users = fields.Integer()
    new_users = fields.Integer()
    sessions = fields.Integer()
    page_views = fields.Integer()
    avg_session_duration_ms = fields.Integer(allow_none=True)


class OverviewTotalsSchema(Schema):
    active_users = fields.Integer(metadata={"description": "distinct users over the whole range"})
    new_users = fields.Integer()
    sessions = fields.Integer()
    page_views = fields.Integer()
    avg_session_duration_ms = fields.Integer(allow_none=True)


class OverviewSchema(Schema):
    series = fields.List(fields.Nested(OverviewDaySchema))
    totals = fields.Nested(OverviewTotalsSchema)


class PageStatsSchema(Schema):
    page = fields.String()
    views = fields.Integer()
    visitors = fields.Integer(metadata={"description": "distinct users over the whole range"})
    avg_duration_ms = fields.Integer(allow_none=True)


class CohortSchema(Schema):
    cohort_date = fields.Date()
    users = fields.Integer()
    retained = fields.List(
        fields.Integer(allow_none=True), metadata={"description": "users of the cohort seen 0..7 days later; null for days still to come"}
    )


class TrackedEventSchema(Schema):
    name = fields.String()
    count = fields.Integer()
    users = fields.Integer()


class EventDaySchema(Schema):
    date = fields.Date()
    count = fields.Integer()
    users = fields.Integer()


#: every tracked event, or with `?name=` that one and its series per day
TrackedEventPage = page_schema(
    TrackedEventSchema, series=fields.List(fields.Nested(EventDaySchema), metadata={"description": "with ?name=: that event per day"})
)


class PercentilesSchema(Schema):
    launches = fields.Integer()
    p50 = fields.Integer(allow_none=True)
    p90 = fields.Integer(allow_none=True)
    p99 = fields.Integer(allow_none=True)


class StartupDaySchema(PercentilesSchema):
    date = fields.Date()


class StartupVersionSchema(PercentilesSchema):
    version = fields.String()


class StartupSchema(Schema):
    overall = fields.Nested(PercentilesSchema)
    by_day = fields.List(fields.Nested(StartupDaySchema))
    by_version = fields.List(fields.Nested(StartupVersionSchema))


class HealthSchema(Schema):
    sessions = fields.Integer()
    crashed_sessions = fields.Integer()
    crash_free_sessions = fields.Float(allow_none=True, metadata={"description": "share of sessions without a crash, 0 to 1"})
    users = fields.Integer()
    crashed_users = fields.Integer()
    crash_free_users = fields.Float(allow_none=True, metadata={"description": "share of users without a crash, 0 to 1"})
    error_count = fields.Integer()


class VersionHealthSchema(HealthSchema):
    version = fields.String()


class SummarySchema(HealthSchema):
    js_errors = fields.Integer(metadata={"description": "js_error events sent to /ingest/v1/events"})
    by_version = fields.List(fields.Nested(VersionHealthSchema))


class LaunchFiguresSchema(HealthSchema):
    startup_p50_ms = fields.Integer(allow_none=True)
    startup_p90_ms = fields.Integer(allow_none=True)


class GuardSchema(Schema):
    min_crash_free_sessions = fields.Float(allow_none=True)
    min_crash_free_users = fields.Float(allow_none=True)
    min_sessions = fields.Integer()
    max_drop_from_baseline = fields.Float(allow_none=True)


class VersionsSchema(Schema):
    version = fields.String()
    baseline = fields.String(allow_none=True, metadata={"description": "the version released on that host app, or null"})


class LaunchHealthSchema(Schema):
    launch_id = fields.String()
    app_id = fields.String()
    versions = fields.Nested(VersionsSchema)
    start = fields.Date(data_key="from", metadata={"description": "the day its rollout began (UTC)"})
    end = fields.Date(data_key="to")
    version = fields.Nested(LaunchFiguresSchema, metadata={"description": "the launch's version on its host app"})
    baseline = fields.Nested(LaunchFiguresSchema, allow_none=True, metadata={"description": "the released version, same app and days"})
    guard = fields.Nested(GuardSchema)
    verdict = fields.String(metadata={"description": "healthy, failing or insufficient_data (fewer than min_sessions sessions)"})
    reason = fields.String(allow_none=True, metadata={"description": "which figure fails which floor"})


class IssueSchema(Schema):
    id = fields.String()
    miniprogram_id = fields.String()
    title = fields.String()
    culprit = fields.String()
    level = fields.String()
    status = fields.String()
    regressed = fields.Boolean()
    count = fields.Integer()
    users = fields.Integer()
    first_seen = Timestamp()
    last_seen = Timestamp()
    versions = fields.List(fields.String())


class IssueDetailSchema(IssueSchema):
    latest_event = fields.Dict()


class IssuePatchSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(ISSUE_STATUSES))


class DsnSchema(Schema):
    dsn = fields.String()
    app_id = fields.String()
    key_id = fields.String()
    telemetry_id = fields.Integer()
