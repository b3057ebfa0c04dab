"""Who sees which mini program's analytics and crashes: admins (and workspace API keys) every
mini program of their workspace, reviewers and developers those assigned to them. A mini
program the caller may not see answers 404, like one that does not exist."""

from __future__ import annotations

from sqlalchemy import select

from mpdp_common.auth import current_caller, require_member
from mpdp_common.errors import not_found
from mpdp_common.request_db import db_session

from .models import Assignment, MiniProgram


def sees_all(member) -> bool:
    return member.role == "admin" or current_caller().is_api_key


def miniprogram_for(ws: str, miniprogram_id: str, *roles: str):
    """The caller's membership and the mini program, or 404/403 as the caller deserves."""
    member = require_member(ws, *roles)
    session = db_session()
    miniprogram = session.get(MiniProgram, miniprogram_id)
    if miniprogram is None or miniprogram.workspace_id != ws:
        raise not_found("mini program")
    if not sees(member, miniprogram_id):
        raise not_found("mini program")
    return member, miniprogram


def sees(member, miniprogram_id: str) -> bool:
    return sees_all(member) or db_session().get(Assignment, (miniprogram_id, member.account_id)) is not None


def visible_miniprogram_ids(ws: str) -> list[str] | None:
    """The mini programs of `ws` the caller may see; None when that is all of them."""
    member = require_member(ws)
    if sees_all(member):
        return None
    return list(
        db_session().scalars(
            select(Assignment.miniprogram_id).where(Assignment.workspace_id == ws, Assignment.account_id == member.account_id)
        )
    )
