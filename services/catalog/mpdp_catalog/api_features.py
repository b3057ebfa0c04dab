"""JSAPIs (the native calls a host app offers, with a JSON Schema of their parameters) and
features (bundles of JSAPIs that a tenant offers to mini programs, every change kept)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import select

from mpdp_common.auth import Membership, require_member
from mpdp_common.db import utcnow
from mpdp_common.errors import conflict, not_found, validation_failed
from mpdp_common.idempotency import idempotent
from mpdp_common.openapi import problems
from mpdp_common.pagination import NumberedPageQuery, PageQuery, cursor_number, page_schema, paginate
from mpdp_common.request_db import commit_or_conflict, db_session

from . import schemas
from .access import sees_hidden_features
from .events import events
from .models import Feature, FeatureRevision, Jsapi, Workspace

jsapis = Blueprint("jsapis", __name__, url_prefix="/api/v1", description="JSAPIs offered to mini programs")
features = Blueprint("features", __name__, url_prefix="/api/v1", description="Features: bundles of JSAPIs, with their history")

FEATURE_FIELDS = ("name", "description", "activation", "visible_to_all", "jsapi_ids")


# -- JSAPIs ---------------------------------------------------------------------------------------


def _jsapi(ws: str, jsapi_id: str, lock: bool = False) -> Jsapi:
    jsapi = db_session().get(Jsapi, jsapi_id, with_for_update=lock)
    if jsapi is None or jsapi.workspace_id != ws:
        raise not_found("JSAPI")
    return jsapi


@jsapis.route("/workspaces/<ws>/jsapis", methods=["POST"])
@idempotent
@jsapis.arguments(schemas.JsapiCreateSchema)
@jsapis.response(201, schemas.JsapiSchema)
def create_jsapi(body: dict[str, Any], ws: str) -> Jsapi:
    """Create a JSAPI

    By an admin; 409 when the workspace has one of that name."""
    member = require_member(ws, "admin")
    session = db_session()
    if session.scalar(select(Jsapi.id).where(Jsapi.workspace_id == ws, Jsapi.name == body["name"])):
        raise conflict("A JSAPI with that name exists in this workspace.")
    jsapi = Jsapi(workspace_id=ws, created_by=member.account_id, **body)
    session.add(jsapi)
    session.flush()
    _publish_jsapi("catalog.jsapi.created", jsapi, sorted(body))
    commit_or_conflict(db_session(), "A JSAPI with that name exists in this workspace.")
    return jsapi


@jsapis.route("/workspaces/<ws>/jsapis", methods=["GET"])
@jsapis.arguments(PageQuery, location="query")
@jsapis.response(200, page_schema(schemas.JsapiSchema))
def list_jsapis(query: dict[str, Any], ws: str) -> dict[str, Any]:
    """List the workspace's JSAPIs, oldest first"""
    require_member(ws)
    return paginate(db_session(), select(Jsapi).where(Jsapi.workspace_id == ws), query, Jsapi.created_at, Jsapi.id)


@jsapis.route("/workspaces/<ws>/jsapis/<jsapi_id>", methods=["GET"])
@jsapis.response(200, schemas.JsapiSchema)
def get_jsapi(ws: str, jsapi_id: str) -> Jsapi:
    """One JSAPI"""
    require_member(ws)
    return _jsapi(ws, jsapi_id)


@jsapis.route("/workspaces/<ws>/jsapis/<jsapi_id>", methods=["PATCH"])
@jsapis.arguments(schemas.JsapiPatchSchema)
@jsapis.response(200, schemas.JsapiSchema)
def patch_jsapi(body: dict[str, Any], ws: str, jsapi_id: str) -> Jsapi:
    """Change a JSAPI's description, platforms or parameters

    By an admin."""
    require_member(ws, "admin")
    jsapi = _jsapi(ws, jsapi_id, lock=True)
    changed = sorted(name for name, value in body.items() if getattr(jsapi, name) != value)
    for name in changed:
        setattr(jsapi, name, body[name])
    if changed:
        _publish_jsapi("catalog.jsapi.updated", jsapi, changed)
    db_session().commit()
    return jsapi


def _publish_jsapi(event_type: str, jsapi: Jsapi, changed: list[str]) -> None:
    state = {"jsapi_id": jsapi.id, "workspace_id": jsapi.workspace_id, "name": jsapi.name, "changed": changed}
    events.publish(db_session(), event_type, state, workspace_id=jsapi.workspace_id, aggregate_id=jsapi.id)


def _publish_feature(event_type: str, feature: Feature, changed: list[str]) -> None:
    state = {"feature_id": feature.id, "workspace_id": feature.workspace_id, "name": feature.name, "revision": feature.revision}
    events.publish(db_session(), event_type, state | {"changed": changed}, workspace_id=feature.workspace_id, aggregate_id=feature.id)


# -- features -------------------------------------------------------------------------------------


def _tenant_only(ws: str) -> None:
    """Features belong to tenant workspaces; one not known to be a developer workspace counts as a tenant."""
    workspace = db_session().get(Workspace, ws)
    if workspace is not None and workspace.kind == "developer":
        raise conflict("Features belong to tenant workspaces; this is a developer workspace.")


def _check_jsapis(ws: str, jsapi_ids: list[str]) -> list[str]:
    wanted = list(dict.fromkeys(jsapi_ids))
    found = set(db_session().scalars(select(Jsapi.id).where(Jsapi.workspace_id == ws, Jsapi.id.in_(wanted))))
    missing = [ident for ident in wanted if ident not in found]
    if missing:
        raise validation_failed({"jsapi_ids": [f"Not a JSAPI of this workspace: {', '.join(missing)}."]})
    return wanted


def _feature(ws: str, feature_id: str, member: Membership, lock: bool = False) -> Feature:
    feature = db_session().get(Feature, feature_id, with_for_update=lock)
    if feature is None or feature.workspace_id != ws or not (feature.visible_to_all or sees_hidden_features(member)):
        raise not_found("feature")
    return feature


def _state(feature: Feature) -> dict:
    return {name: getattr(feature, name) for name in FEATURE_FIELDS}


@features.route("/workspaces/<ws>/features", methods=["POST"])
@idempotent
@features.arguments(schemas.FeatureCreateSchema)
@features.response(201, schemas.FeatureSchema)
def create_feature(body: dict[str, Any], ws: str) -> Feature:
    """Create a feature

    By an admin of a tenant workspace (409 in a developer workspace, or when the workspace has a
    feature of that name); each JSAPI named must be one of the workspace's (422 otherwise)."""
    member = require_member(ws, "admin")
    _tenant_only(ws)
    session = db_session()
    body["name"] = body["name"].strip()
    body["jsapi_ids"] = _check_jsapis(ws, body["jsapi_ids"])
    if session.scalar(select(Feature.id).where(Feature.workspace_id == ws, Feature.name == body["name"])):
        raise conflict("A feature with that name exists in this workspace.")
    feature = Feature(workspace_id=ws, created_by=member.account_id, revision=1, **body)
    session.add(feature)
    session.flush()
    changes = {name: {"old": None, "new": value} for name, value in _state(feature).items()}
    session.add(FeatureRevision(feature_id=feature.id, revision=1, changed_by=member.account_id, changes=changes))
    _publish_feature("catalog.feature.created", feature, sorted(changes))
    commit_or_conflict(db_session(), "A feature with that name exists in this workspace.")
    return feature


@features.route("/workspaces/<ws>/features", methods=["GET"])
@features.arguments(PageQuery, location="query")
@features.response(200, page_schema(schemas.FeatureSchema))
def list_features(query: dict[str, Any], ws: str) -> dict[str, Any]:
    """List the features the caller sees, oldest first

    Developers see only those visible to all."""
    member = require_member(ws)
    stmt = select(Feature).where(Feature.workspace_id == ws)
    if not sees_hidden_features(member):
        stmt = stmt.where(Feature.visible_to_all.is_(True))
    return paginate(db_session(), stmt, query, Feature.created_at, Feature.id)


@features.route("/workspaces/<ws>/features/<feature_id>", methods=["GET"])
@features.response(200, schemas.FeatureSchema)
def get_feature(ws: str, feature_id: str) -> Feature:
    """One feature"""
    return _feature(ws, feature_id, require_member(ws))


@features.route("/workspaces/<ws>/features/<feature_id>", methods=["PATCH"])
@features.arguments(schemas.FeaturePatchSchema)
@features.response(200, schemas.FeatureSchema)
@problems(409)
def patch_feature(body: dict[str, Any], ws: str, feature_id: str) -> Feature:
    """Change a feature

    By an admin; every change becomes a revision: who, when, and each field's old and new value.
    409 when another feature of the workspace has that name."""
    member = require_member(ws, "admin")
    feature = _feature(ws, feature_id, member, lock=True)
    session = db_session()
    if "jsapi_ids" in body:
        body["jsapi_ids"] = _check_jsapis(ws, body["jsapi_ids"])
    if "name" in body:
        body["name"] = body["name"].strip()
        taken = session.scalar(select(Feature.id).where(Feature.workspace_id == ws, Feature.name == body["name"], Feature.id != feature.id))
        if taken:
            raise conflict("A feature with that name exists in this workspace.")
    before = _state(feature)
    changes = {name: {"old": before[name], "new": value} for name, value in body.items() if before[name] != value}
    if changes:
        for name, change in changes.items():
            setattr(feature, name, change["new"])
        feature.revision += 1
        feature.updated_at = utcnow()
        session.add(FeatureRevision(feature_id=feature.id, revision=feature.revision, changed_by=member.account_id, changes=changes))
        _publish_feature("catalog.feature.updated", feature, sorted(changes))
        commit_or_conflict(db_session(), "A feature with that name exists in this workspace.")
    return feature


@features.route("/workspaces/<ws>/features/<feature_id>/history", methods=["GET"])
@features.arguments(NumberedPageQuery, location="query")
@features.response(200, page_schema(schemas.FeatureRevisionSchema))
@features.doc(operationId="features_list_history")
def feature_history(query: dict[str, Any], ws: str, feature_id: str) -> dict[str, Any]:
    """A feature's revisions, oldest first

    The cursor is the last revision number seen."""
    member = require_member(ws)
    _feature(ws, feature_id, member)
    after = cursor_number(query)
    rows = (
        db_session()
        .scalars(
            select(FeatureRevision)
            .where(FeatureRevision.feature_id == feature_id, FeatureRevision.revision > after)
            .order_by(FeatureRevision.revision)
            .limit(query["limit"] + 1)
        )
        .all()
    )
    items = rows[: query["limit"]]
    return {"items": items, "next_cursor": str(items[-1].revision) if len(rows) > query["limit"] else None}
