"""What the catalog does with other services' events: the read models it keeps (members, API and
app keys, workspaces, host apps, the tester whitelist switch), the approvals its launches and
feature activations wait for, and the guard's verdicts that halt a launch. Each handler reads its
event and makes one call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from mpdp_common.apikeys import follow_api_keys
from mpdp_common.appkeys import follow_app_keys
from mpdp_common.contracts.approval import DECIDED, WITHDRAWN, approved, concerns
from mpdp_common.contracts.telemetry import FAILING
from mpdp_common.db import utcnow
from mpdp_common.events import Event, follow_state
from mpdp_common.membership import follow_members

from . import lifecycle
from .events import assign, events
from .models import ApiKey, App, AppKey, FeatureActivation, Member, Workspace, WorkspaceSettings

follow_members(events, Member)
follow_api_keys(events, ApiKey)
# Host apps sign their delivery requests with these keys.
follow_app_keys(events, AppKey)


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


# Approved launches go to pilot while the workspace's tester whitelist is on, else to ready; an
# upload is held to the workspace's package size limit; its members may need two-factor sign-in.
follow_state(
    events,
    ("workspace.settings.updated",),
    WorkspaceSettings,
    ("workspace_id",),
    ("tester_whitelist_enabled", "package_size_limit_bytes", "require_mfa"),
)


# -- decisions of the approval service ------------------------------------------------------------


def _decide_feature(session: Session, decision: Mapping[str, Any]) -> None:
    activation = session.get(FeatureActivation, decision["subject"]["id"], with_for_update=True)
    if activation is None or activation.status != "pending_approval":
        return
    activation.status = "active" if approved(decision) else "rejected"
    activation.decided_at, activation.decided_by = utcnow(), decision["decided_by"]


def _drop_feature_request(session: Session, withdrawal: Mapping[str, Any]) -> None:
    activation = session.get(FeatureActivation, withdrawal["subject"]["id"], with_for_update=True)
    if activation is not None and activation.status == "pending_approval":
        session.delete(activation)


@events.handles(DECIDED)
def on_approval_decided(session: Session, event: Event) -> None:
    """Launches (and their offline and online requests) and feature activations wait for approvals."""
    if event.payload["type"] in lifecycle.REQUEST_TYPES:
        lifecycle.apply_decision(session, event.payload)
    elif concerns(event.payload, "feature", "feature_activation"):
        _decide_feature(session, event.payload)


@events.handles(WITHDRAWN)
def on_approval_withdrawn(session: Session, event: Event) -> None:
    """The applicant withdrew: the subject goes back to where it was before the request."""
    if event.payload["type"] in lifecycle.REQUEST_TYPES:
        lifecycle.apply_withdrawal(session, event.payload)
    elif concerns(event.payload, "feature", "feature_activation"):
        _drop_feature_request(session, event.payload)


# -- the guard's verdicts (telemetry) --------------------------------------------------------------


@events.handles(FAILING)
def on_release_health_failing(session: Session, event: Event) -> None:
    """A launch's version fails its guard: the launch is halted, and its app delivers the released version."""
    lifecycle.halt(session, event.payload)
