"""What telemetry does with other services' events: the read models of members, keys, assignments,
workspaces and mini programs that ingest and the console's reports read, of the launches whose
guard it checks, and of the versions' source maps that resolve their crashes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mpdp_common.apikeys import follow_api_keys
from mpdp_common.appkeys import follow_app_keys
from mpdp_common.assignments import follow_assignments
from mpdp_common.events import Event, handler_settings
from mpdp_common.membership import follow_members, follow_workspace_policy

from . import crashes, guard, sourcemaps
from .events import events
from .models import ApiKey, AppKey, Assignment, Member, MiniProgram, SourceMap, Workspace, WorkspacePolicy

follow_members(events, Member)
# Members of a workspace that requires two-factor sign-in need it here too (mpdp_common.auth).
follow_workspace_policy(events, WorkspacePolicy)
follow_api_keys(events, ApiKey)
follow_app_keys(events, AppKey)
# Who besides the admins sees a mini program's analytics and crashes.
follow_assignments(events, Assignment)


@events.handles("workspace.workspace.created")
def on_workspace_created(session: Session, event: Event) -> None:
    payload = event.payload
    if session.get(Workspace, payload["workspace_id"]) is None:
        session.add(Workspace(id=payload["workspace_id"], parent_id=payload.get("parent_id")))


@events.handles("catalog.miniprogram.created")
def on_miniprogram_created(session: Session, event: Event) -> None:
    payload = event.payload
    miniprogram = session.get(MiniProgram, payload["miniprogram_id"], with_for_update=True)
    if miniprogram is None:
        has_maps = session.scalar(select(SourceMap.js_path).where(SourceMap.miniprogram_id == payload["miniprogram_id"]).limit(1))
        miniprogram = MiniProgram(
            id=payload["miniprogram_id"], workspace_id=payload["workspace_id"], user_count=0, has_sourcemaps=has_maps is not None
        )
        session.add(miniprogram)
    miniprogram.telemetry_id = payload.get("telemetry_id")
    miniprogram.name = payload.get("name") or ""


@events.handles("catalog.launch.status_changed")
def on_launch_status_changed(session: Session, event: Event) -> None:
    """Which version a launch puts on which host app, and the guard it is held to in grayscale."""
    guard.follow_launch(session, event)


@events.handles("catalog.version.sourcemaps_added")
def on_sourcemaps_added(session: Session, event: Event) -> None:
    """A version's maps: kept by reference, and its issues' latest events resolved through them at
    once (the blobs are read here, off the ingest path)."""
    sourcemaps.learn(session, event)
    session.flush()
    crashes.resolve_issues(session, handler_settings(session), event.payload["miniprogram_id"], event.payload["version"])
