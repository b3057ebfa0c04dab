"""What the approval service publishes, and the one way its consumers read a decision or a
withdrawal.

The subject of an approval belongs to another service (a developer workspace to workspace, a
feature activation or a launch to catalog); that service applies the decision (or the
withdrawal) in its consumer, reading the payload as every consumer reads one:

    @events.handles(DECIDED)
    def on_approval_decided(session, event):
        if concerns(event.payload, "feature", "feature_activation") and approved(event.payload):
            activate(event.payload["subject"]["id"], by=event.payload["decided_by"])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import fields, validate

from . import Payload, declare

OPENED = "approval.approval.opened"
DECIDED = "approval.approval.decided"
WITHDRAWN = "approval.approval.withdrawn"


class SubjectShape(Payload):
    kind = fields.String()
    id = fields.String()


@declare(OPENED)
class ApprovalOpened(Payload):
    """An approval waits for a reviewer of its workspace (its applicant may not decide it)."""

    approval_id = fields.String()
    workspace_id = fields.String()
    type = fields.String()
    title = fields.String()
    subject = fields.Nested(SubjectShape)
    applicant_id = fields.String()
    opened_at = fields.DateTime()


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


def concerns(payload: Mapping[str, Any], approval_type: str, subject_kind: str) -> bool:
    """Whether a decision or withdrawal is about an approval of `approval_type` on a `subject_kind`."""
    return payload["type"] == approval_type and payload["subject"]["kind"] == subject_kind


def approved(decision: Mapping[str, Any]) -> bool:
    return decision["status"] == "approved"
