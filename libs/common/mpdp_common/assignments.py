"""Who sees which mini program, in every service that shows one.

Admins see every mini program of their workspace; reviewers and developers only those they are
assigned to (the catalog owns the assignments; a service that shows a mini program's data keeps
them as a read model). A workspace API key acts for the whole workspace with its role, like the
automation it is. A mini program that the caller may not see answers 404, like one that does not
exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select

from .auth import Membership, current_caller, require_member
from .errors import not_found
from .request_db import db_session


def sees_all(member: Membership) -> bool:
    return member.role == "admin" or current_caller().is_api_key


@dataclass(frozen=True)
class MiniProgramAccess:
    """The rule over one service's tables: its mini programs (with `workspace_id`) and their
    assignments (keyed by `(miniprogram_id, account_id)`)."""

    miniprogram_model: type[Any]
    assignment_model: type[Any]

    def sees(self, member: Membership, miniprogram_id: str) -> bool:
        return sees_all(member) or self.is_assigned(miniprogram_id, member.account_id)

    def is_assigned(self, miniprogram_id: str, account_id: str) -> bool:
        return db_session().get(self.assignment_model, (miniprogram_id, account_id)) is not None

    def miniprogram_for(self, ws: str, miniprogram_id: str, *roles: str, lock: bool = False) -> tuple[Membership, Any]:
        """The caller's membership and the mini program, or 404/403 as the caller deserves."""
        member = require_member(ws, *roles)
        miniprogram = db_session().get(self.miniprogram_model, miniprogram_id, with_for_update=lock)
        if miniprogram is None or miniprogram.workspace_id != ws or not self.sees(member, miniprogram.id):
            raise not_found("mini program")
        return member, miniprogram

    def visible(self, stmt: Select, member: Membership, miniprogram_id_column: Any) -> Select:
        """`stmt` limited to the rows of the mini programs `member` sees."""
        if sees_all(member):
            return stmt
        assignment = self.assignment_model
        assigned = select(assignment.miniprogram_id).where(assignment.account_id == member.account_id)
        return stmt.where(miniprogram_id_column.in_(assigned))
