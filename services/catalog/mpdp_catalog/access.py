"""Who sees and works on which mini program.

Admins see every mini program of their workspace; reviewers and developers only those they are
assigned to (by `PUT .../developers`, or by the invitation they accepted). A workspace API key
acts for the whole workspace with its role, like the automation it is (a CI uploading versions).
A mini program that the caller may not see answers 404, like one that does not exist.
"""

from __future__ import annotations

from sqlalchemy import select

from mpdp_common.auth import current_caller, require_member
from mpdp_common.errors import not_found
from mpdp_common.request_db import db_session

from .models import Assignment, MiniProgram


def sees_all(member) -> bool:
    return member.role == "admin" or current_caller().is_api_key


def sees_hidden_features(member) -> bool:
    """Features not `visible_to_all` are for admins and reviewers; developers (and developer API keys) do not see them."""
    return member.role != "developer"


def is_assigned(miniprogram_id: str, account_id: str) -> bool:
    return db_session().get(Assignment, (miniprogram_id, account_id)) is not None


def miniprogram_for(ws: str, miniprogram_id: str, *roles: str, lock: bool = False):
    """The caller's membership and the mini program, or 404/403 as the caller deserves."""
    member = require_member(ws, *roles)
    session = db_session()
    miniprogram = session.get(MiniProgram, miniprogram_id, with_for_update=lock)
    if miniprogram is None or miniprogram.workspace_id != ws:
        raise not_found("mini program")
    if not sees_all(member) and not is_assigned(miniprogram.id, member.account_id):
        raise not_found("mini program")
    return member, miniprogram


def developer_ids(miniprogram_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {ident: [] for ident in miniprogram_ids}
    rows = db_session().execute(
        select(Assignment.miniprogram_id, Assignment.account_id)
        .where(Assignment.miniprogram_id.in_(miniprogram_ids))
        .order_by(Assignment.assigned_at, Assignment.account_id)
    )
    for miniprogram_id, account_id in rows:
        found[miniprogram_id].append(account_id)
    return found
