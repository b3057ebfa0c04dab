"""What the approval service publishes, and the one way its consumers read a decision or a
withdrawal.

The subject of an approval belongs to another service (a developer workspace to workspace, a
feature activation or a launch to catalog); that service applies the decision (or the
withdrawal, `Withdrawal.from_event`) in its consumer:

    @events.handles(DECIDED)
    def on_approval_decided(session, event):
        decision = Decision.from_event(event)
        if decision.concerns("feature", "feature_activation"):
            ...
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, Self

from marshmallow import fields, validate

from . import Payload, declare

DECIDED = "approval.approval.decided"
WITHDRAWN = "approval.approval.withdrawn"


class SubjectShape(Payload):
    kind = fields.String()
    id = fields.String()


@declare(DECIDED)
class ApprovalDecided(Payload):
    approval_id = fields.String()
    #: the workspace where the approval was decided (a developer workspace's parent tenant)
    workspace_id = fields.String()
    #: developer_workspace, feature, launch, offline, online
    type = fields.String()
    status = fields.String(validate=validate.OneOf(("approved", "rejected")))
    subject = fields.Nested(SubjectShape)
    applicant_id = fields.String()
    decided_by = fields.String()
    decided_at = fields.DateTime()
    comment = fields.String(allow_none=True)


@declare(WITHDRAWN)
class ApprovalWithdrawn(Payload):
    """The applicant withdrew a pending approval: its subject goes back to where it was before."""

    approval_id = fields.String()
    workspace_id = fields.String()
    type = fields.String()
    subject = fields.Nested(SubjectShape)
    applicant_id = fields.String()
    withdrawn_by = fields.String()
    withdrawn_at = fields.DateTime()


@dataclass(frozen=True)
class Subject:
    kind: str
    id: str


@dataclass(frozen=True)
class _Outcome:
    """What a decision and a withdrawal both say: which approval, and what it was about."""

    approval_id: str
    workspace_id: str
    type: str
    subject: Subject
    applicant_id: str

    @classmethod
    def from_event(cls, event: Any) -> Self:
        """The outcome carried by the event as the consumer hands it over."""
        payload = dict(event.payload)
        subject = payload.pop("subject")
        return cls(subject=Subject(kind=subject["kind"], id=subject["id"]), **payload)

    def concerns(self, approval_type: str, subject_kind: str) -> bool:
        return self.type == approval_type and self.subject.kind == subject_kind

    def payload(self) -> dict[str, Any]:
        """What the approval service publishes, its times in ISO 8601."""
        return {name: value.isoformat() if isinstance(value, datetime) else value for name, value in asdict(self).items()}


@dataclass(frozen=True)
class Decision(_Outcome):
    """An `approval.approval.decided` event."""

    status: Literal["approved", "rejected"]
    decided_by: str
    decided_at: datetime
    comment: str | None

    @property
    def approved(self) -> bool:
        return self.status == "approved"


@dataclass(frozen=True)
class Withdrawal(_Outcome):
    """An `approval.approval.withdrawn` event."""

    withdrawn_by: str
    withdrawn_at: datetime
