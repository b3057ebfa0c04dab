"""What the approval service does with other services' events: the request events that open approvals,
and a launch withdrawn at the catalog."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mpdp_common.apikeys import follow_api_keys
from mpdp_common.assignments import follow_assignments
from mpdp_common.contracts.catalog import ApprovalRequest
from mpdp_common.events import Event
from mpdp_common.membership import follow_members, follow_workspace_policy

from .events import audit, events, open_approval, withdraw
from .models import ApiKey, Approval, Assignment, AuditEntry, Member, WorkspacePolicy

follow_members(events, Member)
# Members of a workspace that requires two-factor sign-in need it here too (mpdp_common.auth).
follow_workspace_policy(events, WorkspacePolicy)
follow_api_keys(events, ApiKey)
follow_assignments(events, Assignment)


#: The catalog's request events share one shape (mpdp_common.contracts.catalog.ApprovalRequest),
#: with details of their own.
CATALOG_REQUESTS = {
    "catalog.launch.submitted": "launch",
    "catalog.miniprogram.offline_requested": "offline",
    "catalog.miniprogram.online_requested": "online",
    "catalog.feature.activation_requested": "feature",
}


#: the fields every request carries; whatever else a request type adds goes into the details
REQUEST_FIELDS = frozenset(ApprovalRequest._declared_fields)


def _open_catalog_request(session: Session, event: Event) -> None:
    request = event.payload
    open_approval(
        session,
        approval_id=request["request_id"],
        workspace_id=request["workspace_id"],
        type=CATALOG_REQUESTS[event.type],
        title=request["title"],
        subject=request["subject"],
        applicant_id=request["requested_by"],
        details={name: value for name, value in request.items() if name not in REQUEST_FIELDS},
    )


for _event_type in CATALOG_REQUESTS:
    events.handles(_event_type)(_open_catalog_request)


@events.handles("workspace.developer_workspace.requested")
def on_developer_workspace_requested(session: Session, event: Event) -> None:
    """Opened in the parent tenant, whose reviewers and admins decide."""
    request = event.payload
    open_approval(
        session,
        approval_id=event.aggregate_id or request["workspace_id"],
        workspace_id=request["parent_id"],
        type="developer_workspace",
        title=f"Developer workspace {request['name']} ({request['business_type']})",
        subject={"kind": "developer_workspace", "id": request["workspace_id"]},
        applicant_id=request["requested_by"],
        details={"name": request["name"], "business_type": request["business_type"]},
    )


@events.handles("catalog.launch.withdrawn")
def on_launch_withdrawn(session: Session, event: Event) -> None:
    """The applicant took the launch back to created in the catalog: a pending approval is withdrawn.

    The catalog publishes this only while the launch waits for this very approval, and ignores
    any decision of it from then on. So a decision taken here in the same moment, before this
    event arrived, was never applied. A decided approval never changes, so it keeps its decision,
    and its trail says that the launch was withdrawn before the decision reached it. Nothing is
    published: the launch already went back.
    """
    approval = session.get(Approval, event.payload["request_id"], with_for_update=True)
    if approval is None or approval.status == "withdrawn":
        return
    by = event.payload["withdrawn_by"]
    if approval.status == "pending":
        withdraw(session, approval, by)
        return
    already = session.scalar(select(AuditEntry.seq).where(AuditEntry.approval_id == approval.id, AuditEntry.action == "withdrawn"))
    if already is None:
        note = "The launch was withdrawn at the catalog before this decision reached it; the decision was not applied."
        audit(session, approval, "withdrawn", by, note)
