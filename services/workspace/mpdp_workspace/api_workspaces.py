"""Workspaces: tenant workspaces, and developer workspaces applied for in a tenant, decided by an
approval (`approval.approval.decided`, see events.py) and deleted by the tenant's admins."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask_smorest import Blueprint
from sqlalchemy import func, or_, select

from mpdp_common.auth import current_caller, require_member, require_verified_email
from mpdp_common.errors import conflict, forbidden, not_found, validation_failed
from mpdp_common.idempotency import idempotent
from mpdp_common.openapi import problems
from mpdp_common.pagination import PageQuery, page_schema, paginate
from mpdp_common.request_db import db_session

from . import schemas
from .access import active_workspace
from .events import events, expect_admin, publish_created
from .models import Member, MiniProgram, Workspace

workspaces = Blueprint("workspaces", __name__, url_prefix="/api/v1", description="Workspaces and developer workspaces")


#: a developer workspace application that its applicant sees, though not a member
APPLICATION_STATUSES = ("pending_approval", "rejected", "withdrawn")


def _not_by_api_key(what: str) -> None:
    if current_caller().is_api_key:
        raise forbidden(f"An API key acts in its own workspace only; it cannot {what}.")


def _workspace_view(workspace: Workspace, role: str | None = None) -> dict:
    return {name: getattr(workspace, name) for name in schemas.WorkspaceSchema().fields if name != "role"} | {"role": role}


@workspaces.route("/workspaces", methods=["POST"])
@idempotent
@workspaces.arguments(schemas.WorkspaceCreateSchema)
@workspaces.response(201, schemas.WorkspaceSchema, description="A tenant workspace, active at once.")
@workspaces.alt_response(202, schema=schemas.WorkspacePendingSchema, description="A developer workspace, pending approval.")
@problems(403, 404)
def create_workspace(body: dict[str, Any]) -> dict | Response:
    """Create a tenant workspace, or apply for a developer workspace

    A tenant is active at once and the caller becomes its admin (201). A developer workspace is
    applied for by a member of its tenant (`parent_id`, 404 for others): it waits for an approval
    of type developer_workspace in the tenant (202). Not with an API key (403), nor by an account
    whose email is not verified yet (403 `urn:mpdp:problem:email-unverified`)."""
    _not_by_api_key("create workspaces")
    caller = require_verified_email()
    session = db_session()
    name = body["name"].strip()
    if not name:
        raise validation_failed({"name": ["The name cannot be blank."]})
    if body["kind"] == "tenant":
        workspace = Workspace(name=name, kind="tenant", status="active", created_by=caller.account_id)
        session.add(workspace)
        session.flush()
        expect_admin(session, workspace.id, caller.account_id)
        publish_created(session, workspace)
        session.commit()
        return _workspace_view(workspace, "admin")

    require_member(body["parent_id"])
    parent = session.get(Workspace, body["parent_id"])
    if parent is None or parent.status != "active":
        raise not_found("workspace")
    if parent.kind != "tenant":
        raise validation_failed({"parent_id": ["A developer workspace belongs to a tenant workspace."]})
    workspace = Workspace(
        name=name,
        kind="developer",
        parent_id=parent.id,
        business_type=body["business_type"],
        status="pending_approval",
        created_by=caller.account_id,
    )
    session.add(workspace)
    session.flush()
    events.publish(
        session,
        "workspace.developer_workspace.requested",
        {
            "workspace_id": workspace.id,
            "parent_id": parent.id,
            "name": workspace.name,
            "business_type": workspace.business_type,
            "requested_by": caller.account_id,
        },
        workspace_id=parent.id,
        aggregate_id=workspace.id,
    )
    session.commit()
    return Response(current_app.json.dumps({"id": workspace.id, "status": workspace.status}), status=202, mimetype="application/json")


@workspaces.route("/workspaces", methods=["GET"])
@workspaces.arguments(PageQuery, location="query")
@workspaces.response(200, page_schema(schemas.WorkspaceSchema))
def list_workspaces(query: dict[str, Any]) -> dict[str, Any]:
    """The caller's workspaces, and the developer workspaces they applied for"""
    caller = current_caller()
    session = db_session()
    if caller.is_api_key:
        stmt = select(Workspace).where(Workspace.id == caller.api_key_workspace, Workspace.status == "active")
        roles = {caller.api_key_workspace: caller.api_key_role}
    else:
        memberships = select(Member.workspace_id).where(Member.account_id == caller.account_id, Member.status != "removed")
        stmt = select(Workspace).where(
            Workspace.status != "deleted",
            or_(
                Workspace.id.in_(memberships),
                (Workspace.created_by == caller.account_id) & Workspace.status.in_(APPLICATION_STATUSES),
            ),
        )
        roles = None
    page = paginate(session, stmt, query, Workspace.created_at, Workspace.id)
    if roles is None:
        ids = [workspace.id for workspace in page["items"]]
        roles = dict(
            session.execute(
                select(Member.workspace_id, Member.role).where(
                    Member.account_id == caller.account_id, Member.workspace_id.in_(ids), Member.status != "removed"
                )
            )
            .tuples()
            .all()
        )
    return page | {"items": [_workspace_view(item, roles.get(item.id)) for item in page["items"]]}


@workspaces.route("/workspaces/<ws>", methods=["GET"])
@workspaces.response(200, schemas.WorkspaceSchema)
def get_workspace(ws: str) -> dict:
    """One workspace, with the caller's role in it"""
    caller = current_caller()
    workspace = db_session().get(Workspace, ws)
    if (
        workspace is not None
        and not caller.is_api_key
        and workspace.created_by == caller.account_id
        and workspace.status in APPLICATION_STATUSES
    ):
        return _workspace_view(workspace)
    # Answered whatever the workspace's require_mfa: a member learns here what it asks of them.
    workspace, member = active_workspace(ws, without_mfa=True)
    return _workspace_view(workspace, member.role)


@workspaces.route("/workspaces/<ws>", methods=["PATCH"])
@workspaces.arguments(schemas.WorkspacePatchSchema)
@workspaces.response(200, schemas.WorkspaceSchema)
def patch_workspace(body: dict[str, Any], ws: str) -> dict:
    """Change a workspace's general info

    By an admin."""
    workspace, member = active_workspace(ws, "admin")
    session = db_session()
    if "name" in body:
        body["name"] = body["name"].strip()
        if not body["name"]:
            raise validation_failed({"name": ["The name cannot be blank."]})
    if "contact_email" in body and body["contact_email"]:
        body["contact_email"] = body["contact_email"].strip().lower()
    changed = {name: value for name, value in body.items() if getattr(workspace, name) != value}
    if changed:
        for name, value in changed.items():
            setattr(workspace, name, value)
        session.flush()
        events.publish(
            session,
            "workspace.workspace.updated",
            {
                "workspace_id": workspace.id,
                "name": workspace.name,
                "business_address": workspace.business_address,
                "contact_email": workspace.contact_email,
                "changed": sorted(changed),
            },
            workspace_id=workspace.id,
            aggregate_id=workspace.id,
        )
        session.commit()
    return _workspace_view(workspace, member.role)


# -- developer workspaces -------------------------------------------------------------------------


@workspaces.route("/workspaces/<ws>/developer-workspaces", methods=["GET"])
@workspaces.arguments(PageQuery, location="query")
@workspaces.response(200, page_schema(schemas.DeveloperWorkspaceSchema))
@workspaces.doc(operationId="workspaces_list_developer_workspaces")
def list_developer_workspaces(query: dict[str, Any], ws: str) -> dict[str, Any]:
    """A tenant's developer workspaces, with their mini program counts"""
    active_workspace(ws)
    session = db_session()
    page = paginate(
        session,
        select(Workspace).where(Workspace.parent_id == ws, Workspace.status != "deleted"),
        query,
        Workspace.created_at,
        Workspace.id,
    )
    ids = [item.id for item in page["items"]]
    counts: dict[str, int] = dict(
        session.execute(
            select(MiniProgram.workspace_id, func.count()).where(MiniProgram.workspace_id.in_(ids)).group_by(MiniProgram.workspace_id)
        )
        .tuples()
        .all()
    )
    return page | {
        "items": [
            {
                "id": item.id,
                "name": item.name,
                "status": item.status,
                "business_type": item.business_type,
                "created_by": item.created_by,
                "miniprogram_count": counts.get(item.id, 0),
                "created_at": item.created_at,
            }
            for item in page["items"]
        ]
    }


@workspaces.route("/workspaces/<ws>/developer-workspaces/<developer_ws>", methods=["DELETE"])
@workspaces.response(204)
@workspaces.doc(operationId="workspaces_delete_developer_workspace")
@problems(409)
def delete_developer_workspace(ws: str, developer_ws: str) -> None:
    """Delete a developer workspace of a tenant

    By an admin of the tenant; 409 while it has a published mini program or a version uploaded in
    the last 30 days."""
    active_workspace(ws, "admin")
    session = db_session()
    child = session.get(Workspace, developer_ws, with_for_update=True)
    if child is None or child.parent_id != ws or child.kind != "developer" or child.status == "deleted":
        raise not_found("developer workspace")
    refusal = child.deletion_refusal()
    if refusal:
        raise conflict(refusal)
    child.status = "deleted"
    session.flush()
    events.publish(
        session,
        "workspace.workspace.deleted",
        {"workspace_id": child.id, "kind": child.kind, "parent_id": ws, "deleted_by": current_caller().account_id},
        workspace_id=child.id,
        aggregate_id=child.id,
    )
    session.commit()
