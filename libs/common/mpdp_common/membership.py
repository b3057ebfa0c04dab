"""The membership read model that every service keeps from `identity.member.*` events.

Each member event carries the member's whole state and a revision number, so that a handler can
apply events in any order: an older revision than the one stored changes nothing.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .events import EventSpec, follow_state

MEMBER_EVENTS = (
    "identity.member.added",
    "identity.member.role_changed",
    "identity.member.blocked",
    "identity.member.unblocked",
    "identity.member.removed",
)


class MembershipColumns:
    """Columns shared by identity's members table and every other service's read model."""

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    #: active, blocked or removed
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    def state(self) -> dict:
        return {
            "workspace_id": self.workspace_id,
            "account_id": self.account_id,
            "role": self.role,
            "status": self.status,
            "revision": self.revision,
        }


def follow_members(events: EventSpec, model: type) -> None:
    """Register the handlers that keep `model` (a MembershipColumns table) up to date."""
    follow_state(events, MEMBER_EVENTS, model, key=("workspace_id", "account_id"), fields=("role", "status"))


#: the event that carries a workspace's settings, `require_mfa` among them
SETTINGS_EVENT = "workspace.settings.updated"


class WorkspacePolicyColumns:
    """What authorization reads of a workspace's settings: whether its members need two-factor
    sign-in. A service that keeps a read model of the settings already adds `require_mfa` to it
    (one handler per event); the others keep a table of these columns (`follow_workspace_policy`)."""

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    require_mfa: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


def follow_workspace_policy(events: EventSpec, model: type) -> None:
    """Register the handler that keeps `model` (a WorkspacePolicyColumns table) up to date."""
    follow_state(events, (SETTINGS_EVENT,), model, key=("workspace_id",), fields=("require_mfa",))
