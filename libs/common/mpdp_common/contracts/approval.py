"""What the approval service publishes, and the one way its consumers read a decision.

The subject of an approval belongs to another service (a developer workspace to workspace, a
feature activation or a launch to catalog); that service applies the decision in its consumer:

    @events.handles(DECIDED)
    def on_approval_decided(session, event):
        decision = Decision.from_event(event)
        if decision.concerns("feature", "feature_activation"):
            ...
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from marshmallow import fields, validate

from . import Payload, declare

DECIDED = "approval.approval.decided"


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


@dataclass(frozen=True)
class Subject:
    kind: str
    id: str


@dataclass(frozen=True)
class Decision:
    approval_id: str
    workspace_id: str
    type: str
    status: Literal["approved", "rejected"]
    subject: Subject
    applicant_id: str
    decided_by: str
    decided_at: datetime
    comment: str | None

    @classmethod
    def from_event(cls, event: Any) -> Decision:
        """The decision carried by an `approval.approval.decided` event as the consumer hands it over."""
        payload = dict(event.payload)
        subject = payload.pop("subject")
        return cls(subject=Subject(kind=subject["kind"], id=subject["id"]), **payload)

    @property
    def approved(self) -> bool:
        return self.status == "approved"

    def concerns(self, approval_type: str, subject_kind: str) -> bool:
        return self.type == approval_type and self.subject.kind == subject_kind

    def payload(self) -> dict[str, Any]:
        """What the approval service publishes."""
        return asdict(self) | {"decided_at": self.decided_at.isoformat()}
