"""What the workspace service publishes, and what it does with other services' events."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from mpdp_common.contracts.approval import DECIDED, WITHDRAWN, Decision, Withdrawal
from mpdp_common.db import session_scope
from mpdp_common.events import Event, EventSpec
from mpdp_common.membership import follow_members

from .models import ApiKey, Base, Launch, Member, MiniProgram, Workspace

log = logging.getLogger(__name__)

#: publishes what mpdp_common.contracts.workspace declares
events = EventSpec("workspace", Base.metadata)
follow_members(events, Member)


def publish_created(session: Session, workspace: Workspace) -> None:
    """Identity makes `created_by` the first admin when it sees this."""
    events.publish(
        session,
        "workspace.workspace.created",
        {
            "workspace_id": workspace.id,
            "name": workspace.name,
            "kind": workspace.kind,
            "parent_id": workspace.parent_id,
            "created_by": workspace.created_by,
        },
        workspace_id=workspace.id,
        aggregate_id=workspace.id,
    )


def publish_api_key(session: Session, event_type: str, key: ApiKey) -> None:
    """The key's whole state (mpdp_common.apikeys.follow_api_keys applies it), with its creator:
    every service then takes what is done with the key as that account's doing."""
    state = {
        "api_key_id": key.id,
        "workspace_id": key.workspace_id,
        "role": key.role,
        "token_hash": key.token_hash,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "created_by": key.created_by,
    }
    events.publish(session, event_type, state, workspace_id=key.workspace_id, aggregate_id=key.id)


#: keys re-published in one transaction by `announce`
ANNOUNCE_BATCH = 500


def announce(engine: Engine) -> Iterator[tuple[str, int]]:
    """Publish again every API key's state, revoked ones included, for services deployed after it
    was made or whose read model lacks the keys' creators. Yields how many events each committed
    batch wrote."""
    sessions = sessionmaker(engine)
    after = ""
    while True:
        with session_scope(sessions) as session:
            keys = session.scalars(select(ApiKey).where(ApiKey.id > after).order_by(ApiKey.id).limit(ANNOUNCE_BATCH)).all()
            if not keys:
                return
            for key in keys:
                publish_api_key(session, "workspace.api_key.created", key)
            after = keys[-1].id
        yield "workspace.api_key.created", len(keys)


def expect_admin(session: Session, workspace_id: str, account_id: str) -> None:
    """Let the creator act as admin before identity's member.added comes back; revision 0 yields
    to every real member event."""
    if session.get(Member, (workspace_id, account_id)) is None:
        session.add(Member(workspace_id=workspace_id, account_id=account_id, role="admin", status="active", revision=0))


# -- approvals ------------------------------------------------------------------------------------


def _pending_application(session: Session, outcome: Decision | Withdrawal) -> Workspace | None:
    """The developer workspace application, still pending in the approval's tenant, that a
    decision or withdrawal is about; None when it is about another subject, another tenant's
    workspace, or an application decided already."""
    if not outcome.concerns("developer_workspace", "developer_workspace"):
        return None
    workspace = session.get(Workspace, outcome.subject.id, with_for_update=True)
    if workspace is None or workspace.kind != "developer" or workspace.parent_id != outcome.workspace_id:
        log.warning("approval %s is about unknown developer workspace %s", outcome.approval_id, outcome.subject.id)
        return None
    if workspace.status != "pending_approval":
        log.info("developer workspace %s is %s already; approval %s ignored", workspace.id, workspace.status, outcome.approval_id)
        return None
    return workspace


@events.handles(DECIDED)
def on_approval_decided(session: Session, event: Event) -> None:
    """A developer workspace application was decided in its parent tenant."""
    decision = Decision.from_event(event)
    workspace = _pending_application(session, decision)
    if workspace is None:
        return
    if decision.approved:
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
    workspace = _pending_application(session, Withdrawal.from_event(event))
    if workspace is not None:
        workspace.status = "withdrawn"


# -- catalog facts that decide whether a developer workspace may be deleted -----------------------


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
