"""The audit log of a workspace, for its admins: a page at a time, newest first, or all of a
range as NDJSON, streamed (see audit.py for how it is written)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Response, current_app
from flask_smorest import Blueprint
from sqlalchemy import Select, or_, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from mpdp_common.pagination import page_schema, paginate
from mpdp_common.request_db import db_session

from . import schemas
from .access import active_workspace
from .models import AuditEntry

audit_log = Blueprint("audit_log", __name__, url_prefix="/api/v1", description="Who did what in a workspace")

NDJSON = "application/x-ndjson"
#: rows read from the database at a time while an export streams
EXPORT_CHUNK = 500


def entry_view(entry: AuditEntry) -> dict[str, Any]:
    actor = {"kind": entry.actor_kind, "id": entry.actor_id}
    if entry.on_behalf_of is not None:
        actor["on_behalf_of"] = entry.on_behalf_of
    return {
        "id": entry.id,
        "at": entry.at,
        "actor": actor,
        "action": entry.action,
        "subject": {"kind": entry.subject_kind, "id": entry.subject_id},
        "summary": entry.summary,
        "request_id": entry.request_id,
    }


def _in_range(stmt: Select, query: dict[str, Any]) -> Select:
    if query["start"] is not None:
        stmt = stmt.where(AuditEntry.at >= query["start"])
    if query["end"] is not None:
        stmt = stmt.where(AuditEntry.at < query["end"])
    return stmt


@audit_log.route("/workspaces/<ws>/audit-log", methods=["GET"])
@audit_log.arguments(schemas.AuditLogQuery, location="query")
@audit_log.response(200, page_schema(schemas.AuditLogEntrySchema))
def list_entries(query: dict[str, Any], ws: str) -> dict[str, Any]:
    """List the workspace's audit log, newest first

    By an admin. `actor_id` finds what that account did itself and through its API keys."""
    active_workspace(ws, "admin")
    stmt = _in_range(select(AuditEntry).where(AuditEntry.workspace_id == ws), query)
    if query["action"]:
        stmt = stmt.where(AuditEntry.action == query["action"])
    if query["actor_id"]:
        stmt = stmt.where(or_(AuditEntry.actor_id == query["actor_id"], AuditEntry.on_behalf_of == query["actor_id"]))
    page = paginate(db_session(), stmt, query, AuditEntry.at, AuditEntry.id, descending=True)
    return page | {"items": [entry_view(entry) for entry in page["items"]]}


@audit_log.route("/workspaces/<ws>/audit-log/export", methods=["GET"])
@audit_log.arguments(schemas.AuditRangeQuery, location="query")
@audit_log.doc(
    responses={
        "200": {
            "description": "One entry per line, oldest first, each as the audit log lists it",
            "content": {NDJSON: {"schema": {"$ref": "#/components/schemas/AuditLogEntry"}}},
        }
    }
)
def export(query: dict[str, Any], ws: str) -> Response:
    """Export the workspace's audit log as NDJSON, oldest first

    By an admin; the whole range (`from`, `to`), streamed as it is read."""
    active_workspace(ws, "admin")
    db_session().close()  # the export reads on a session of its own, for as long as it streams
    sessions = current_app.extensions["mpdp"].session_factory
    dump = schemas.AuditLogEntrySchema().dump
    lines = ((json.dumps(dump(view), ensure_ascii=False, separators=(",", ":")) + "\n").encode() for view in _views(sessions, ws, query))
    response = Response(lines, mimetype=NDJSON)
    response.headers.set("Content-Disposition", "attachment", filename=f"audit-log-{ws}.ndjson")
    response.headers["Cache-Control"] = "no-store"
    return response


def _views(sessions: sessionmaker[Session], ws: str, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The range's entries as listed, oldest first, EXPORT_CHUNK rows per read, each read after
    the last row of the one before."""
    after: tuple[datetime, str] | None = None
    with sessions() as session:
        while True:
            stmt = _in_range(select(AuditEntry).where(AuditEntry.workspace_id == ws), query)
            if after is not None:
                stmt = stmt.where(tuple_(AuditEntry.at, AuditEntry.id) > after)
            chunk = session.scalars(stmt.order_by(AuditEntry.at, AuditEntry.id).limit(EXPORT_CHUNK)).all()
            views = [entry_view(entry) for entry in chunk]
            session.expunge_all()
            session.rollback()  # no transaction held open between reads, while the client takes its time
            yield from views
            if len(chunk) < EXPORT_CHUNK:
                return
            after = (views[-1]["at"], views[-1]["id"])
