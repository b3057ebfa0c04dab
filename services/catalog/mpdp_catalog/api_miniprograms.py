"""Mini programs: create, list and edit them, assign developers, keep the testers whitelist, and
request features for them."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import delete, select

from mpdp_common.auth import Membership, require_member
from mpdp_common.errors import conflict, not_found, validation_failed
from mpdp_common.idempotency import idempotent
from mpdp_common.openapi import problems
from mpdp_common.pagination import PageQuery, page_schema, paginate
from mpdp_common.request_db import commit_or_conflict, db_session

from . import delivery, schemas
from .access import access, developer_ids, miniprogram_for, sees_hidden_features
from .events import events, publish_miniprogram_created, set_assignment
from .models import Assignment, Feature, FeatureActivation, Member, MiniProgram, TelemetryId, Tester

miniprograms = Blueprint("miniprograms", __name__, url_prefix="/api/v1", description="Mini programs, their developers and testers")

PATH = "/workspaces/<ws>/miniprograms"


def _view(miniprogram: MiniProgram, developers: list[str]) -> dict:
    return {column: getattr(miniprogram, column) for column in schemas.MiniProgramSchema().fields if column != "developer_ids"} | {
        "developer_ids": developers
    }


@miniprograms.route(PATH, methods=["POST"])
@idempotent
@miniprograms.arguments(schemas.MiniProgramCreateSchema)
@miniprograms.response(201, schemas.MiniProgramSchema)
def create(body: dict[str, Any], ws: str) -> dict:
    """Create a mini program

    By an admin; 409 when the workspace has one of that name."""
    member = require_member(ws, "admin")
    session = db_session()
    name = body["name"].strip()
    if session.scalar(select(MiniProgram.id).where(MiniProgram.workspace_id == ws, MiniProgram.name == name)):
        raise conflict("A mini program with that name exists in this workspace.")
    telemetry_id = TelemetryId()
    session.add(telemetry_id)
    session.flush()
    miniprogram = MiniProgram(
        workspace_id=ws, telemetry_id=telemetry_id.id, name=name, description=body["description"], created_by=member.account_id
    )
    session.add(miniprogram)
    session.flush()
    publish_miniprogram_created(session, miniprogram)
    commit_or_conflict(db_session(), "A mini program with that name exists in this workspace.")
    return _view(miniprogram, [])


@miniprograms.route(PATH, methods=["GET"])
@miniprograms.arguments(PageQuery, location="query")
@miniprograms.response(200, page_schema(schemas.MiniProgramSchema))
def list_miniprograms(query: dict[str, Any], ws: str) -> dict[str, Any]:
    """List the mini programs the caller sees, oldest first

    A developer sees those assigned to them."""
    member = require_member(ws)
    stmt = access.visible(select(MiniProgram).where(MiniProgram.workspace_id == ws), member, MiniProgram.id)
    page = paginate(db_session(), stmt, query, MiniProgram.created_at, MiniProgram.id)
    developers = developer_ids([item.id for item in page["items"]])
    return page | {"items": [_view(item, developers[item.id]) for item in page["items"]]}


@miniprograms.route(f"{PATH}/<mp>", methods=["GET"])
@miniprograms.response(200, schemas.MiniProgramSchema)
def get_miniprogram(ws: str, mp: str) -> dict:
    """One mini program"""
    _member, miniprogram = miniprogram_for(ws, mp)
    return _view(miniprogram, developer_ids([miniprogram.id])[miniprogram.id])


@miniprograms.route(f"{PATH}/<mp>", methods=["PATCH"])
@miniprograms.arguments(schemas.MiniProgramPatchSchema)
@miniprograms.response(200, schemas.MiniProgramSchema)
@problems(409)
def patch_miniprogram(body: dict[str, Any], ws: str, mp: str) -> dict:
    """Rename a mini program or change its description

    By an admin; 409 when another of the workspace has that name."""
    _member, miniprogram = miniprogram_for(ws, mp, "admin", lock=True)
    session = db_session()
    changed = sorted(name for name in ("name", "description") if name in body and body[name] != getattr(miniprogram, name))
    if "name" in body:
        name = body["name"].strip()
        taken = session.scalar(select(MiniProgram.id).where(MiniProgram.workspace_id == ws, MiniProgram.name == name, MiniProgram.id != mp))
        if taken:
            raise conflict("A mini program with that name exists in this workspace.")
        miniprogram.name = name
        session.flush()
        delivery.refresh_miniprogram(session, mp)
    if "description" in body:
        miniprogram.description = body["description"]
    if changed:
        state = {"miniprogram_id": mp, "workspace_id": ws, "name": miniprogram.name, "changed": changed}
        events.publish(session, "catalog.miniprogram.updated", state, workspace_id=ws, aggregate_id=mp)
    commit_or_conflict(db_session(), "A mini program with that name exists in this workspace.")
    return _view(miniprogram, developer_ids([miniprogram.id])[miniprogram.id])


# -- developers -----------------------------------------------------------------------------------


@miniprograms.route(f"{PATH}/<mp>/developers", methods=["PUT"])
@miniprograms.arguments(schemas.DevelopersSchema)
@miniprograms.response(200, schemas.DevelopersSchema)
def put_developers(body: dict[str, Any], ws: str, mp: str) -> dict[str, list[str]]:
    """Replace the developers assigned to a mini program

    By an admin; each must be an active member of the workspace (422 otherwise)."""
    _member, miniprogram = miniprogram_for(ws, mp, "admin", lock=True)
    session = db_session()
    wanted = list(dict.fromkeys(body["account_ids"]))
    active = set(
        session.scalars(
            select(Member.account_id).where(Member.workspace_id == ws, Member.account_id.in_(wanted), Member.status == "active")
        )
    )
    unknown = [account_id for account_id in wanted if account_id not in active]
    if unknown:
        raise validation_failed({"account_ids": [f"Not an active member of this workspace: {', '.join(unknown)}."]})
    # Reviewers assigned by their invitation stay; the developers not named are unassigned.
    reviewers = select(Member.account_id).where(Member.workspace_id == ws, Member.role == "reviewer", Member.status == "active")
    unassigned = session.scalars(
        select(Assignment.account_id).where(
            Assignment.miniprogram_id == mp,
            Assignment.assigned,
            Assignment.account_id.not_in(wanted),
            Assignment.account_id.not_in(reviewers),
        )
    ).all()
    for account_id in unassigned:
        set_assignment(session, ws, mp, account_id, assigned=False)
    for account_id in wanted:
        set_assignment(session, ws, mp, account_id, assigned=True)
    session.commit()
    return {"account_ids": developer_ids([miniprogram.id])[miniprogram.id]}


@miniprograms.route(f"{PATH}/<mp>/developers", methods=["GET"])
@miniprograms.response(200, schemas.DevelopersSchema)
def get_developers(ws: str, mp: str) -> dict[str, list[str]]:
    """The members assigned to a mini program"""
    _member, miniprogram = miniprogram_for(ws, mp)
    return {"account_ids": developer_ids([miniprogram.id])[miniprogram.id]}


# -- testers --------------------------------------------------------------------------------------


def _require_admin_or_assigned_developer(ws: str, mp: str, lock: bool = False) -> tuple[Membership, MiniProgram]:
    return miniprogram_for(ws, mp, "admin", "developer", lock=lock)


@miniprograms.route(f"{PATH}/<mp>/testers", methods=["PUT"])
@miniprograms.arguments(schemas.TestersSchema)
@miniprograms.response(200, schemas.TestersSchema)
def put_testers(body: dict[str, Any], ws: str, mp: str) -> dict[str, list[str]]:
    """Replace the testers whitelist

    The host-app users (at most 100) who may open pilot versions; by an admin or an assigned developer."""
    _require_admin_or_assigned_developer(ws, mp, lock=True)
    session = db_session()
    wanted = list(dict.fromkeys(user_id.strip() for user_id in body["user_ids"]))
    session.execute(delete(Tester).where(Tester.miniprogram_id == mp))
    session.add_all(Tester(miniprogram_id=mp, user_id=user_id) for user_id in wanted)
    session.flush()
    delivery.refresh_miniprogram(session, mp)
    state = {"miniprogram_id": mp, "workspace_id": ws, "testers": len(wanted)}
    events.publish(session, "catalog.testers.changed", state, workspace_id=ws, aggregate_id=mp)
    session.commit()
    return {"user_ids": wanted}


@miniprograms.route(f"{PATH}/<mp>/testers", methods=["GET"])
@miniprograms.response(200, schemas.TestersSchema)
def get_testers(ws: str, mp: str) -> dict[str, list[str]]:
    """The testers whitelist"""
    miniprogram_for(ws, mp)
    rows = db_session().scalars(select(Tester.user_id).where(Tester.miniprogram_id == mp).order_by(Tester.added_at, Tester.user_id))
    return {"user_ids": list(rows)}


# -- features of a mini program -------------------------------------------------------------------


@miniprograms.route(f"{PATH}/<mp>/features", methods=["POST"])
@idempotent(authorize=_require_admin_or_assigned_developer)
@miniprograms.arguments(schemas.FeatureRequestSchema)
@miniprograms.response(201, schemas.MiniProgramFeatureSchema)
def request_feature(body: dict[str, Any], ws: str, mp: str) -> FeatureActivation:
    """Request a feature for a mini program

    A direct feature is active at once; one that needs approval waits for an approval of type
    feature. 409 while the feature is active or pending for it."""
    member, miniprogram = _require_admin_or_assigned_developer(ws, mp, lock=True)
    session = db_session()
    feature = session.get(Feature, body["feature_id"])
    if feature is None or feature.workspace_id != ws or not (feature.visible_to_all or sees_hidden_features(member)):
        raise not_found("feature")
    existing = session.scalar(
        select(FeatureActivation).where(FeatureActivation.miniprogram_id == mp, FeatureActivation.feature_id == feature.id)
    )
    if existing is not None and existing.status != "rejected":
        raise conflict(f"This feature is already {existing.status.replace('_', ' ')} for this mini program.")
    if existing is not None:
        session.delete(existing)
        session.flush()
    activation = FeatureActivation(
        workspace_id=ws,
        miniprogram_id=mp,
        feature_id=feature.id,
        status="active" if feature.activation == "direct" else "pending_approval",
        requested_by=member.account_id,
    )
    session.add(activation)
    session.flush()
    if activation.status == "pending_approval":
        events.publish(
            session,
            "catalog.feature.activation_requested",
            {
                "request_id": activation.id,
                "workspace_id": ws,
                "title": f"Feature {feature.name} for {miniprogram.name}",
                "subject": {"kind": "feature_activation", "id": activation.id},
                "requested_by": member.account_id,
                "miniprogram_id": miniprogram.id,
                "feature_id": feature.id,
            },
            workspace_id=ws,
            aggregate_id=activation.id,
        )
    commit_or_conflict(db_session(), "This feature was just requested for this mini program.")
    return activation


@miniprograms.route(f"{PATH}/<mp>/features", methods=["GET"])
@miniprograms.arguments(PageQuery, location="query")
@miniprograms.response(200, page_schema(schemas.MiniProgramFeatureSchema))
def list_miniprogram_features(query: dict[str, Any], ws: str, mp: str) -> dict[str, Any]:
    """The features requested for a mini program, oldest first"""
    miniprogram_for(ws, mp)
    stmt = select(FeatureActivation).where(FeatureActivation.miniprogram_id == mp)
    return paginate(db_session(), stmt, query, FeatureActivation.created_at, FeatureActivation.id)
