"""Workspace settings (branding, service email, domains, tester whitelist, package size limit) and the files uploaded
for them, which are served back publicly. The settings go to other services whole, with a
revision, in `workspace.settings.updated`."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

from flask import Response, request
from flask_smorest import Blueprint
from sqlalchemy.orm import Session

from mpdp_common.auth import current_caller, mfa_required, public
from mpdp_common.crypto import digest, secret_box
from mpdp_common.db import new_id
from mpdp_common.errors import not_found, validation_failed
from mpdp_common.openapi import problems
from mpdp_common.request_db import db_session
from mpdp_common.web import accepts, current_settings

from . import schemas
from .access import active_workspace
from .events import events
from .models import Asset, WorkspaceSettings
from .uploads import MULTIPART_OVERHEAD, PURPOSES, check_upload

#: what the uploaded files are served as (`uploads.PURPOSES`)
_ASSET_TYPES = sorted({content_type for types, _limit in PURPOSES.values() for content_type in types})

settings = Blueprint("settings", __name__, url_prefix="/api/v1", description="Workspace settings and uploaded assets")

#: a setting that takes an upload is named for its purpose (`logo_url` for `logo`), and so is its
#: upload path (`/settings/terms-of-service` for `terms_of_service`)
URL_FIELDS = {f"{purpose}_url": purpose for purpose in PURPOSES} | {"about_us_url": None}
UPLOAD_PATHS = {purpose.replace("_", "-"): purpose for purpose in PURPOSES}
#: the largest package an upload may send while the settings name no limit
DEFAULT_PACKAGE_SIZE_LIMIT = 8 * 1024 * 1024
_ASSET_PATH = re.compile(r"^/api/v1/workspaces/(?P<ws>[^/]+)/assets/(?P<asset>[0-9a-f]{32})$")


def asset_url(asset: Asset) -> str:
    return f"/api/v1/workspaces/{asset.workspace_id}/assets/{asset.id}"


def _check_url(session: Session, ws: str, value: str, purpose: str | None) -> str | None:
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


def _check_can_require_mfa() -> None:
    """409 unless the caller signed in with the second factor: an admin cannot require of others
    what they do not use (a token has the second factor only while the account has TOTP on)."""
    caller = current_caller()
    if caller.is_api_key or not caller.second_factor:
        raise mfa_required(
            "Turn on two-factor sign-in for your own account, and sign in with its code, before requiring it of the workspace.",
            status=409,
        )


def _settings_row(session: Session, ws: str, *, lock: bool = False) -> WorkspaceSettings:
    row = session.get(WorkspaceSettings, ws, with_for_update=lock)
    if row is None:
        row = WorkspaceSettings(workspace_id=ws, alternative_domains=[], tester_whitelist_enabled=False, require_mfa=False, revision=0)
    return row


def _service_email(row: WorkspaceSettings, **password: bool | str | None) -> dict | None:
    """The SMTP settings, with the password as the caller says (never in plain text)."""
    if not row.smtp_host:
        return None
    return {
        "sender": row.sender,
        "smtp_host": row.smtp_host,
        "smtp_port": row.smtp_port,
        "smtp_username": row.smtp_username,
    } | password


def _settings_state(row: WorkspaceSettings, **password: bool | str | None) -> dict:
    """The settings as the API answers them and as workspace.settings.updated carries them."""
    return {
        **{name: getattr(row, name) for name in URL_FIELDS},
        "service_email": _service_email(row, **password),
        "domains": {"primary": row.primary_domain, "alternatives": list(row.alternative_domains or [])},
        "tester_whitelist_enabled": row.tester_whitelist_enabled,
        "package_size_limit_bytes": row.package_size_limit_bytes or DEFAULT_PACKAGE_SIZE_LIMIT,
        "require_mfa": bool(row.require_mfa),
    }


def _settings_view(row: WorkspaceSettings) -> dict:
    return _settings_state(row, smtp_password_set=bool(row.smtp_password_encrypted)) | {
        "updated_at": row.updated_at if row.revision else None
    }


def _publish_settings(session: Session, row: WorkspaceSettings) -> None:
    """The whole settings, the SMTP password only as SecretBox ciphertext."""
    row.revision = (row.revision or 0) + 1
    session.add(row)
    session.flush()
    events.publish(
        session,
        "workspace.settings.updated",
        {"workspace_id": row.workspace_id, "revision": row.revision}
        | _settings_state(row, smtp_password_encrypted=row.smtp_password_encrypted),
        workspace_id=row.workspace_id,
        aggregate_id=row.workspace_id,
    )


@settings.route("/workspaces/<ws>/settings", methods=["GET"])
@settings.response(200, schemas.SettingsSchema)
def get_settings(ws: str) -> dict:
    """The workspace's settings"""
    active_workspace(ws)
    return _settings_view(_settings_row(db_session(), ws))


@settings.route("/workspaces/<ws>/settings", methods=["PUT"])
@settings.arguments(schemas.SettingsPutSchema)
@settings.response(200, schemas.SettingsSchema)
@problems(409)
def put_settings(body: dict[str, Any], ws: str) -> dict:
    """Replace the workspace's settings

    By an admin. `service_email.smtp_password` is write-only: left out, the stored password is
    kept; `null` or an empty string clears it. `package_size_limit_bytes` left out is kept, `null`
    is the default (8 MiB). A URL setting that takes an upload may name the
    path of a file uploaded to this workspace for it. `require_mfa` left out is kept; turning it
    on takes an admin signed in with the second factor (409 `urn:mpdp:problem:mfa-required`
    otherwise), and then every member needs it in every service."""
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
    if "package_size_limit_bytes" in body:  # left out: kept
        limit = body["package_size_limit_bytes"]
        ceiling = current_settings().max_package_bytes
        if limit is not None and limit > ceiling:
            raise validation_failed({"package_size_limit_bytes": [f"At most {ceiling} bytes, the platform's own limit."]})
        row.package_size_limit_bytes = limit
    if "require_mfa" in body:  # left out: kept
        if body["require_mfa"] and not row.require_mfa:
            _check_can_require_mfa()
        row.require_mfa = body["require_mfa"]
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
            row.smtp_password_encrypted = secret_box(current_settings()).encrypt(password) if password else None
    _publish_settings(session, row)
    session.commit()
    return _settings_view(row)


def _upload(ws: str, purpose: str) -> dict:
    _, member = active_workspace(ws, "admin")
    _, limit = PURPOSES[purpose]
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
        sha256=digest(data),
        data=data,
        uploaded_by=member.account_id,
    )
    session.add(asset)
    row = _settings_row(session, ws, lock=True)
    setattr(row, f"{purpose}_url", asset_url(asset))
    _publish_settings(session, row)
    session.commit()
    return _settings_view(row)


@settings.route("/workspaces/<ws>/settings/<kind>", methods=["POST"])
@settings.doc(
    requestBody={"required": True, "content": {"multipart/form-data": {"schema": schemas.UploadSchema}}},
    parameters=[{"in": "path", "name": "kind", "required": True, "schema": {"type": "string", "enum": sorted(UPLOAD_PATHS)}}],
)
@settings.response(200, schemas.SettingsSchema)
@accepts("multipart/form-data")
@problems(422)
def upload_asset(ws: str, kind: str) -> dict:
    """Upload the logo, the favicon or the terms of service

    By an admin: the logo (PNG or SVG, 512 KiB), the favicon (PNG, ICO or SVG, 256 KiB) or the
    terms of service (PDF, 5 MiB), as the multipart field `file`; its type is told from the
    content (422 for another). The setting then names the uploaded file."""
    if kind not in UPLOAD_PATHS:
        raise not_found("setting that takes an upload")
    return _upload(ws, UPLOAD_PATHS[kind])


@settings.route("/workspaces/<ws>/assets/<asset_id>", methods=["GET"])
@settings.doc(
    responses={
        "200": {
            "description": "The uploaded file, as uploaded",
            "headers": {"ETag": {"description": "the file's SHA-256", "schema": {"type": "string"}}},
            "content": {content_type: {"schema": {"type": "string", "format": "binary"}} for content_type in _ASSET_TYPES},
        }
    }
)
@public
def get_asset(ws: str, asset_id: str) -> Response:
    """An uploaded logo, favicon or terms of service

    Public, like any website's: the console and host apps show them without a token. Their ids
    cannot be guessed."""
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
