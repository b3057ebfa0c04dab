"""What the catalog publishes, and what it does with other services' events."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator

from sqlalchemy import Engine, select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from mpdp_common.apikeys import follow_api_keys
from mpdp_common.appkeys import follow_app_keys
from mpdp_common.contracts.approval import DECIDED, WITHDRAWN, Decision, Withdrawal
from mpdp_common.db import session_scope, utcnow
from mpdp_common.events import Event, EventSpec
from mpdp_common.membership import follow_members

from .models import ApiKey, App, AppKey, Assignment, Base, FeatureActivation, Launch, Member, MiniProgram, Workspace, WorkspaceSettings

log = logging.getLogger(__name__)

#: publishes what mpdp_common.contracts.catalog declares
events = EventSpec("catalog", Base.metadata)
follow_members(events, Member)
follow_api_keys(events, ApiKey)
# Host apps sign their delivery requests with these keys.
follow_app_keys(events, AppKey)


def assign(session: Session, workspace_id: str, miniprogram_ids: list[str], account_id: str) -> None:
    """Add `account_id` to the mini programs of `workspace_id` among `miniprogram_ids` (others are ignored)."""
    known = session.scalars(
        select(MiniProgram.id)
        .where(MiniProgram.workspace_id == workspace_id, MiniProgram.id.in_(miniprogram_ids))
        .order_by(MiniProgram.id)
        .with_for_update()
    ).all()
    for miniprogram_id in known:
        set_assignment(session, workspace_id, miniprogram_id, account_id, assigned=True)


def set_assignment(session: Session, workspace_id: str, miniprogram_id: str, account_id: str, *, assigned: bool) -> None:
    """Assign a member to a mini program or unassign them, and publish the new state if it changed.
    The caller holds the mini program's row lock, so that revisions count its changes one at a time.
    Other services that show a mini program's data to its assigned members (telemetry) follow these."""
    assignment = session.get(Assignment, (miniprogram_id, account_id)) or Assignment(
        miniprogram_id=miniprogram_id, account_id=account_id, workspace_id=workspace_id, assigned=False, revision=0
    )
    if assignment.assigned == assigned:
        return
    session.add(assignment)
    assignment.assigned, assignment.revision = assigned, assignment.revision + 1
    if assigned:
        assignment.assigned_at = utcnow()
    publish_assignment(session, assignment)


def publish_assignment(session: Session, assignment: Assignment) -> Event:
    """Publish an assignment's whole state, as `catalog.assignment.added` or `.removed`."""
    return events.publish(
        session,
        "catalog.assignment.added" if assignment.assigned else "catalog.assignment.removed",
        {
            "miniprogram_id": assignment.miniprogram_id,
            "account_id": assignment.account_id,
            "workspace_id": assignment.workspace_id,
            "assigned": assignment.assigned,
            "revision": assignment.revision,
        },
        workspace_id=assignment.workspace_id,
        aggregate_id=assignment.miniprogram_id,
    )


def publish_miniprogram_created(session: Session, miniprogram: MiniProgram) -> Event:
    """What the services that show a mini program learn of it: its telemetry id makes its crash-report DSN."""
    return events.publish(
        session,
        "catalog.miniprogram.created",
        {
            "miniprogram_id": miniprogram.id,
            "telemetry_id": miniprogram.telemetry_id,
            "workspace_id": miniprogram.workspace_id,
            "name": miniprogram.name,
            "created_by": miniprogram.created_by,
        },
        workspace_id=miniprogram.workspace_id,
        aggregate_id=miniprogram.id,
    )


#: rows re-published in one transaction by `announce`
ANNOUNCE_BATCH = 500


def announce(engine: Engine) -> Iterator[tuple[str, int]]:
    """Publish again every mini program's `created` and every assignment's state, for services
    that came after them; consumers take them as the idempotent full-state events they are.
    Yields how many events of each type each committed batch wrote."""
    sessions = sessionmaker(engine)
    for model, key, publish in (
        (MiniProgram, (MiniProgram.id,), publish_miniprogram_created),
        (Assignment, (Assignment.miniprogram_id, Assignment.account_id), publish_assignment),
    ):
        after = None
        while True:
            with session_scope(sessions) as session:
                batch = select(model).order_by(*key).limit(ANNOUNCE_BATCH)
                if after is not None:
                    batch = batch.where(tuple_(*key) > after)
                rows = session.scalars(batch).all()
                if not rows:
                    break
                written = Counter(publish(session, row).type for row in rows)
                after = tuple(getattr(rows[-1], column.key) for column in key)
            yield from written.items()


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


# -- what launches need to know: host apps and the tester whitelist switch -------------------------


@events.handles("workspace.app.created")
@events.handles("workspace.app.updated")
def on_app(session: Session, event: Event) -> None:
    state = event.payload
    app = session.get(App, state["app_id"], with_for_update=True)
    if app is None:
        session.add(App(id=state["app_id"], workspace_id=state["workspace_id"], name=state["name"]))
    else:
        app.name = state["name"]


@events.handles("workspace.settings.updated")
def on_settings_updated(session: Session, event: Event) -> None:
    """Approved launches go to pilot while the workspace's tester whitelist is on, else to ready."""
    state = event.payload
    settings = session.get(WorkspaceSettings, state["workspace_id"], with_for_update=True)
    if settings is None:
        settings = WorkspaceSettings(workspace_id=state["workspace_id"], revision=0)
        session.add(settings)
    if state["revision"] > settings.revision:
        settings.tester_whitelist_enabled, settings.revision = bool(state["tester_whitelist_enabled"]), state["revision"]


# -- decisions of the approval service ------------------------------------------------------------


def _waiting_launch(session: Session, approval_id: str, subject_kind: str, subject_id: str) -> Launch | None:
    """The launch that waits for this very approval (a late decision of an older request is ignored)."""
    if subject_kind != "launch":
        return None
    launch = session.get(Launch, subject_id, with_for_update=True)
    if launch is None or launch.pending_request_id != approval_id:
        log.info("approval %s decides no waiting launch; ignored", approval_id)
        return None
    return launch


def _decide_launch(session: Session, decision: Decision) -> None:
    from . import lifecycle  # lifecycle publishes through this module's spec

    launch = _waiting_launch(session, decision.approval_id, decision.subject.kind, decision.subject.id)
    if launch is None:
        return
    kind = launch.pending_request_type
    launch.pending_request_id = launch.pending_request_type = None
    if kind == "launch":
        action = "approve" if decision.approved else "reject"
    elif decision.approved and kind is not None:
        action = kind  # offline or online
    else:
        return
    if launch.status not in lifecycle.ALLOWED_FROM[action]:
        log.info("approval %s: launch %s is %s now; decision not applied", decision.approval_id, launch.id, launch.status)
        return
    if action == "online":
        for released in lifecycle.others_on_app(session, launch, "released"):
            lifecycle.move(session, released, "archive", decision.decided_by, refresh_delivery=False)
        session.flush()
    lifecycle.move(session, launch, action, decision.decided_by)


def _decide_feature(session: Session, decision: Decision) -> None:
    activation = session.get(FeatureActivation, decision.subject.id, with_for_update=True)
    if activation is None or activation.status != "pending_approval":
        return
    activation.status = "active" if decision.approved else "rejected"
    activation.decided_at, activation.decided_by = utcnow(), decision.decided_by


@events.handles(DECIDED)
def on_approval_decided(session: Session, event: Event) -> None:
    """Launches (and their offline and online requests) and feature activations wait for approvals."""
    decision = Decision.from_event(event)
    if decision.type in ("launch", "offline", "online"):
        _decide_launch(session, decision)
    elif decision.concerns("feature", "feature_activation"):
        _decide_feature(session, decision)


@events.handles(WITHDRAWN)
def on_approval_withdrawn(session: Session, event: Event) -> None:
    """The applicant withdrew: the subject goes back to where it was before the request."""
    from . import lifecycle

    withdrawal = Withdrawal.from_event(event)
    if withdrawal.type in ("launch", "offline", "online"):
        launch = _waiting_launch(session, withdrawal.approval_id, withdrawal.subject.kind, withdrawal.subject.id)
        if launch is None:
            return
        kind = launch.pending_request_type
        launch.pending_request_id = launch.pending_request_type = None
        if kind == "launch" and launch.status == "under_review":
            lifecycle.move(session, launch, "withdraw", withdrawal.withdrawn_by)
    elif withdrawal.concerns("feature", "feature_activation"):
        activation = session.get(FeatureActivation, withdrawal.subject.id, with_for_update=True)
        if activation is not None and activation.status == "pending_approval":
            session.delete(activation)
