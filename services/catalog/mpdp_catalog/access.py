"""Who sees and works on which mini program: the platform's rule (`mpdp_common.assignments`) over
the catalog's own tables. Members are assigned to a mini program by `PUT .../developers`, or by
the invitation they accepted; the catalog publishes each assignment for the services that show a
mini program's data.
"""

from __future__ import annotations

from sqlalchemy import select

from mpdp_common.assignments import MiniProgramAccess
from mpdp_common.auth import Membership
from mpdp_common.request_db import db_session

from .models import Assignment, MiniProgram

access = MiniProgramAccess(MiniProgram, Assignment)
miniprogram_for = access.miniprogram_for


def sees_hidden_features(member: Membership) -> bool:
    """Features not `visible_to_all` are for admins and reviewers; developers (and developer API keys) do not see them."""
    return member.role != "developer"


def developer_ids(miniprogram_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {ident: [] for ident in miniprogram_ids}
    rows = db_session().execute(
        select(Assignment.miniprogram_id, Assignment.account_id)
        .where(Assignment.miniprogram_id.in_(miniprogram_ids), Assignment.assigned)
        .order_by(Assignment.assigned_at, Assignment.account_id)
    )
    for miniprogram_id, account_id in rows:
        found[miniprogram_id].append(account_id)
    return found
