"""Quality for the console: crash groups (issues) and their states, release health, launch times,
and the crash-report DSN a host app configures its Sentry SDK with."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from flask import request
from flask_smorest import Blueprint
from sqlalchemy import or_, select
from sqlalchemy.orm import defer

from mpdp_common.auth import require_member
from mpdp_common.db import utcnow
from mpdp_common.errors import not_found
from mpdp_common.pagination import page_schema, paginate
from mpdp_common.request_db import db_session
from mpdp_common.web import current_settings

from . import crashes, guard, reports, schemas, sourcemaps
from .access import access, miniprogram_for
from .events import events
from .health import release_health
from .models import AppKey, Issue, IssueVersion, Launch, MiniProgram, Workspace

quality = Blueprint("quality", __name__, url_prefix="/api/v1", description="Crashes, release health and launch times")

PATH = "/workspaces/<ws>/quality"
#: the column each `sort` of the issues list orders by, largest first
ISSUE_ORDERS = {"last_seen": Issue.last_seen, "events": Issue.count, "first_seen": Issue.first_seen}


def _versions(issue_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    if issue_ids:
        for issue_id, version in db_session().execute(
            select(IssueVersion.issue_id, IssueVersion.version).where(IssueVersion.issue_id.in_(issue_ids))
        ):
            found[issue_id].add(version)
    return {issue_id: sorted(found[issue_id], key=crashes.version_key) for issue_id in issue_ids}


_LISTED = [name for name in schemas.IssueSchema().fields if name != "versions"]
_DETAILED = [name for name in schemas.IssueDetailSchema().fields if name != "versions"]


def _view(issue: Issue, versions: list[str], columns: list[str] = _DETAILED) -> dict:
    return {column: getattr(issue, column) for column in columns} | {"versions": versions}


def _issue(ws: str, issue_id: str, *roles: str) -> Issue:
    member = require_member(ws, *roles)
    issue = db_session().get(Issue, issue_id)
    if issue is None or issue.workspace_id != ws or not access.sees(member, issue.miniprogram_id):
        raise not_found("issue")
    return issue


@quality.route(f"{PATH}/issues", methods=["GET"])
@quality.arguments(schemas.IssuesQuery, location="query")
@quality.response(200, page_schema(schemas.IssueSchema))
def list_issues(query: dict[str, Any], ws: str) -> dict[str, Any]:
    """List crash groups (issues)

    Of the mini programs the caller sees, by `sort` (the latest crash first by default); filter by
    mini program, status, version."""
    # An issue's latest event can be large: a list never loads it (nor reads it row by row).
    stmt = select(Issue).options(defer(Issue.latest_event, raiseload=True)).where(Issue.workspace_id == ws)
    if query["miniprogram_id"]:
        miniprogram_for(ws, query["miniprogram_id"])
        stmt = stmt.where(Issue.miniprogram_id == query["miniprogram_id"])
    else:
        stmt = access.visible(stmt, require_member(ws), Issue.miniprogram_id)
    if query["status"]:
        stmt = stmt.where(Issue.status == query["status"])
    if query["version"]:
        stmt = stmt.where(Issue.id.in_(select(IssueVersion.issue_id).where(IssueVersion.version == query["version"])))
    sort = query["sort"]
    page = paginate(db_session(), stmt, query, ISSUE_ORDERS[sort], Issue.id, descending=True, order=sort)
    versions = _versions([issue.id for issue in page["items"]])
    return page | {"items": [_view(issue, versions[issue.id], _LISTED) for issue in page["items"]]}


@quality.route(f"{PATH}/issues/<issue_id>", methods=["GET"])
@quality.response(200, schemas.IssueDetailSchema)
def get_issue(ws: str, issue_id: str) -> dict:
    """One crash group, with its latest event (the whole stack trace)

    Its frames are in the original source where its version has source maps (the minified
    frame of each as `raw`), even when its latest event came just before them."""
    issue = _issue(ws, issue_id)
    return _view(issue, _versions([issue.id])[issue.id]) | {"latest_event": _resolved(issue)}


def _resolved(issue: Issue) -> dict:
    """The latest event through its version's maps as they are now: the consumer resolves it when
    maps come after it, and this answers it resolved also when the crash was being recorded at
    that moment (it reads one row when the mini program has maps, nothing otherwise)."""
    event = issue.latest_event
    miniprogram = db_session().get(MiniProgram, issue.miniprogram_id)
    version = crashes.version_of(event.get("release"))
    if miniprogram is None or not miniprogram.has_sourcemaps or version == crashes.UNKNOWN_VERSION:
        return event
    return sourcemaps.resolve(db_session(), current_settings(), issue.miniprogram_id, version, json.loads(json.dumps(event)))


@quality.route(f"{PATH}/issues/<issue_id>", methods=["PATCH"])
@quality.arguments(schemas.IssuePatchSchema)
@quality.response(200, schemas.IssueDetailSchema)
def patch_issue(body: dict[str, Any], ws: str, issue_id: str) -> dict:
    """Resolve, ignore or reopen a crash group

    By an admin or an assigned developer; a resolved issue that recurs in a newer version reopens
    with `regressed: true`."""
    _issue(ws, issue_id, "admin", "developer")
    session = db_session()
    issue = session.get_one(Issue, issue_id, with_for_update=True)  # _issue found it
    before = issue.status
    crashes.set_status(session, issue, body["status"])
    if issue.status != before:
        state = {
            "issue_id": issue.id,
            "workspace_id": ws,
            "miniprogram_id": issue.miniprogram_id,
            "title": issue.title,
            "status": issue.status,
            "previous_status": before,
        }
        events.publish(session, "telemetry.issue.status_changed", state, workspace_id=ws, aggregate_id=issue.id)
    session.commit()
    return _view(issue, _versions([issue.id])[issue.id])


@quality.route(f"{PATH}/summary", methods=["GET"])
@quality.arguments(schemas.RangeQuery, location="query")
@quality.response(200, schemas.SummarySchema)
@quality.doc(operationId="quality_get_summary")
def summary(query: dict[str, Any], ws: str) -> dict:
    """Release health: crash-free users and sessions, errors

    Of Sentry's sessions and of ingest's app launches, with error counts, overall and per version."""
    miniprogram_for(ws, query["miniprogram_id"])
    session = db_session()
    health = release_health(session, query["miniprogram_id"], query["start"], query["end"], query["app_id"], query["version"])
    js_errors = reports.js_errors(session, query["miniprogram_id"], query["start"], query["end"], query["app_id"], query["version"])
    return health | {"js_errors": js_errors}


@quality.route(f"{PATH}/startup", methods=["GET"])
@quality.arguments(schemas.RangeQuery, location="query")
@quality.response(200, schemas.StartupSchema)
@quality.doc(operationId="quality_get_startup")
def startup(query: dict[str, Any], ws: str) -> dict:
    """Launch time percentiles

    p50, p90 and p99 of app_launch duration_ms, overall, per day and per version."""
    miniprogram_for(ws, query["miniprogram_id"])
    return reports.startup(
        db_session(), query["miniprogram_id"], query["start"], query["end"], app_id=query["app_id"], version=query["version"]
    )


@quality.route("/workspaces/<ws>/miniprograms/<mp>/launches/<launch_id>/health", methods=["GET"])
@quality.arguments(schemas.LaunchHealthQuery, location="query")
@quality.response(200, schemas.LaunchHealthSchema)
def launch_health(query: dict[str, Any], ws: str, mp: str, launch_id: str) -> dict[str, Any]:
    """A launch's health beside the released version's, with a verdict

    The health of the launch's version on its host app since its rollout began (else its first
    publish), beside the released version's over the same days, and the verdict of its guard (or
    of the floors given in the query)."""
    miniprogram_for(ws, mp)
    session = db_session()
    launch = session.get(Launch, launch_id)
    if launch is None or launch.miniprogram_id != mp:
        raise not_found("launch")
    given = {name: value for name, value in query.items() if value is not None}
    judged_by = (launch.guard or guard.DEFAULT_GUARD) | given if given else None
    return guard.launch_health(session, launch, utcnow().date(), judged_by)


@quality.route("/workspaces/<ws>/miniprograms/<mp>/dsn", methods=["GET"])
@quality.arguments(schemas.DsnQuery, location="query")
@quality.response(200, schemas.DsnSchema)
@quality.doc(operationId="quality_get_dsn")
def dsn(query: dict[str, Any], ws: str, mp: str) -> dict[str, str | int]:
    """A mini program's crash-report DSN for a host app

    For `?app_id=` (any app of the workspace without it), from its newest active key; 404 without
    one."""
    _member, miniprogram = miniprogram_for(ws, mp)
    session = db_session()
    if miniprogram.telemetry_id is None:
        raise not_found("telemetry id for this mini program")
    parent = session.scalar(select(Workspace.parent_id).where(Workspace.id == ws))
    stmt = select(AppKey).where(or_(AppKey.workspace_id == ws, AppKey.workspace_id == parent), AppKey.revoked_at.is_(None))
    if query["app_id"]:
        stmt = stmt.where(AppKey.app_id == query["app_id"])
    keys = [key for key in session.scalars(stmt.order_by(AppKey.learned_at.desc(), AppKey.key_id.desc())) if key.usable()]
    if not keys:
        raise not_found("active app key for that host app")
    key = keys[0]
    scheme = request.headers.get("X-Forwarded-Proto") or request.scheme
    host = request.headers.get("X-Forwarded-Host") or request.host
    return {
        "dsn": f"{scheme}://{key.key_id}@{host}/ingest/sentry/{miniprogram.telemetry_id}",
        "app_id": key.app_id,
        "key_id": key.key_id,
        "telemetry_id": miniprogram.telemetry_id,
    }
