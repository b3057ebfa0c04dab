"""Host apps (the super apps that run mini programs) and their signing keys. A key's secret is
derived from the platform secret and shown once; only its digest is kept."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mpdp_common.appkeys import app_key_secret
from mpdp_common.crypto import digest, secret_box
from mpdp_common.db import new_id, utcnow
from mpdp_common.errors import conflict, not_found
from mpdp_common.idempotency import idempotent
from mpdp_common.openapi import problems
from mpdp_common.pagination import PageQuery, page_schema, paginate
from mpdp_common.request_db import commit_or_conflict, db_session
from mpdp_common.web import current_settings

from . import schemas
from .access import active_workspace, admin_of_active_workspace
from .events import events
from .models import App, AppKey

apps = Blueprint("apps", __name__, url_prefix="/api/v1", description="Host apps and their signing keys")


def _app_state(app: App) -> dict:
    return {
        "app_id": app.id,
        "workspace_id": app.workspace_id,
        "name": app.name,
        "platforms": list(app.platforms),
        "bundle_id": app.bundle_id,
        "android_cert_fingerprints": list(app.android_cert_fingerprints),
    }


def _app(session: Session, ws: str, app_id: str, *, lock: bool = False) -> App:
    app = session.get(App, app_id, with_for_update=lock)
    if app is None or app.workspace_id != ws:
        raise not_found("app")
    return app


def _name_taken(session: Session, ws: str, name: str, but: str | None = None) -> None:
    stmt = select(App.id).where(App.workspace_id == ws, func.lower(App.name) == name.lower())
    if but:
        stmt = stmt.where(App.id != but)
    if session.scalar(stmt) is not None:
        raise conflict("An app with that name exists in this workspace.")


@apps.route("/workspaces/<ws>/apps", methods=["POST"])
@idempotent(authorize=admin_of_active_workspace)
@apps.arguments(schemas.AppCreateSchema)
@apps.response(201, schemas.AppSchema)
@apps.doc(operationId="apps_create")
def create_host_app(body: dict[str, Any], ws: str) -> App:
    """Register a host app

    By an admin; 409 when the workspace has an app of that name."""
    _, member = active_workspace(ws, "admin")
    session = db_session()
    _name_taken(session, ws, body["name"])
    app = App(workspace_id=ws, created_by=member.account_id, **body)
    session.add(app)
    session.flush()
    events.publish(session, "workspace.app.created", _app_state(app), workspace_id=ws, aggregate_id=app.id)
    commit_or_conflict(session, "An app with that name exists in this workspace.")
    return app


@apps.route("/workspaces/<ws>/apps", methods=["GET"])
@apps.arguments(PageQuery, location="query")
@apps.response(200, page_schema(schemas.AppSchema))
@apps.doc(operationId="apps_list")
def list_host_apps(query: dict[str, Any], ws: str) -> dict[str, Any]:
    """List the workspace's host apps, oldest first"""
    active_workspace(ws)
    return paginate(db_session(), select(App).where(App.workspace_id == ws), query, App.created_at, App.id)


@apps.route("/workspaces/<ws>/apps/<app_id>", methods=["GET"])
@apps.response(200, schemas.AppSchema)
@apps.doc(operationId="apps_get")
def get_host_app(ws: str, app_id: str) -> App:
    """One host app"""
    active_workspace(ws)
    return _app(db_session(), ws, app_id)


@apps.route("/workspaces/<ws>/apps/<app_id>", methods=["PATCH"])
@apps.arguments(schemas.AppPatchSchema)
@apps.response(200, schemas.AppSchema)
@apps.doc(operationId="apps_update")
@problems(409)
def patch_host_app(body: dict[str, Any], ws: str, app_id: str) -> App:
    """Change a host app

    By an admin; 409 when another app of the workspace has that name."""
    active_workspace(ws, "admin")
    session = db_session()
    app = _app(session, ws, app_id, lock=True)
    if "name" in body:
        _name_taken(session, ws, body["name"], but=app.id)
    changed = {name: value for name, value in body.items() if getattr(app, name) != value}
    if changed:
        for name, value in changed.items():
            setattr(app, name, value)
        session.flush()
        events.publish(
            session, "workspace.app.updated", _app_state(app) | {"changed": sorted(changed)}, workspace_id=ws, aggregate_id=app.id
        )
        commit_or_conflict(session, "An app with that name exists in this workspace.")
    return app


# -- app keys -------------------------------------------------------------------------------------


def _key_view(key: AppKey) -> dict:
    return {
        "id": key.id,
        "key_id": key.key_id,
        "app_id": key.app_id,
        "label": key.label,
        "status": key.status(),
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "created_at": key.created_at,
    }


def _new_key(session: Session, app: App, label: str | None, created_by: str) -> tuple[AppKey, str]:
    key_id = f"mak_{secrets.token_hex(12)}"
    secret = app_key_secret(secret_box(current_settings()), key_id)
    key = AppKey(
        id=new_id(),
        key_id=key_id,
        app_id=app.id,
        workspace_id=app.workspace_id,
        label=label,
        secret_hash=digest(secret),
        created_by=created_by,
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    events.publish(
        session,
        "workspace.app_key.created",
        {"id": key.id, "key_id": key.key_id, "app_id": app.id, "workspace_id": app.workspace_id, "expires_at": None},
        workspace_id=app.workspace_id,
        aggregate_id=key.key_id,
    )
    return key, secret


def _key(session: Session, ws: str, app_id: str, key_id: str) -> AppKey:
    key = session.scalar(select(AppKey).where(AppKey.id == key_id).with_for_update())
    if key is None or key.app_id != app_id or key.workspace_id != ws:
        raise not_found("app key")
    return key


@apps.route("/workspaces/<ws>/apps/<app_id>/keys", methods=["POST"])
@idempotent(authorize=admin_of_active_workspace)
@apps.arguments(schemas.AppKeyCreateSchema)
@apps.response(201, schemas.AppKeyCreatedSchema)
def create_key(body: dict[str, Any], ws: str, app_id: str) -> dict:
    """Issue a signing key for a host app

    By an admin; the key's secret is answered here once."""
    _, member = active_workspace(ws, "admin")
    session = db_session()
    key, secret = _new_key(session, _app(session, ws, app_id), body.get("label"), member.account_id)
    session.commit()
    return _key_view(key) | {"secret": secret}


@apps.route("/workspaces/<ws>/apps/<app_id>/keys", methods=["GET"])
@apps.arguments(PageQuery, location="query")
@apps.response(200, page_schema(schemas.AppKeySchema))
def list_keys(query: dict[str, Any], ws: str, app_id: str) -> dict[str, Any]:
    """List a host app's keys, without their secrets"""
    active_workspace(ws, "admin")
    session = db_session()
    _app(session, ws, app_id)
    page = paginate(session, select(AppKey).where(AppKey.app_id == app_id), query, AppKey.created_at, AppKey.id)
    return page | {"items": [_key_view(key) for key in page["items"]]}


@apps.route("/workspaces/<ws>/apps/<app_id>/keys/<key_id>", methods=["DELETE"])
@apps.response(204)
def revoke_key(ws: str, app_id: str, key_id: str) -> None:
    """Revoke a host app's key

    By an admin; it stops working everywhere within a second."""
    active_workspace(ws, "admin")
    session = db_session()
    key = _key(session, ws, app_id, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        events.publish(
            session,
            "workspace.app_key.revoked",
            {"key_id": key.key_id, "app_id": key.app_id, "workspace_id": ws, "revoked_at": key.revoked_at.isoformat()},
            workspace_id=ws,
            aggregate_id=key.key_id,
        )
        session.commit()


@apps.route("/workspaces/<ws>/apps/<app_id>/keys/<key_id>/rotate", methods=["POST"])
@idempotent(authorize=admin_of_active_workspace)
@apps.arguments(schemas.AppKeyRotateSchema)
@apps.response(201, schemas.AppKeyRotatedSchema)
def rotate_key(body: dict[str, Any], ws: str, app_id: str, key_id: str) -> dict:
    """Rotate a host app's key

    A new key for the app (its secret answered once); the old one keeps working for
    `grace_seconds` (at most 30 days). 409 unless the old key is active."""
    _, member = active_workspace(ws, "admin")
    session = db_session()
    old = _key(session, ws, app_id, key_id)
    if old.status() != "active":
        raise conflict("Only an active key that is not being replaced already can be rotated.")
    old.expires_at = utcnow() + timedelta(seconds=body["grace_seconds"])
    new, secret = _new_key(session, _app(session, ws, app_id), body.get("label") or old.label, member.account_id)
    events.publish(
        session,
        "workspace.app_key.rotated",
        {
            "old_key_id": old.key_id,
            "new_key_id": new.key_id,
            "old_expires_at": old.expires_at.isoformat(),
            "app_id": app_id,
            "workspace_id": ws,
        },
        workspace_id=ws,
        aggregate_id=old.key_id,
    )
    session.commit()
    return _key_view(new) | {"secret": secret, "replaces": _key_view(old)}
