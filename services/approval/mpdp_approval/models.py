from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mpdp_common.apikeys import ApiKeyColumns
from mpdp_common.assignments import AssignmentColumns
from mpdp_common.db import UtcDateTime, created_at_column, id_column
from mpdp_common.membership import MembershipColumns, WorkspacePolicyColumns

TYPES = ("launch", "online", "offline", "developer_workspace", "feature", "miniprogram_change")
STATUSES = ("pending", "approved", "rejected", "withdrawn")


class Base(DeclarativeBase):
    pass


class Approval(Base):
    """A request that a second person approves or rejects; opened by the event of the subject's owner."""

    __tablename__ = "approvals"
    __table_args__ = (
        Index("ix_approvals_workspace_created", "workspace_id", "created_at", "id"),
        Index("ix_approvals_applicant", "workspace_id", "applicant_id", "created_at"),
    )

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    #: pending, then approved, rejected or withdrawn, and never again changed
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    subject_kind: Mapped[str] = mapped_column(String(32), nullable=False)
    subject_id: Mapped[str] = mapped_column(String(64), nullable=False)
    #: what the requesting service said about the request (version, app, reason...), shown as is
    details: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    applicant_id: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)

    @property
    def subject(self) -> dict:
        return {"kind": self.subject_kind, "id": self.subject_id}


class AuditEntry(Base):
    """One step in an approval's life: opened, approved, rejected or withdrawn; who, when, why."""

    __tablename__ = "approval_audit"

    approval_id: Mapped[str] = mapped_column(ForeignKey("approvals.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = created_at_column()
    comment: Mapped[str | None] = mapped_column(Text)


class Member(MembershipColumns, Base):
    """Read model of the workspace members, from identity.member.* events."""

    __tablename__ = "members"


class ApiKey(ApiKeyColumns, Base):
    """Read model of the workspace API keys, from workspace.api_key.* events."""

    __tablename__ = "api_keys"


class Assignment(AssignmentColumns, Base):
    """Read model of who is assigned to which mini program, from catalog.assignment.* events: a
    developer taken off a mini program no longer acts on its requests here either."""

    __tablename__ = "assignments"

    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False)


class WorkspacePolicy(WorkspacePolicyColumns, Base):
    """Read model of whether a workspace requires two-factor sign-in, from workspace.settings.updated."""

    __tablename__ = "workspace_policies"
