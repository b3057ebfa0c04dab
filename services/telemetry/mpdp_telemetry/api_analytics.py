"""Analytics for the console: overview, page ranking, retention cohorts and tracked events of one
mini program, for any range of days, host app and version."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from mpdp_common.pagination import not_a_cursor, page_schema
from mpdp_common.request_db import db_session

from . import reports, schemas
from .access import miniprogram_for

analytics = Blueprint("analytics", __name__, url_prefix="/api/v1", description="Usage of mini programs")

PATH = "/workspaces/<ws>/analytics"


def _filters(query: dict) -> dict:
    return {"start": query["start"], "end": query["end"], "app_id": query["app_id"], "version": query["version"]}


def page_of(items: list, query: dict) -> dict:
    """A page of an ordered list computed whole (reports are small): the cursor is the offset."""
    try:
        offset = int(query["cursor"] or 0)
    except ValueError:
        offset = -1
    if offset < 0:
        raise not_a_cursor()
    end = offset + query["limit"]
    return {"items": items[offset:end], "next_cursor": str(end) if end < len(items) else None}


@analytics.route(f"{PATH}/overview", methods=["GET"])
@analytics.arguments(schemas.RangeQuery, location="query")
@analytics.response(200, schemas.OverviewSchema)
def overview(query: dict[str, Any], ws: str) -> dict:
    """Per day: active users, new users, sessions, page views and the average session duration, with totals."""
    miniprogram_for(ws, query["miniprogram_id"])
    return reports.overview(db_session(), query["miniprogram_id"], **_filters(query))


@analytics.route(f"{PATH}/pages", methods=["GET"])
@analytics.arguments(schemas.PagedRangeQuery, location="query")
@analytics.response(200, page_schema(schemas.PageStatsSchema))
def pages(query: dict[str, Any], ws: str) -> dict:
    """Pages by views: views, distinct visitors over the range, average time on the page."""
    miniprogram_for(ws, query["miniprogram_id"])
    return page_of(reports.pages(db_session(), query["miniprogram_id"], **_filters(query)), query)


@analytics.route(f"{PATH}/retention", methods=["GET"])
@analytics.arguments(schemas.RangeQuery, location="query")
@analytics.response(200, schemas.CohortSchema(many=True))
def retention(query: dict[str, Any], ws: str) -> list[dict]:
    """Cohorts by first day: of the users first seen that day, how many came back 0..7 days later."""
    miniprogram_for(ws, query["miniprogram_id"])
    return reports.retention(db_session(), query["miniprogram_id"], **_filters(query))


@analytics.route(f"{PATH}/events", methods=["GET"])
@analytics.arguments(schemas.EventsQuery, location="query")
@analytics.response(200, schemas.TrackedEventPage)
def events(query: dict[str, Any], ws: str) -> dict:
    """Tracked (custom) events with their counts and users; `?name=` gives that event's daily series."""
    miniprogram_for(ws, query["miniprogram_id"])
    if query["name"]:
        return reports.tracked_event(db_session(), query["miniprogram_id"], query["name"], **_filters(query))
    return page_of(reports.tracked_events(db_session(), query["miniprogram_id"], **_filters(query)), query)
