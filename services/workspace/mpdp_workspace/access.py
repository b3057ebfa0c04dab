"""Who may act in which workspace."""

from __future__ import annotations

from mpdp_common.auth import Membership, require_member
from mpdp_common.errors import not_found
from mpdp_common.request_db import db_session

from .models import Workspace


def active_workspace(ws: str, *roles: str, without_mfa: bool = False) -> tuple[Workspace, Membership]:
    """The workspace and the caller's membership; 404 for non-members and for a workspace that is
    not active (pending, rejected or deleted), 403 for a blocked member, a role not in `roles`, or
    a sign-in without the second factor where the workspace requires it (unless `without_mfa`)."""
    member = require_member(ws, *roles, without_mfa=without_mfa)
    workspace = db_session().get(Workspace, ws)
    if workspace is None or workspace.status != "active":
        raise not_found("workspace")
    return workspace, member


def admin_of_active_workspace(ws: str, **_route_arguments: str) -> None:
    """`active_workspace(ws, "admin")` as `idempotent` authorizes a replay with it: a workspace
    deleted since refuses a retried create as it refuses a new one."""
    active_workspace(ws, "admin")
