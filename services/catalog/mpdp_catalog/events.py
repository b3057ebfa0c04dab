"""What the catalog publishes, and what it does with other services' events."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mpdp_common.apikeys import follow_api_keys
from mpdp_common.contracts.approval import DECIDED, Decision
from mpdp_common.db import utcnow
from mpdp_common.events import Event, EventSpec
from mpdp_common.membership import follow_members

from .models import ApiKey, Assignment, Base, FeatureActivation, Member, MiniProgram, Workspace

#: publishes what mpdp_common.contracts.catalog declares
events = EventSpec("catalog", Base.metadata)
follow_members(events, Member)
follow_api_keys(events, ApiKey)


def assign(session: Session, workspace_id: str, miniprogram_ids: list[str], account_id: str) -> None:
    """Add `account_id` to the mini programs of `workspace_id` among `miniprogram_ids` (others are ignored)."""
    known = session.scalars(
        select(MiniProgram.id).where(MiniProgram.workspace_id == workspace_id, MiniProgram.id.in_(miniprogram_ids))
    ).all()
    for miniprogram_id in known:
        if session.get(Assignment, (miniprogram_id, account_id)) is None:
            session.add(Assignment(miniprogram_id=miniprogram_id, account_id=account_id, workspace_id=workspace_id))
            publish_assignment(session, "catalog.assignment.added", workspace_id, miniprogram_id, account_id)


def publish_assignment(session: Session, event_type: str, workspace_id: str, miniprogram_id: str, account_id: str) -> None:
    """Other services that show a mini program's data to its assigned members (telemetry) follow these."""
    events.publish(
        session,
        event_type,
        {"miniprogram_id": miniprogram_id, "account_id": account_id, "workspace_id": workspace_id},
        workspace_id=workspace_id,
        aggregate_id=miniprogram_id,
    )


@events.handles("identity.invitation.accepted")
def on_invitation_accepted(session: Session, event: Event) -> None:
    """An invitation may name the mini programs the new member works on."""
    payload = event.payload
    if event.workspace_id and payload["miniprogram_ids"]:
        assign(session, event.workspace_id, payload["miniprogram_ids"], payload["account_id"])


@events.handles("workspace.workspace.created")
def on_workspace_created(session: Session, event: Event) -> None:
    """Features belong to tenant workspaces: remember which workspaces are developer workspaces."""
    payload = event.payload
    workspace = session.get(Workspace, payload["workspace_id"], with_for_update=True)
    if workspace is None:
        session.add(
            Workspace(
                id=payload["workspace_id"],
                name=payload["name"],
                kind=payload["kind"],
                parent_id=payload["parent_id"],
            )
        )


@events.handles(DECIDED)
def on_approval_decided(session: Session, event: Event) -> None:
    """An approval of type feature decides a pending feature activation."""
    decision = Decision.from_event(event)
    if not decision.concerns("feature", "feature_activation"):
        return
    activation = session.get(FeatureActivation, decision.subject.id, with_for_update=True)
    if activation is None or activation.status != "pending_approval":
        return
    activation.status = "active" if decision.approved else "rejected"
    activation.decided_at, activation.decided_by = utcnow(), decision.decided_by
