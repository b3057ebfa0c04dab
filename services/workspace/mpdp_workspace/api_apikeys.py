"""Workspace API keys: Bearer tokens for automation, each with one role in one workspace, acting
for the admin who created them. Every other service learns them from `workspace.api_key.*` events."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import select

from mpdp_common.apikeys import new_api_key
from mpdp_common.db import new_id, utcnow
from mpdp_common.errors import not_found
from mpdp_common.idempotency import idempotent
from mpdp_common.pagination import PageQuery, page_schema, paginate
from mpdp_common.request_db import db_session

from . import schemas
from .access import active_workspace, admin_of_active_workspace
from .events import publish_api_key
from .models import ApiKey

api_keys = Blueprint("api_keys", __name__, url_prefix="/api/v1", description="Workspace API keys for automation")


@api_keys.route("/workspaces/<ws>/api-keys", methods=["POST"])
@idempotent(authorize=admin_of_active_workspace)
@api_keys.arguments(schemas.ApiKeyCreateSchema)
@api_keys.response(201, schemas.ApiKeyCreatedSchema)
def create_api_key(body: dict[str, Any], ws: str) -> dict:
    """Create a workspace API key for automation

    By an admin; the key acts for its creator with its own role, and its token is answered here
    once."""
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
    publish_api_key(session, "workspace.api_key.created", key)
    session.commit()
    return {name: getattr(key, name) for name in schemas.ApiKeySchema().fields} | {"token": token}


@api_keys.route("/workspaces/<ws>/api-keys", methods=["GET"])
@api_keys.arguments(PageQuery, location="query")
@api_keys.response(200, page_schema(schemas.ApiKeySchema))
def list_api_keys(query: dict[str, Any], ws: str) -> dict[str, Any]:
    """List the workspace's API keys, without their tokens"""
    active_workspace(ws, "admin")
    return paginate(db_session(), select(ApiKey).where(ApiKey.workspace_id == ws), query, ApiKey.created_at, ApiKey.id)


@api_keys.route("/workspaces/<ws>/api-keys/<key_id>", methods=["DELETE"])
@api_keys.response(204)
def revoke_api_key(ws: str, key_id: str) -> None:
    """Revoke a workspace API key

    By an admin; it stops working everywhere within a second."""
    active_workspace(ws, "admin")
    session = db_session()
    key = session.get(ApiKey, key_id, with_for_update=True)
    if key is None or key.workspace_id != ws:
        raise not_found("API key")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        publish_api_key(session, "workspace.api_key.revoked", key)
        session.commit()
