"""What identity publishes, and what it does with other services' events."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mpdp_common.apikeys import follow_api_keys
from mpdp_common.events import Event, EventSpec

from .models import ApiKey, Base, Member

events = EventSpec("identity", Base.metadata)
events.publishes(
    "identity.account.registered",
    "identity.member.added",
    "identity.member.role_changed",
    "identity.member.blocked",
    "identity.member.unblocked",
    "identity.member.removed",
    "identity.invitation.created",
    "identity.invitation.accepted",
)
follow_api_keys(events, ApiKey)


def publish_member(session: Session, event_type: str, member: Member) -> None:
    """Every member event carries the member's whole state, so that read models can apply it in any order."""
    events.publish(session, event_type, member.state(), workspace_id=member.workspace_id, aggregate_id=member.account_id)


def add_admin(session: Session, workspace_id: str, account_id: str) -> None:
    if session.get(Member, (workspace_id, account_id)) is not None:
        return
    member = Member(workspace_id=workspace_id, account_id=account_id, role="admin", status="active", revision=1)
    session.add(member)
    session.flush()
    publish_member(session, "identity.member.added", member)


@events.handles("workspace.workspace.created")
def on_workspace_created(session: Session, event: Event) -> None:
    """The account that creates a workspace becomes its first admin (a developer workspace is
    announced as created only once its application is approved)."""
    add_admin(session, event.payload["workspace_id"], event.payload["created_by"])
