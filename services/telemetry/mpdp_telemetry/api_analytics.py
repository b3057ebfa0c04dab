"""Analytics for the console: overview, page ranking, retention cohorts and tracked events of one
mini program, for any range of days, host app and version."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from mpdp_common.pagination import cursor_number, page_schema
from mpdp_common.request_db import db_session

from . import reports, schemas
from .access import miniprogram_for

analytics = Blueprint("analytics", __name__, url_prefix="/api/v1", description="Usage of mini programs")

PATH = "/workspaces/<ws>/analytics"


def _filters(query: dict) -> dict:
    return {"start": query["start"], "end": query["end"], "app_id": query["app_id"], "version": query["version"]}


def page_of(items: list, query: dict) -> dict:
    """A page of an ordered list computed whole (reports are small): the cursor is the offset."""
    offset = cursor_number(query)
    end = offset + query["limit"]
    return {"items": items[offset:end], "next_cursor": str(end) if end < len(items) else None}


@analytics.route(f"{PATH}/overview", methods=["GET"])
@analytics.arguments(schemas.RangeQuery, location="query")
@analytics.response(200, schemas.OverviewSchema)
@analytics.doc(operationId="analytics_get_overview")
def overview(query: dict[str, Any], ws: str) -> dict:
    """Usage per day, with totals

    Per day of the range: active users, new users, sessions, page views and the average session
    duration; the totals count each user once."""
    miniprogram_for(ws, query["miniprogram_id"])
    return reports.overview(db_session(), query["miniprogram_id"], **_filters(query))


@analytics.route(f"{PATH}/pages", methods=["GET"])
@analytics.arguments(schemas.PagedRangeQuery, location="query")
@analytics.response(200, page_schema(schemas.PageStatsSchema))
@analytics.doc(operationId="analytics_list_pages")
def pages(query: dict[str, Any], ws: str) -> dict:
    """Pages by views, the most viewed first

    Views, distinct visitors over the range and the average time on the page."""
    miniprogram_for(ws, query["miniprogram_id"])
    return page_of(reports.pages(db_session(), query["miniprogram_id"], **_filters(query)), query)


@analytics.route(f"{PATH}/retention", methods=["GET"])
@analytics.arguments(schemas.RangeQuery, location="query")
@analytics.response(200, schemas.CohortSchema(many=True))
@analytics.doc(operationId="analytics_get_retention")
def retention(query: dict[str, Any], ws: str) -> list[dict]:
    """Retention cohorts by first day

    Of the users first seen on each day of the range, how many came back 0..7 days later."""
    miniprogram_for(ws, query["miniprogram_id"])
    return reports.retention(db_session(), query["miniprogram_id"], **_filters(query))


@analytics.route(f"{PATH}/events", methods=["GET"])
@analytics.arguments(schemas.EventsQuery, location="query")
@analytics.response(200, schemas.TrackedEventPage)
@analytics.doc(operationId="analytics_list_events")
def events(query: dict[str, Any], ws: str) -> dict:
    """Tracked (custom) events, the most counted first

    Each with its count and users; `?name=` gives that event alone, with its series per day."""
    miniprogram_for(ws, query["miniprogram_id"])
    if query["name"]:
        return reports.tracked_event(db_session(), query["miniprogram_id"], query["name"], **_filters(query))
    return page_of(reports.tracked_events(db_session(), query["miniprogram_id"], **_filters(query)), query)
