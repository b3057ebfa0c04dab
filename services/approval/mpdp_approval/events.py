"""What the approval service publishes, and the operations on an approval that publish it.

An approval is opened only by the event of the service that owns its subject, in the workspace
that event names (see handlers.py), and says so (`approval.approval.opened`, for notifications
and webhooks); the decision goes back as `approval.approval.decided` (or
`approval.approval.withdrawn`), which the owner applies in its own consumer.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mpdp_common.contracts.approval import DECIDED, OPENED, WITHDRAWN
from mpdp_common.db import utcnow
from mpdp_common.events import EventSpec

from .models import Approval, AuditEntry, Base

log = logging.getLogger(__name__)


#: publishes what mpdp_common.contracts.approval declares
events = EventSpec("approval", Base.metadata)


def audit(session: Session, approval: Approval, action: str, actor_id: str, comment: str | None = None) -> None:
    seq = (session.scalar(select(func.max(AuditEntry.seq)).where(AuditEntry.approval_id == approval.id)) or 0) + 1
    session.add(AuditEntry(approval_id=approval.id, seq=seq, action=action, actor_id=actor_id, at=utcnow(), comment=comment))


def open_approval(
    session: Session, *, approval_id: str, workspace_id: str, type: str, title: str, subject: dict, applicant_id: str, details: dict
) -> None:
    if session.get(Approval, approval_id) is not None:
        return
    approval = Approval(
        id=approval_id,
        workspace_id=workspace_id,
        type=type,
        status="pending",
        title=title[:300],
        subject_kind=subject["kind"],
        subject_id=subject["id"],
        details=details,
        applicant_id=applicant_id,
        created_at=utcnow(),
    )
    session.add(approval)
    session.flush()
    audit(session, approval, "opened", applicant_id)
    opening = _outcome(approval) | {"title": approval.title, "opened_at": approval.created_at.isoformat()}
    events.publish(session, OPENED, opening, workspace_id=workspace_id, aggregate_id=approval.id)


def close(session: Session, approval: Approval, status: str, by: str, comment: str | None = None) -> datetime:
    """The approval's final status, who set it, when and why, in its fields and its trail; returns when."""
    closed_at = utcnow()
    approval.status, approval.decided_by, approval.decided_at, approval.comment = status, by, closed_at, comment
    audit(session, approval, status, by, comment)
    return closed_at


def decide(session: Session, approval: Approval, status: str, by: str, comment: str | None) -> None:
    decided_at = close(session, approval, status, by, comment)
    decision = _outcome(approval) | {"status": status, "decided_by": by, "decided_at": decided_at.isoformat(), "comment": comment}
    events.publish(session, DECIDED, decision, workspace_id=approval.workspace_id, aggregate_id=approval.id)


def withdraw(session: Session, approval: Approval, by: str) -> None:
    withdrawn_at = close(session, approval, "withdrawn", by)
    withdrawal = _outcome(approval) | {"withdrawn_by": by, "withdrawn_at": withdrawn_at.isoformat()}
    events.publish(session, WITHDRAWN, withdrawal, workspace_id=approval.workspace_id, aggregate_id=approval.id)


def _outcome(approval: Approval) -> dict[str, Any]:
    """What a decision and a withdrawal both say: which approval, and what it was about."""
    return {
        "approval_id": approval.id,
        "workspace_id": approval.workspace_id,
        "type": approval.type,
        "subject": {"kind": approval.subject_kind, "id": approval.subject_id},
        "applicant_id": approval.applicant_id,
    }
