"""What the workspace service does with other services' events: developer workspace applications decided
or withdrawn, the counts behind the removal rule (mini programs, versions, launches), and the audit
log, which every change in a workspace feeds (its own events included; see audit.py), and the
webhook deliveries that the events webhooks tell of make (webhooks.py)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mpdp_common.contracts.approval import DECIDED, WITHDRAWN, approved, concerns
from mpdp_common.events import Event
from mpdp_common.membership import follow_members

from . import audit, webhook_events, webhooks
from .events import events, expect_admin, publish_created
from .models import Launch, Member, MiniProgram, Workspace

log = logging.getLogger(__name__)

follow_members(events, Member)


def _pending_application(session: Session, outcome: Mapping[str, Any]) -> Workspace | None:
    """The developer workspace application, still pending in the approval's tenant, that a
    decision or withdrawal is about; None when it is about another subject, another tenant's
    workspace, or an application decided already."""
    if not concerns(outcome, "developer_workspace", "developer_workspace"):
        return None
    workspace = session.get(Workspace, outcome["subject"]["id"], with_for_update=True)
    if workspace is None or workspace.kind != "developer" or workspace.parent_id != outcome["workspace_id"]:
        log.warning("approval %s is about unknown developer workspace %s", outcome["approval_id"], outcome["subject"]["id"])
        return None
    if workspace.status != "pending_approval":
        log.info("developer workspace %s is %s already; approval %s ignored", workspace.id, workspace.status, outcome["approval_id"])
        return None
    return workspace


@events.handles(DECIDED)
def on_approval_decided(session: Session, event: Event) -> None:
    """A developer workspace application was decided in its parent tenant."""
    workspace = _pending_application(session, event.payload)
    if workspace is None:
        return
    if approved(event.payload):
        workspace.status = "active"
        expect_admin(session, workspace.id, workspace.created_by)
        session.flush()
        publish_created(session, workspace)
    else:
        workspace.status = "rejected"
        events.publish(
            session,
            "workspace.developer_workspace.rejected",
            {"workspace_id": workspace.id, "parent_id": workspace.parent_id, "requested_by": workspace.created_by},
            workspace_id=workspace.id,
            aggregate_id=workspace.id,
        )


@events.handles(WITHDRAWN)
def on_approval_withdrawn(session: Session, event: Event) -> None:
    """The applicant withdrew a developer workspace application: it will not become active."""
    workspace = _pending_application(session, event.payload)
    if workspace is not None:
        workspace.status = "withdrawn"


def _miniprogram(session: Session, miniprogram_id: str, workspace_id: str) -> MiniProgram:
    program = session.get(MiniProgram, miniprogram_id, with_for_update=True)
    if program is None:
        program = MiniProgram(id=miniprogram_id, workspace_id=workspace_id)
        session.add(program)
    return program


@events.handles("catalog.miniprogram.created")
def on_miniprogram_created(session: Session, event: Event) -> None:
    state = event.payload
    _miniprogram(session, state["miniprogram_id"], state["workspace_id"]).name = state["name"]


@events.handles("catalog.version.uploaded")
def on_version_uploaded(session: Session, event: Event) -> None:
    state = event.payload
    program = _miniprogram(session, state["miniprogram_id"], state["workspace_id"])
    uploaded_at = state["uploaded_at"]
    if program.last_upload_at is None or uploaded_at > program.last_upload_at:
        program.last_upload_at = uploaded_at


@events.handles("catalog.launch.status_changed")
def on_launch_status_changed(session: Session, event: Event) -> None:
    """Events of one launch may arrive out of order (a failed one is retried later): the status
    set last at the catalog wins, not the event that arrived last."""
    state = event.payload
    _miniprogram(session, state["miniprogram_id"], state["workspace_id"])
    status_at = datetime.fromisoformat(event.occurred_at.replace("Z", "+00:00"))
    launch = session.get(Launch, state["launch_id"], with_for_update=True)
    if launch is None:
        session.add(
            Launch(
                id=state["launch_id"],
                miniprogram_id=state["miniprogram_id"],
                workspace_id=state["workspace_id"],
                status=state["status"],
                status_at=status_at,
            )
        )
    elif launch.status_at is None or status_at >= launch.status_at:
        launch.status, launch.status_at = state["status"], status_at


# Last: after what each of these events does here, its row in the audit log and its webhook deliveries.
events.also_handles(audit.AUDITED, audit.record)
events.also_handles(webhook_events.SOURCES, webhooks.fan_out)
