"""The workspace service's HTTP API: workspaces, developer workspaces, settings, host apps and
their keys, workspace API keys."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta
from urllib.parse import urlparse

from flask import Response, current_app, request
from flask_smorest import Blueprint
from sqlalchemy import exists, func, or_, select

from mpdp_common.apikeys import new_api_key
from mpdp_common.appkeys import app_key_secret, secret_digest
from mpdp_common.auth import current_caller, public, require_member
from mpdp_common.db import commit_or_conflict, db_session, new_id, utcnow
from mpdp_common.errors import conflict, forbidden, not_found, validation_failed
from mpdp_common.idempotency import idempotent
from mpdp_common.pagination import PageQuery, page_schema, paginate
from mpdp_common.web import accepts

from . import schemas
from .events import events, expect_admin, publish_created
from .models import ApiKey, App, AppKey, Asset, Launch, Member, MiniProgram, Workspace, WorkspaceSettings
from .uploads import MULTIPART_OVERHEAD, PURPOSES, check_upload

#: a developer workspace with a version uploaded more recently than this cannot be deleted
RECENT_UPLOAD = timedelta(days=30)
PUBLISHED_LAUNCH_STATUSES = ("released", "grayscale")

workspaces = Blueprint("workspaces", __name__, url_prefix="/api/v1", description="Workspaces and developer workspaces")
settings = Blueprint("settings", __name__, url_prefix="/api/v1", description="Workspace settings and uploaded assets")
apps = Blueprint("apps", __name__, url_prefix="/api/v1", description="Host apps and their signing keys")
api_keys = Blueprint("api_keys", __name__, url_prefix="/api/v1", description="Workspace API keys for automation")


def _box():
    return current_app.extensions["workspace_box"]


def active_workspace(ws: str, *roles: str) -> tuple[Workspace, object]:
    """The workspace and the caller's membership; 404 for non-members and for a workspace that is
    not active (pending, rejected or deleted), 403 for a blocked member or a role not in `roles`."""
    member = require_member(ws, *roles)
    workspace = db_session().get(Workspace, ws)
    if workspace is None or workspace.status != "active":
        raise not_found("workspace")
    return workspace, member


def _not_by_api_key(what: str) -> None:
    if current_caller().is_api_key:
        raise forbidden(f"An API key acts in its own workspace only; it cannot {what}.")


# -- workspaces -----------------------------------------------------------------------------------


#: a developer workspace application that its applicant sees, though not a member
APPLICATION_STATUSES = ("pending_approval", "rejected", "withdrawn")


def _workspace_view(workspace: Workspace, role: str | None = None) -> dict:
    return {name: getattr(workspace, name) for name in schemas.WorkspaceSchema().fields if name != "role"} | {"role": role}


@workspaces.route("/workspaces", methods=["POST"])
@idempotent
@workspaces.arguments(schemas.WorkspaceCreateSchema)
@workspaces.response(201, schemas.WorkspaceSchema, description="A tenant workspace, active at once.")
@workspaces.alt_response(202, schema=schemas.WorkspacePendingSchema, description="A developer workspace, pending approval.")
def create_workspace(body):
    _not_by_api_key("create workspaces")
    caller = current_caller()
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
def list_workspaces(query):
    """The caller's workspaces, and the developer workspaces they applied for."""
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
            ).all()
        )
    return page | {"items": [_workspace_view(item, roles.get(item.id)) for item in page["items"]]}


@workspaces.route("/workspaces/<ws>", methods=["GET"])
@workspaces.response(200, schemas.WorkspaceSchema)
def get_workspace(ws):
    caller = current_caller()
    workspace = db_session().get(Workspace, ws)
    if (
        workspace is not None
        and not caller.is_api_key
        and workspace.created_by == caller.account_id
        and workspace.status in APPLICATION_STATUSES
    ):
        return _workspace_view(workspace)
    workspace, member = active_workspace(ws)
    return _workspace_view(workspace, member.role)


@workspaces.route("/workspaces/<ws>", methods=["PATCH"])
@workspaces.arguments(schemas.WorkspacePatchSchema)
@workspaces.response(200, schemas.WorkspaceSchema)
def patch_workspace(body, ws):
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
def list_developer_workspaces(query, ws):
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
    counts = dict(
        session.execute(
            select(MiniProgram.workspace_id, func.count()).where(MiniProgram.workspace_id.in_(ids)).group_by(MiniProgram.workspace_id)
        ).all()
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
def delete_developer_workspace(ws, developer_ws):
    active_workspace(ws, "admin")
    session = db_session()
    child = session.get(Workspace, developer_ws, with_for_update=True)
    if child is None or child.parent_id != ws or child.kind != "developer" or child.status == "deleted":
        raise not_found("developer workspace")
    published = session.scalar(select(exists().where(Launch.workspace_id == child.id, Launch.status.in_(PUBLISHED_LAUNCH_STATUSES))))
    if published:
        raise conflict("This developer workspace has a published mini program; take it offline first.")
    recent = session.scalar(
        select(exists().where(MiniProgram.workspace_id == child.id, MiniProgram.last_upload_at > utcnow() - RECENT_UPLOAD))
    )
    if recent:
        raise conflict("A version was uploaded to this developer workspace in the last 30 days.")
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


# -- settings -------------------------------------------------------------------------------------

URL_FIELDS = {"logo_url": "logo", "favicon_url": "favicon", "terms_of_service_url": "terms_of_service", "about_us_url": None}
UPLOAD_PATHS = {"logo": "logo", "favicon": "favicon", "terms-of-service": "terms_of_service"}
_ASSET_PATH = re.compile(r"^/api/v1/workspaces/(?P<ws>[^/]+)/assets/(?P<asset>[0-9a-f]{32})$")


def asset_url(asset: Asset) -> str:
    return f"/api/v1/workspaces/{asset.workspace_id}/assets/{asset.id}"


def _check_url(session, ws: str, value: str, purpose: str | None) -> str | None:
    """The problem with `value` as a settings URL, or None: an http(s) URL, or (for what can be
    uploaded) the path of an asset of this workspace uploaded for that purpose."""
    value = value.strip()
    match = _ASSET_PATH.match(value)
    if match and purpose is not None:
        asset = session.get(Asset, match["asset"])
        if match["ws"] != ws or asset is None or asset.workspace_id != ws or asset.purpose != purpose:
            return "Not a file uploaded to this workspace for this setting."
        return None
    if any(character.isspace() for character in value):
        return "Not a valid URL."
    try:
        parsed = urlparse(value)
        hostname = parsed.hostname
    except ValueError:  # an unclosed IPv6 bracket, say
        return "Not a valid URL."
    if parsed.scheme not in ("http", "https") or not hostname:
        return "Not a valid http or https URL."
    return None


def _settings_row(session, ws: str, *, lock: bool = False) -> WorkspaceSettings:
    row = session.get(WorkspaceSettings, ws, with_for_update=lock)
    if row is None:
        row = WorkspaceSettings(workspace_id=ws, alternative_domains=[], tester_whitelist_enabled=False, revision=0)
    return row


def _service_email(row: WorkspaceSettings, **password) -> dict | None:
    """The SMTP settings, with the password as the caller says (never in plain text)."""
    if not row.smtp_host:
        return None
    return {
        "sender": row.sender,
        "smtp_host": row.smtp_host,
        "smtp_port": row.smtp_port,
        "smtp_username": row.smtp_username,
    } | password


def _settings_view(row: WorkspaceSettings) -> dict:
    email = _service_email(row, smtp_password_set=bool(row.smtp_password_encrypted))
    return {
        "logo_url": row.logo_url,
        "favicon_url": row.favicon_url,
        "service_email": email,
        "domains": {"primary": row.primary_domain, "alternatives": list(row.alternative_domains or [])},
        "tester_whitelist_enabled": row.tester_whitelist_enabled,
        "about_us_url": row.about_us_url,
        "terms_of_service_url": row.terms_of_service_url,
        "updated_at": row.updated_at if row.revision else None,
    }


def _publish_settings(session, row: WorkspaceSettings) -> None:
    """The whole settings, the SMTP password only as SecretBox ciphertext."""
    row.revision = (row.revision or 0) + 1
    session.add(row)
    session.flush()
    email = _service_email(row, smtp_password_encrypted=row.smtp_password_encrypted)
    events.publish(
        session,
        "workspace.settings.updated",
        {
            "workspace_id": row.workspace_id,
            "revision": row.revision,
            "logo_url": row.logo_url,
            "favicon_url": row.favicon_url,
            "service_email": email,
            "domains": {"primary": row.primary_domain, "alternatives": list(row.alternative_domains or [])},
            "tester_whitelist_enabled": row.tester_whitelist_enabled,
            "about_us_url": row.about_us_url,
            "terms_of_service_url": row.terms_of_service_url,
        },
        workspace_id=row.workspace_id,
        aggregate_id=row.workspace_id,
    )


@settings.route("/workspaces/<ws>/settings", methods=["GET"])
@settings.response(200, schemas.SettingsSchema)
def get_settings(ws):
    active_workspace(ws)
    return _settings_view(_settings_row(db_session(), ws))


@settings.route("/workspaces/<ws>/settings", methods=["PUT"])
@settings.arguments(schemas.SettingsSchema)
@settings.response(200, schemas.SettingsSchema)
def put_settings(body, ws):
    """Replace the settings. `service_email.smtp_password` is write-only: left out, the stored
    password is kept; `null` or an empty string clears it."""
    active_workspace(ws, "admin")
    session = db_session()
    errors = {}
    for name, purpose in URL_FIELDS.items():
        if body.get(name):
            problem = _check_url(session, ws, body[name], purpose)
            if problem:
                errors[name] = [problem]
            body[name] = body[name].strip()
    if errors:
        raise validation_failed(errors)
    row = _settings_row(session, ws, lock=True)
    for name in URL_FIELDS:
        setattr(row, name, body.get(name))
    row.tester_whitelist_enabled = body["tester_whitelist_enabled"]
    domains = body.get("domains") or {}
    row.primary_domain = (domains.get("primary") or "").lower() or None
    row.alternative_domains = [item.lower() for item in domains.get("alternatives", [])]
    email = body.get("service_email")
    if email is None:
        row.sender = row.smtp_host = row.smtp_port = row.smtp_username = row.smtp_password_encrypted = None
    else:
        row.sender, row.smtp_host, row.smtp_port = email["sender"], email["smtp_host"].lower(), email["smtp_port"]
        row.smtp_username = email.get("smtp_username") or None
        if "smtp_password" in email:
            password = email["smtp_password"]
            row.smtp_password_encrypted = _box().encrypt(password) if password else None
    _publish_settings(session, row)
    session.commit()
    return _settings_view(row)


def _upload(ws: str, purpose: str) -> dict:
    _, member = active_workspace(ws, "admin")
    allowed, limit = PURPOSES[purpose]
    request.max_content_length = limit + MULTIPART_OVERHEAD
    upload = request.files.get("file")
    if upload is None:
        raise validation_failed({"file": ["Send the file as the multipart field `file`."]})
    data = upload.read(limit + 1)
    content_type = check_upload(purpose, data)
    session = db_session()
    asset = Asset(
        id=new_id(),
        workspace_id=ws,
        purpose=purpose,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        uploaded_by=member.account_id,
    )
    session.add(asset)
    row = _settings_row(session, ws, lock=True)
    setattr(row, {"logo": "logo_url", "favicon": "favicon_url", "terms_of_service": "terms_of_service_url"}[purpose], asset_url(asset))
    _publish_settings(session, row)
    session.commit()
    return _settings_view(row)


@settings.route("/workspaces/<ws>/settings/<kind>", methods=["POST"])
@settings.doc(
    requestBody={"content": {"multipart/form-data": {"schema": schemas.UploadSchema}}},
    description="Upload the logo (PNG or SVG, 512 KiB), the favicon (PNG, ICO or SVG, 256 KiB) or the terms of "
    "service (PDF, 5 MiB): `kind` is logo, favicon or terms-of-service. The type is told from the content.",
)
@settings.response(200, schemas.SettingsSchema)
@accepts("multipart/form-data")
def upload_asset(ws, kind):
    if kind not in UPLOAD_PATHS:
        raise not_found("setting that takes an upload")
    return _upload(ws, UPLOAD_PATHS[kind])


@settings.route("/workspaces/<ws>/assets/<asset_id>", methods=["GET"])
@settings.response(200, description="The uploaded file, as uploaded.")
@public
def get_asset(ws, asset_id):
    """Uploaded logos, favicons and terms are public, like any website's: the console and host
    apps show them without a token. Their ids cannot be guessed."""
    asset = db_session().get(Asset, asset_id)
    if asset is None or asset.workspace_id != ws:
        raise not_found("file")
    response = Response(asset.data, mimetype=asset.content_type)
    response.headers["Cache-Control"] = "public, max-age=86400, immutable"
    response.headers["ETag"] = f'"{asset.sha256}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    if asset.purpose == "terms_of_service":
        response.headers["Content-Disposition"] = 'inline; filename="terms-of-service.pdf"'
    return response


# -- host apps ------------------------------------------------------------------------------------


def _app_state(app: App) -> dict:
    return {
        "app_id": app.id,
        "workspace_id": app.workspace_id,
        "name": app.name,
        "platforms": list(app.platforms),
        "bundle_id": app.bundle_id,
        "android_cert_fingerprints": list(app.android_cert_fingerprints),
    }


def _app(session, ws: str, app_id: str, *, lock: bool = False) -> App:
    app = session.get(App, app_id, with_for_update=lock)
    if app is None or app.workspace_id != ws:
        raise not_found("app")
    return app


def _name_taken(session, ws: str, name: str, but: str | None = None) -> None:
    stmt = select(App.id).where(App.workspace_id == ws, func.lower(App.name) == name.lower())
    if but:
        stmt = stmt.where(App.id != but)
    if session.scalar(stmt) is not None:
        raise conflict("An app with that name exists in this workspace.")


@apps.route("/workspaces/<ws>/apps", methods=["POST"])
@idempotent
@apps.arguments(schemas.AppCreateSchema)
@apps.response(201, schemas.AppSchema)
def create_host_app(body, ws):
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
def list_host_apps(query, ws):
    active_workspace(ws)
    return paginate(db_session(), select(App).where(App.workspace_id == ws), query, App.created_at, App.id)


@apps.route("/workspaces/<ws>/apps/<app_id>", methods=["GET"])
@apps.response(200, schemas.AppSchema)
def get_host_app(ws, app_id):
    active_workspace(ws)
    return _app(db_session(), ws, app_id)


@apps.route("/workspaces/<ws>/apps/<app_id>", methods=["PATCH"])
@apps.arguments(schemas.AppPatchSchema)
@apps.response(200, schemas.AppSchema)
def patch_host_app(body, ws, app_id):
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
    now = utcnow()
    if key.revoked_at is not None:
        status = "revoked"
    elif key.expires_at is not None:
        status = "expiring" if key.expires_at > now else "expired"
    else:
        status = "active"
    return {
        "id": key.id,
        "key_id": key.key_id,
        "app_id": key.app_id,
        "label": key.label,
        "status": status,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "created_at": key.created_at,
    }


def _new_key(session, app: App, label: str | None, created_by: str) -> tuple[AppKey, str]:
    key_id = f"mak_{secrets.token_hex(12)}"
    secret = app_key_secret(_box(), key_id)
    key = AppKey(
        id=new_id(),
        key_id=key_id,
        app_id=app.id,
        workspace_id=app.workspace_id,
        label=label,
        secret_hash=secret_digest(secret),
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


def _key(session, ws: str, app_id: str, key_id: str) -> AppKey:
    key = session.scalar(select(AppKey).where(AppKey.id == key_id).with_for_update())
    if key is None or key.app_id != app_id or key.workspace_id != ws:
        raise not_found("app key")
    return key


@apps.route("/workspaces/<ws>/apps/<app_id>/keys", methods=["POST"])
@idempotent
@apps.arguments(schemas.AppKeyCreateSchema)
@apps.response(201, schemas.AppKeyCreatedSchema)
def create_key(body, ws, app_id):
    _, member = active_workspace(ws, "admin")
    session = db_session()
    key, secret = _new_key(session, _app(session, ws, app_id), body.get("label"), member.account_id)
    session.commit()
    return _key_view(key) | {"secret": secret}


@apps.route("/workspaces/<ws>/apps/<app_id>/keys", methods=["GET"])
@apps.arguments(PageQuery, location="query")
@apps.response(200, page_schema(schemas.AppKeySchema))
def list_keys(query, ws, app_id):
    active_workspace(ws, "admin")
    session = db_session()
    _app(session, ws, app_id)
    page = paginate(session, select(AppKey).where(AppKey.app_id == app_id), query, AppKey.created_at, AppKey.id)
    return page | {"items": [_key_view(key) for key in page["items"]]}


@apps.route("/workspaces/<ws>/apps/<app_id>/keys/<key_id>", methods=["DELETE"])
@apps.response(204)
def revoke_key(ws, app_id, key_id):
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
@idempotent
@apps.arguments(schemas.AppKeyRotateSchema)
@apps.response(201, schemas.AppKeyRotatedSchema)
def rotate_key(body, ws, app_id, key_id):
    """A new key for the app; the old one keeps working for `grace_seconds` (at most 30 days)."""
    _, member = active_workspace(ws, "admin")
    session = db_session()
    old = _key(session, ws, app_id, key_id)
    if not old.usable() or old.expires_at is not None:
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


# -- workspace API keys ---------------------------------------------------------------------------


def _api_key_state(key: ApiKey) -> dict:
    """Exactly what mpdp_common.apikeys.follow_api_keys reads."""
    return {
        "api_key_id": key.id,
        "workspace_id": key.workspace_id,
        "role": key.role,
        "token_hash": key.token_hash,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


@api_keys.route("/workspaces/<ws>/api-keys", methods=["POST"])
@idempotent
@api_keys.arguments(schemas.ApiKeyCreateSchema)
@api_keys.response(201, schemas.ApiKeyCreatedSchema)
def create_api_key(body, ws):
    _, member = active_workspace(ws, "admin")
    session = db_session()
    token, token_hash = new_api_key()
    key = ApiKey(
        id=new_id(),
        workspace_id=ws,
        role=body["role"],
        token_hash=token_hash,
        label=body["label"].strip(),
        created_by=member.account_id,
        created_at=utcnow(),
    )
    session.add(key)
    session.flush()
    events.publish(session, "workspace.api_key.created", _api_key_state(key), workspace_id=ws, aggregate_id=key.id)
    session.commit()
    return {name: getattr(key, name) for name in schemas.ApiKeySchema().fields} | {"token": token}


@api_keys.route("/workspaces/<ws>/api-keys", methods=["GET"])
@api_keys.arguments(PageQuery, location="query")
@api_keys.response(200, page_schema(schemas.ApiKeySchema))
def list_api_keys(query, ws):
    active_workspace(ws, "admin")
    return paginate(db_session(), select(ApiKey).where(ApiKey.workspace_id == ws), query, ApiKey.created_at, ApiKey.id)


@api_keys.route("/workspaces/<ws>/api-keys/<key_id>", methods=["DELETE"])
@api_keys.response(204)
def revoke_api_key(ws, key_id):
    active_workspace(ws, "admin")
    session = db_session()
    key = session.get(ApiKey, key_id, with_for_update=True)
    if key is None or key.workspace_id != ws:
        raise not_found("API key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        events.publish(session, "workspace.api_key.revoked", _api_key_state(key), workspace_id=ws, aggregate_id=key.id)
        session.commit()
