"""Who sees which mini program, in every service that shows one.

Admins and reviewers see every mini program of their workspace (a reviewer judges a request
beside what is live, read-only); developers only those they are assigned to. The catalog owns the
assignments; a service that shows a mini program's data keeps them as a read model. A workspace
API key acts for the whole workspace with its role, like the automation it is. A mini program
that the caller may not see answers 404, like one that does not exist.

An assignment that ends is kept, unassigned, with its revision: each `catalog.assignment.*` event
carries the whole state and a revision, so a read model applies them in any order (an older
revision than the one stored changes nothing), and a late `added` cannot bring back an assignment
that a newer `removed` ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Boolean, Integer, Select, select
from sqlalchemy.orm import Mapped, mapped_column

from .auth import Membership, current_caller, require_member
from .errors import not_found
from .events import EventSpec, follow_state
from .request_db import db_session

ASSIGNMENT_EVENTS = ("catalog.assignment.added", "catalog.assignment.removed")


class AssignmentColumns:
    """The state that the catalog's assignments and every read model of them share, beside their
    key `(miniprogram_id, account_id)` and `workspace_id`."""

    #: false once the member is unassigned: the row stays, so that its revision outlives it
    assigned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1)


def follow_assignments(events: EventSpec, model: type) -> None:
    """Register the handlers that keep `model` (an AssignmentColumns table) up to date."""
    # An equal revision is the same state again, or two events from before revisions: the later one wins.
    follow_state(
        events,
        ASSIGNMENT_EVENTS,
        model,
        key=("miniprogram_id", "account_id"),
        fields=("workspace_id", "assigned"),
        equal_revision_applies=True,
    )


#: the roles that see every mini program of their workspace
SEE_ALL = ("admin", "reviewer")


def sees_all(member: Membership) -> bool:
    return member.role in SEE_ALL or current_caller().is_api_key


class MiniProgramColumns(Protocol):
    """What the rule reads of a mini program, in any service's table of them."""

    @property
    def id(self) -> str: ...
    @property
    def workspace_id(self) -> str: ...


MiniProgramRow = TypeVar("MiniProgramRow", bound=MiniProgramColumns)


@dataclass(frozen=True)
class MiniProgramAccess(Generic[MiniProgramRow]):
    """The rule over one service's tables: its mini programs (with `workspace_id`) and their
    assignments (AssignmentColumns, keyed by `(miniprogram_id, account_id)`)."""

    miniprogram_model: type[MiniProgramRow]
    assignment_model: type[Any]

    def sees(self, member: Membership, miniprogram_id: str) -> bool:
        return sees_all(member) or self.is_assigned(miniprogram_id, member.account_id)

    def is_assigned(self, miniprogram_id: str, account_id: str) -> bool:
        assignment = db_session().get(self.assignment_model, (miniprogram_id, account_id))
        return assignment is not None and assignment.assigned

    def miniprogram_for(self, ws: str, miniprogram_id: str, *roles: str, lock: bool = False) -> tuple[Membership, MiniProgramRow]:
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
        assigned = select(assignment.miniprogram_id).where(assignment.account_id == member.account_id, assignment.assigned)
        return stmt.where(miniprogram_id_column.in_(assigned))
