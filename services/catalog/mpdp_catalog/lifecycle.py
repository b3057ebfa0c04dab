"""The life of a launch, and the one place where its status changes.

    created ──submit──▶ under_review ──approved──▶ pilot (tester whitelist on) or ready
       ▲                    │  └──rejected──▶ rejected
       └─────withdraw───────┘
    pilot, ready, grayscale ──publish p<100──▶ grayscale ──publish 100──▶ released
    created, pilot, ready, grayscale ──cancel──▶ canceled
    released ──offline approved──▶ offline ──online approved──▶ released
    released, offline ──a newer launch is released──▶ archived
    released, offline ──rollback to an earlier release──▶ rollback; that archived launch ──▶ released

Every change is checked against this table (409 naming the current status), recorded in the
launch's history, published as `catalog.launch.status_changed`, and rewrites what the host app
delivers (delivery.py).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mpdp_common.db import utcnow
from mpdp_common.errors import conflict

from . import delivery
from .events import events
from .models import Launch, LaunchStep, MiniProgram, WorkspaceSettings

#: action: the statuses it may start from
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "submit": ("created",),
    "withdraw": ("under_review",),
    "approve": ("under_review",),
    "reject": ("under_review",),
    "publish": ("pilot", "ready", "grayscale"),
    "cancel": ("created", "pilot", "ready", "grayscale"),
    "request_offline": ("released",),
    "offline": ("released",),
    "request_online": ("offline",),
    "online": ("offline",),
    "archive": ("released", "offline"),
    "roll_back": ("released", "offline"),
    "restore": ("archived", "rollback"),
}
FIXED_TARGET = {
    "submit": "under_review",
    "withdraw": "created",
    "reject": "rejected",
    "cancel": "canceled",
    "offline": "offline",
    "online": "released",
    "archive": "archived",
    "roll_back": "rollback",
    "restore": "released",
}
ACTION_NAMES = {"request_offline": "take offline", "request_online": "bring online", "roll_back": "roll back", "restore": "roll back to"}


def check(status: str, action: str) -> None:
    """409 unless `action` may start from `status`; the problem names the current status."""
    allowed = ALLOWED_FROM[action]
    if status not in allowed:
        name = ACTION_NAMES.get(action, action)
        raise conflict(f"The launch is {status}; {name} needs it to be {' or '.join(allowed)}.")


def next_status(status: str, action: str, *, percentage: int | None = None, whitelist: bool = False) -> str:
    check(status, action)
    if action == "approve":
        return "pilot" if whitelist else "ready"
    if action == "publish":
        return "released" if percentage == 100 else "grayscale"
    return FIXED_TARGET[action]


def whitelist_enabled(session: Session, workspace_id: str) -> bool:
    settings = session.get(WorkspaceSettings, workspace_id)
    return bool(settings and settings.tester_whitelist_enabled)


def move(session: Session, launch: Launch, action: str, by: str, *, percentage: int | None = None, refresh_delivery: bool = True) -> None:
    """Apply `action` to the (locked) launch: status, history, event, and the delivery read model.

    A user action that moves several launches of one (app, mini program) passes
    `refresh_delivery=False` to all but its last move, which rewrites the rows once for them all.
    """
    whitelist = action == "approve" and whitelist_enabled(session, launch.workspace_id)
    previous = launch.status
    launch.status = next_status(previous, action, percentage=percentage, whitelist=whitelist)
    if action == "publish":
        launch.percentage = percentage
    at = utcnow()
    launch.updated_at = at
    seq = (session.scalar(select(func.max(LaunchStep.seq)).where(LaunchStep.launch_id == launch.id)) or 0) + 1
    session.add(LaunchStep(launch_id=launch.id, seq=seq, status=launch.status, at=at, by=by, percentage=launch.percentage))
    if launch.status == "released":
        session.get_one(MiniProgram, launch.miniprogram_id).status = "published"
    session.flush()
    events.publish(
        session,
        "catalog.launch.status_changed",
        {
            "launch_id": launch.id,
            "miniprogram_id": launch.miniprogram_id,
            "workspace_id": launch.workspace_id,
            "app_id": launch.app_id,
            "version_id": launch.version_id,
            "status": launch.status,
            "previous_status": previous,
            "percentage": launch.percentage,
            "changed_by": by,
        },
        workspace_id=launch.workspace_id,
        aggregate_id=launch.id,
    )
    if refresh_delivery:
        delivery.refresh(session, launch.miniprogram_id, launch.app_id)


def others_on_app(session: Session, launch: Launch, *statuses: str) -> list[Launch]:
    """The other launches of the same mini program on the same app in `statuses`, locked."""
    return list(
        session.scalars(
            select(Launch)
            .where(
                Launch.miniprogram_id == launch.miniprogram_id,
                Launch.app_id == launch.app_id,
                Launch.id != launch.id,
                Launch.status.in_(statuses),
            )
            .with_for_update()
        )
    )


def publish(session: Session, launch: Launch, percentage: int, by: str) -> None:
    """At 100 the launch is released, and what was released (or offline) before is archived."""
    check(launch.status, "publish")
    if percentage == 100:
        for older in others_on_app(session, launch, "released", "offline"):
            move(session, older, "archive", by, refresh_delivery=False)
        session.flush()
    move(session, launch, "publish", by, percentage=percentage)
