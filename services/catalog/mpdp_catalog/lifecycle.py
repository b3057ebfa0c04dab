"""The launch and every rule of its life: the one place where its status, and the approval it
waits for, change.

    created ──submit──▶ under_review ──approved──▶ pilot (tester whitelist on) or ready
       ▲                    │  └──rejected──▶ rejected
       └─────withdraw───────┘
    pilot, ready, grayscale, halted ──release p<100──▶ grayscale ──release 100──▶ released
    created, pilot, ready, grayscale, halted ──cancel──▶ canceled
    pilot, ready, grayscale, halted ──plan──▶ its first step released at once; each next step when the
        hold before it ends (the rollout worker), the step at 100 releasing it
    grayscale ──its guard finds the version's health failing (telemetry)──▶ halted
    released ──offline approved──▶ offline ──online approved──▶ released
    released, offline ──a newer launch is released──▶ archived
    released, offline ──rollback to an earlier release──▶ rollback; that archived launch ──▶ released

Every change is checked against this table (409 naming the current status), recorded in the
launch's history, published as `catalog.launch.status_changed`, and rewrites what the host app
delivers (delivery.py). A change of the rollout plan alone (pause, resume, removal) is published
the same way, with the status unchanged. Views authorize and read arguments, event handlers read
the approval service's decisions, the rollout worker takes due steps (rollouts.py), and each
calls one function here; the caller commits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mpdp_common.contracts.approval import approved
from mpdp_common.db import new_id, utcnow
from mpdp_common.errors import PROBLEM_TYPE_PREFIX, Problem, conflict, not_found

from . import delivery
from .events import events
from .models import IN_PROGRESS, App, Launch, LaunchStep, MiniProgram, Rollout, Version, WorkspaceSettings
from .report import not_granted

log = logging.getLogger(__name__)

#: action: the statuses it may start from
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "submit": ("created",),
    "withdraw": ("under_review",),
    "approve": ("under_review",),
    "reject": ("under_review",),
    "release": ("pilot", "ready", "grayscale", "halted"),
    "cancel": ("created", "pilot", "ready", "grayscale", "halted"),
    "request_offline": ("released",),
    "offline": ("released",),
    "request_online": ("offline",),
    "online": ("offline",),
    "archive": ("released", "offline"),
    "roll_back": ("released", "offline"),
    "restore": ("archived", "rollback"),
    "plan": ("pilot", "ready", "grayscale", "halted"),
    "halt": ("grayscale",),
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
    "halt": "halted",
}
#: how a 409 names an action: as the endpoint the caller used
ACTION_NAMES = {
    "release": "publish",
    "request_offline": "take offline",
    "request_online": "bring online",
    "roll_back": "roll back",
    "restore": "roll back to",
    "plan": "plan a rollout",
}
#: the approval types whose subject is a launch
REQUEST_TYPES = ("launch", "offline", "online")
#: a submit refused while the version calls restricted JSAPIs that the mini program was not granted
JSAPIS_NOT_GRANTED = PROBLEM_TYPE_PREFIX + "jsapis-not-granted"
#: who took a step of a rollout plan, and who halted a launch, in its history
ROLLOUT, GUARD = "rollout", "guard"
#: the plans that `{"preset": name}` asks for: 1, 2, 5, 10, 20, 50 and 100 %, a day each
PRESETS = {"phased_7_days": [{"percentage": share, "hold_seconds": 86_400} for share in (1, 2, 5, 10, 20, 50, 100)]}


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
    if action == "release":
        return "released" if percentage == 100 else "grayscale"
    return FIXED_TARGET[action]


# -- what users do --------------------------------------------------------------------------------


def submit(session: Session, launch: Launch, miniprogram: MiniProgram, by: str) -> None:
    """Under review, and an approval of type launch opens; refused while another launch of the
    mini program on the app is on its way."""
    check(launch.status, "submit")
    busy = _others_on_app(session, launch, *IN_PROGRESS)
    if busy:
        raise conflict(f"Launch {busy[0].id} of this mini program on this app is {busy[0].status}; finish or cancel it first.")
    version, app = session.get_one(Version, launch.version_id), session.get_one(App, launch.app_id)
    missing = not_granted(session, launch.workspace_id, launch.miniprogram_id, (version.report or {}).get("jsapis_used") or [])
    if missing:
        raise Problem(
            409,
            f"Version {version.version} calls JSAPIs that this mini program has not been granted: {', '.join(missing)}. "
            "Request a feature that grants them, then submit again.",
            title="JSAPIs not granted",
            type=JSAPIS_NOT_GRANTED,
            extensions={"jsapis": missing},
        )
    request_id = _await_approval(launch, "launch")
    _move(session, launch, "submit", by)
    events.publish(
        session,
        "catalog.launch.submitted",
        {
            "request_id": request_id,
            "workspace_id": launch.workspace_id,
            "title": f"Launch {miniprogram.name} {version.version} on {app.name}",
            "subject": {"kind": "launch", "id": launch.id},
            "requested_by": by,
            "launch_id": launch.id,
            "miniprogram_id": launch.miniprogram_id,
            "version_id": version.id,
            "version": version.version,
            "app_id": app.id,
        },
        workspace_id=launch.workspace_id,
        aggregate_id=launch.id,
    )


def withdraw(session: Session, launch: Launch, by: str) -> None:
    """Back to created; its approval becomes withdrawn."""
    check(launch.status, "withdraw")
    events.publish(
        session,
        "catalog.launch.withdrawn",
        {"request_id": launch.pending_request_id, "launch_id": launch.id, "workspace_id": launch.workspace_id, "withdrawn_by": by},
        workspace_id=launch.workspace_id,
        aggregate_id=launch.id,
    )
    _stop_awaiting(launch)
    _move(session, launch, "withdraw", by)


def release(session: Session, launch: Launch, percentage: int, by: str) -> None:
    """Grayscale under 100 %; at 100 the launch is released, and what was released (or offline)
    before is archived. A person's own publish ends the rollout plan, whose guard stays."""
    check(launch.status, "release")
    _end_plan(session, launch)
    _release(session, launch, percentage, by)


def _release(session: Session, launch: Launch, percentage: int, by: str) -> None:
    if percentage == 100:
        for older in _others_on_app(session, launch, "released", "offline"):
            _move(session, older, "archive", by, refresh_delivery=False)
        session.flush()
    _move(session, launch, "release", by, percentage=percentage)


def cancel(session: Session, launch: Launch, by: str) -> None:
    check(launch.status, "cancel")
    _end_plan(session, launch)
    _move(session, launch, "cancel", by)


# -- rollout plans --------------------------------------------------------------------------------


def plan_rollout(session: Session, launch: Launch, steps: list[dict], guard: dict | None, by: str) -> None:
    """Replace the launch's plan with `steps` (rising to 100 %) and `guard`, and publish its
    first step at once; the rollout worker publishes each next one when the hold before it ends."""
    check(launch.status, "plan")
    rollout = session.get(Rollout, launch.id, with_for_update=True)
    if rollout is None:
        rollout = Rollout(launch_id=launch.id)
        session.add(rollout)
    rollout.steps, rollout.guard, rollout.created_by, rollout.started_at = steps, guard, by, utcnow()
    rollout.current_step = 0
    session.flush()
    _publish_step(session, launch, rollout, by, rollout.started_at)


def take_due_step(session: Session, launch: Launch, now: datetime) -> bool:
    """Publish the next step of the (locked) launch's plan if its hold has ended; False when no
    step is due, so that a worker that comes second, or after a restart, takes nothing twice."""
    rollout = session.get(Rollout, launch.id, with_for_update=True)
    if rollout is None or rollout.state != "running" or rollout.next_step_at is None or rollout.next_step_at > now:
        return False
    if launch.status not in ALLOWED_FROM["release"] or rollout.current_step + 1 >= len(rollout.steps):
        log.warning("launch %s is %s at step %d of its plan; the plan ends", launch.id, launch.status, rollout.current_step)
        _end_plan(session, launch)
        return False
    rollout.current_step += 1
    _publish_step(session, launch, rollout, ROLLOUT, now)
    return True


def pause_rollout(session: Session, launch: Launch, by: str) -> None:
    """The plan keeps its share and takes no step; what is left of the hold waits for the resume."""
    rollout = _plan_in(session, launch, "running", "pause")
    assert rollout.next_step_at is not None, "a running plan has its next step's time"
    rollout.hold_left_seconds = max(0.0, (rollout.next_step_at - utcnow()).total_seconds())
    rollout.state, rollout.next_step_at = "paused", None
    _publish_state(session, launch, launch.status, by)


def resume_rollout(session: Session, launch: Launch, by: str) -> None:
    """The plan goes on; its next step comes when the rest of the hold has passed."""
    rollout = _plan_in(session, launch, "paused", "resume")
    rollout.state, rollout.next_step_at = "running", utcnow() + timedelta(seconds=rollout.hold_left_seconds or 0)
    rollout.hold_left_seconds = None
    _publish_state(session, launch, launch.status, by)


def drop_rollout(session: Session, launch: Launch, by: str) -> None:
    """The plan and its guard are gone; the launch stays where it is."""
    rollout = session.get(Rollout, launch.id, with_for_update=True)
    if rollout is None:
        raise not_found("rollout")
    session.delete(rollout)
    session.flush()
    _publish_state(session, launch, launch.status, by)


def halt(session: Session, failing: Mapping[str, Any]) -> None:
    """The guard found the version's health failing: the launch is halted, its plan with it, and
    its host app delivers the released version to everyone at once. A verdict that arrives once
    the launch has left grayscale (released, canceled, halted already) changes nothing."""
    launch = session.get(Launch, failing["launch_id"], with_for_update=True)
    if launch is None or launch.status not in ALLOWED_FROM["halt"]:
        log.info("release health of launch %s failing, but it is %s; not halted", failing["launch_id"], launch and launch.status)
        return
    rollout = session.get(Rollout, launch.id, with_for_update=True)
    if rollout is not None:
        rollout.state, rollout.next_step_at, rollout.hold_left_seconds = "halted", None, None
    _move(session, launch, "halt", GUARD, reason=failing["reason"], figures=failing["figures"])


def _plan_in(session: Session, launch: Launch, state: str, action: str) -> Rollout:
    rollout = session.get(Rollout, launch.id, with_for_update=True)
    if rollout is None:
        raise conflict(f"The launch has no rollout plan to {action}.")
    if rollout.state != state:
        raise conflict(f"The rollout is {rollout.state}; {action} needs it to be {state}.")
    return rollout


def _publish_step(session: Session, launch: Launch, rollout: Rollout, by: str, now: datetime) -> None:
    """Publish the plan's current step, whose hold starts `now`; the step at 100 % ends the plan."""
    step = rollout.steps[rollout.current_step]
    if step["percentage"] == 100:
        rollout.state, rollout.next_step_at = "completed", None
    else:
        rollout.state, rollout.next_step_at = "running", now + timedelta(seconds=step["hold_seconds"])
    rollout.hold_left_seconds = None
    _release(session, launch, step["percentage"], by)


def _end_plan(session: Session, launch: Launch) -> None:
    """A person's own publish or cancel: the plan takes no more steps; its guard stays."""
    rollout = session.get(Rollout, launch.id, with_for_update=True)
    if rollout is not None and rollout.state != "completed":
        rollout.state, rollout.next_step_at, rollout.hold_left_seconds = "completed", None, None


def request_availability(session: Session, miniprogram: MiniProgram, app: App, kind: str, reason: str, by: str) -> Launch:
    """An approval of type `kind` (offline or online) opens for the app's released (or offline)
    launch, which changes once it is approved; the launch is returned."""
    current = "released" if kind == "offline" else "offline"
    launch = _latest_on_app(session, miniprogram.id, app.id, current)
    if launch is None:
        raise conflict(f"This mini program has no {current} launch on this app.")
    if launch.pending_request_id is not None:
        raise conflict(f"A request to take it {launch.pending_request_type} waits for approval already.")
    check(launch.status, f"request_{kind}")
    request_id = _await_approval(launch, kind)
    title = f"Take {miniprogram.name} offline on {app.name}" if kind == "offline" else f"Bring {miniprogram.name} back online on {app.name}"
    events.publish(
        session,
        f"catalog.miniprogram.{kind}_requested",
        {
            "request_id": request_id,
            "workspace_id": launch.workspace_id,
            "title": title,
            "subject": {"kind": "launch", "id": launch.id},
            "requested_by": by,
            "launch_id": launch.id,
            "miniprogram_id": miniprogram.id,
            "app_id": app.id,
            "reason": reason.strip(),
        },
        workspace_id=launch.workspace_id,
        aggregate_id=miniprogram.id,
    )
    return launch


def roll_back(session: Session, miniprogram_id: str, app_id: str, version_id: str, by: str) -> Launch:
    """The latest earlier release of `version_id` on the app is released again and the current one
    becomes rollback; refused while a grayscale runs there or the current release awaits a request.
    The launch released again is returned."""
    running = _latest_on_app(session, miniprogram_id, app_id, "grayscale")
    if running is not None:
        raise conflict(f"Launch {running.id} runs a grayscale on this app; publish it to 100 or cancel it first.")
    current = _latest_on_app(session, miniprogram_id, app_id, "released", "offline")
    if current is not None and current.version_id == version_id:
        raise conflict("That version is the current release on this app.")
    if current is not None and current.pending_request_id is not None:
        raise conflict(f"A request to take the current release {current.pending_request_type} waits for approval; withdraw it first.")
    target = session.scalar(
        select(Launch)
        .where(
            Launch.miniprogram_id == miniprogram_id,
            Launch.app_id == app_id,
            Launch.version_id == version_id,
            Launch.status.in_(ALLOWED_FROM["restore"]),
        )
        .order_by(Launch.updated_at.desc())
        .limit(1)
        .with_for_update()
    )
    if target is None:
        raise conflict("That version was never released on this app, so there is nothing to roll back to.")
    if current is not None:
        _move(session, current, "roll_back", by, refresh_delivery=False)
        session.flush()
    _move(session, target, "restore", by)
    return target


# -- what the approval service decides ------------------------------------------------------------


def apply_decision(session: Session, decision: Mapping[str, Any]) -> None:
    """A launch approved goes to pilot or ready, rejected to rejected; an offline or online
    request approved takes the launch offline or brings it back (archiving what was released
    meanwhile). A decision that comes too late to apply is ignored."""
    launch = _waiting_launch(session, decision["approval_id"], decision["subject"]["kind"], decision["subject"]["id"])
    if launch is None:
        return
    kind = _stop_awaiting(launch)
    if kind == "launch":
        action = "approve" if approved(decision) else "reject"
    elif approved(decision) and kind is not None:
        action = kind  # offline or online
    else:
        return
    if launch.status not in ALLOWED_FROM[action]:
        log.info("approval %s: launch %s is %s now; decision not applied", decision["approval_id"], launch.id, launch.status)
        return
    if action == "online":
        for released in _others_on_app(session, launch, "released"):
            _move(session, released, "archive", decision["decided_by"], refresh_delivery=False)
        session.flush()
    # the reviewer's comment is the launch's history too: a developer reads why it was rejected there
    _move(session, launch, action, decision["decided_by"], reason=decision.get("comment") or None)


def apply_withdrawal(session: Session, withdrawal: Mapping[str, Any]) -> None:
    """The applicant withdrew at the approval service: the launch goes back to where it was
    before the request (a launch under review to created)."""
    launch = _waiting_launch(session, withdrawal["approval_id"], withdrawal["subject"]["kind"], withdrawal["subject"]["id"])
    if launch is None:
        return
    kind = _stop_awaiting(launch)
    if kind == "launch" and launch.status == "under_review":
        _move(session, launch, "withdraw", withdrawal["withdrawn_by"])


# -- the approval a launch waits for: opened and closed only here ---------------------------------


def _await_approval(launch: Launch, kind: str) -> str:
    """The id of the approval of type `kind` that the launch now waits for."""
    launch.pending_request_id, launch.pending_request_type = new_id(), kind
    return launch.pending_request_id


def _stop_awaiting(launch: Launch) -> str | None:
    """The type of the approval the launch waited for, which it no longer does."""
    kind = launch.pending_request_type
    launch.pending_request_id = launch.pending_request_type = None
    return kind


def _waiting_launch(session: Session, approval_id: str, subject_kind: str, subject_id: str) -> Launch | None:
    """The launch that waits for this very approval (a late decision of an older request is ignored)."""
    if subject_kind != "launch":
        return None
    launch = session.get(Launch, subject_id, with_for_update=True)
    if launch is None or launch.pending_request_id != approval_id:
        log.info("approval %s decides no waiting launch; ignored", approval_id)
        return None
    return launch


# -- one change of status -------------------------------------------------------------------------


def _whitelist_enabled(session: Session, workspace_id: str) -> bool:
    settings = session.get(WorkspaceSettings, workspace_id)
    return bool(settings and settings.tester_whitelist_enabled)


def _move(
    session: Session,
    launch: Launch,
    action: str,
    by: str,
    *,
    percentage: int | None = None,
    refresh_delivery: bool = True,
    reason: str | None = None,
    figures: dict | None = None,
) -> None:
    """Apply `action` to the (locked) launch: status, history, event, and the delivery read model.

    A change that moves several launches of one (app, mini program) passes
    `refresh_delivery=False` to all but its last move, which rewrites the rows once for them all.
    """
    whitelist = action == "approve" and _whitelist_enabled(session, launch.workspace_id)
    previous = launch.status
    launch.status = next_status(previous, action, percentage=percentage, whitelist=whitelist)
    if action == "release":
        launch.percentage = percentage
    at = utcnow()
    launch.updated_at = at
    seq = (session.scalar(select(func.max(LaunchStep.seq)).where(LaunchStep.launch_id == launch.id)) or 0) + 1
    session.add(
        LaunchStep(
            launch_id=launch.id, seq=seq, status=launch.status, at=at, by=by, percentage=launch.percentage, reason=reason, figures=figures
        )
    )
    if launch.status == "released":
        session.get_one(MiniProgram, launch.miniprogram_id).status = "published"
    session.flush()
    _publish_state(session, launch, previous, by, reason=reason, figures=figures)
    if refresh_delivery:
        delivery.refresh(session, launch.miniprogram_id, launch.app_id)


def _publish_state(
    session: Session, launch: Launch, previous: str | None, by: str, *, reason: str | None = None, figures: dict | None = None
) -> None:
    """`catalog.launch.status_changed` with the launch's whole state, its rollout plan included."""
    launch.revision += 1
    rollout = session.get(Rollout, launch.id)
    events.publish(
        session,
        "catalog.launch.status_changed",
        {
            "launch_id": launch.id,
            "miniprogram_id": launch.miniprogram_id,
            "workspace_id": launch.workspace_id,
            "app_id": launch.app_id,
            "version_id": launch.version_id,
            "version": session.get_one(Version, launch.version_id).version,
            "status": launch.status,
            "previous_status": previous,
            "percentage": launch.percentage,
            "changed_by": by,
            "revision": launch.revision,
            "rollout": None if rollout is None else rollout_state(rollout),
            "reason": reason,
            "figures": figures,
        },
        workspace_id=launch.workspace_id,
        aggregate_id=launch.id,
    )


def rollout_state(rollout: Rollout) -> dict:
    """The plan as `catalog.launch.status_changed` carries it."""
    return {
        "state": rollout.state,
        "current_step": rollout.current_step,
        "step_count": len(rollout.steps),
        "started_at": rollout.started_at.isoformat(),
        "next_step_at": rollout.next_step_at.isoformat() if rollout.next_step_at else None,
        "guard": rollout.guard,
    }


def _others_on_app(session: Session, launch: Launch, *statuses: str) -> list[Launch]:
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


def _latest_on_app(session: Session, miniprogram_id: str, app_id: str, *statuses: str) -> Launch | None:
    """The launch of the mini program on the app in `statuses` that changed last, locked."""
    return session.scalar(
        select(Launch)
        .where(Launch.miniprogram_id == miniprogram_id, Launch.app_id == app_id, Launch.status.in_(statuses))
        .order_by(Launch.updated_at.desc())
        .limit(1)
        .with_for_update()
    )
