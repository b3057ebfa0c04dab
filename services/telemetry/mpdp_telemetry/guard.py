"""The guard of rollouts: the health of each launch in grayscale, on its host app since its
rollout began, held to the floors of its guard, and `telemetry.release_health.failing` when it
falls below them, for the catalog to halt the launch.

Telemetry knows the launches from `catalog.launch.status_changed` (`follow_launch`, applied by
revision). The guard worker (`mpdpctl work telemetry guard`) checks each guarded launch at least
every `MPDP_RELEASE_GUARD_INTERVAL_SECONDS` (60), as soon as it changes (a step taken, a plan
resumed), and shortly before its current step's hold ends, so that a failing step is judged
before the next one goes out. One verdict is published per state of the launch.
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mpdp_common.config import Settings
from mpdp_common.contracts.telemetry import FAILING
from mpdp_common.db import EVENT_PROCESS_CONNECTIONS, make_engine, session_scope, utcnow
from mpdp_common.events import Event
from mpdp_common.metrics import GUARD_VERDICTS

from . import store
from .events import events
from .health import version_figures
from .models import Launch

log = logging.getLogger(__name__)

#: a guard without floors of its own: a verdict once there are 100 sessions, never failing
DEFAULT_GUARD = {"min_crash_free_sessions": None, "min_crash_free_users": None, "min_sessions": 100, "max_drop_from_baseline": None}
#: the floors a guard may set, and how a verdict names them
FLOORS = {
    "crash_free_sessions": ("min_crash_free_sessions", "crash-free sessions"),
    "crash_free_users": ("min_crash_free_users", "crash-free users"),
}
#: how long before a step's hold ends the guard checks it
STEP_END_LEAD = timedelta(seconds=2)
#: guarded launches checked in one transaction
BATCH = 50


def judge(guard: dict, version: dict, baseline: dict | None) -> tuple[str, str | None]:
    """(verdict, reason): insufficient_data before `min_sessions` sessions; failing when a
    figure is below its floor, or more than `max_drop_from_baseline` below the released
    version's (once that has `min_sessions` sessions too); else healthy."""
    if version["sessions"] < guard["min_sessions"]:
        return "insufficient_data", None
    failures = []
    for figure, (floor_name, words) in FLOORS.items():
        value, floor = version[figure], guard.get(floor_name)
        if value is not None and floor is not None and value < floor:
            failures.append(f"{words} {value:.2%} are below the floor of {floor:.2%}")
    drop = guard.get("max_drop_from_baseline")
    if drop is not None and baseline is not None and baseline["sessions"] >= guard["min_sessions"]:
        for figure, (_floor_name, words) in FLOORS.items():
            value, before = version[figure], baseline[figure]
            if value is not None and before is not None and value < before - drop:
                failures.append(f"{words} {value:.2%} are more than {drop:.2%} below the released version's {before:.2%}")
    return ("failing", "; ".join(failures)) if failures else ("healthy", None)


def released_beside(session: Session, launch: Launch) -> Launch | None:
    """The launch released on the same host app, whose version is the baseline."""
    return session.scalar(
        select(Launch)
        .where(
            Launch.miniprogram_id == launch.miniprogram_id,
            Launch.app_id == launch.app_id,
            Launch.status == "released",
            Launch.id != launch.id,
        )
        .order_by(Launch.changed_at.desc())
        .limit(1)
    )


def launch_health(session: Session, launch: Launch, today: date, guard: dict | None = None) -> dict:
    """`{version, baseline, guard, verdict, reason, versions, from, to}` for the launch's version on its host app since
    its rollout began, beside the released version over the same days; `guard` (else the
    launch's own, else DEFAULT_GUARD) decides the verdict."""
    guard = guard or launch.guard or DEFAULT_GUARD
    start = min(launch.since.date(), today)
    version = version_figures(session, launch.miniprogram_id, launch.app_id, launch.version, start, today)
    released = released_beside(session, launch)
    baseline = version_figures(session, launch.miniprogram_id, launch.app_id, released.version, start, today) if released else None
    verdict, reason = judge(guard, version, baseline)
    return {
        "launch_id": launch.id,
        "app_id": launch.app_id,
        "versions": {"version": launch.version, "baseline": released.version if released else None},
        "start": start,
        "end": today,
        "version": version,
        "baseline": baseline,
        "guard": guard,
        "verdict": verdict,
        "reason": reason,
    }


# -- what telemetry knows of launches -------------------------------------------------------------


def guarded(launch: Launch) -> bool:
    return launch.status == "grayscale" and launch.guard is not None


def follow_launch(session: Session, event: Event) -> None:
    """Keep the launch at its newest state; a guarded one is checked at once (each step taken is a step's end)."""
    state = event.payload
    at = datetime.fromisoformat(event.occurred_at.replace("Z", "+00:00"))
    launch = session.get(Launch, state["launch_id"], with_for_update=True)
    if launch is None:
        launch = Launch(id=state["launch_id"], revision=-1, changed_at=at)
        session.add(launch)
    elif state["revision"] < launch.revision or (state["revision"] == launch.revision and at < launch.changed_at):
        return  # an older state, arriving late
    rollout = state["rollout"] or {}
    launch.workspace_id, launch.miniprogram_id, launch.app_id = state["workspace_id"], state["miniprogram_id"], state["app_id"]
    launch.version = state["version"] or launch.version or ""
    launch.status, launch.revision, launch.changed_at = state["status"], state["revision"], at
    if state["status"] in ("grayscale", "released") and launch.published_at is None:
        launch.published_at = at
    launch.rollout_started_at, launch.next_step_at = rollout.get("started_at"), rollout.get("next_step_at")
    launch.guard = rollout.get("guard")
    launch.next_check_at = utcnow() if guarded(launch) else None


# -- the guard worker -----------------------------------------------------------------------------


def check(session: Session, launch: Launch, now: datetime, interval: timedelta) -> str:
    """Judge one guarded launch, publish a failing verdict once per state, and plan its next check."""
    health = launch_health(session, launch, now.date())
    GUARD_VERDICTS.labels(health["verdict"]).inc()
    if health["verdict"] == "failing" and launch.failing_revision != launch.revision:
        events.publish(
            session,
            FAILING,
            {
                "launch_id": launch.id,
                "workspace_id": launch.workspace_id,
                "miniprogram_id": launch.miniprogram_id,
                "app_id": launch.app_id,
                "version": launch.version,
                "revision": launch.revision,
                "reason": health["reason"],
                "figures": {"version": health["version"], "baseline": health["baseline"]},
            },
            workspace_id=launch.workspace_id,
            aggregate_id=launch.id,
        )
        launch.failing_revision = launch.revision
        log.warning("launch %s (%s on %s) fails its guard: %s", launch.id, launch.version, launch.app_id, health["reason"])
    following = [now + interval]
    if launch.next_step_at is not None and launch.next_step_at - STEP_END_LEAD > now:
        following.append(launch.next_step_at - STEP_END_LEAD)
    launch.next_check_at = min(following)
    return health["verdict"]


def check_due(sessions: sessionmaker[Session], interval: timedelta, now: datetime | None = None) -> int:
    """One pass: every guarded launch due for a check; the number checked. Several workers share
    the work: each takes the rows no other holds."""
    now = now or utcnow()
    with session_scope(sessions) as session:
        due = session.scalars(
            select(Launch).where(Launch.next_check_at <= now).order_by(Launch.next_check_at).limit(BATCH).with_for_update(skip_locked=True)
        ).all()
        for launch in due:
            if guarded(launch):
                check(session, launch, now, interval)
            else:
                launch.next_check_at = None
        return len(due)


def run_worker(settings: Settings, stop: threading.Event) -> None:
    """Check due launches until `stop` is set, looking again as often as the outbox relay polls."""
    sessions = sessionmaker(make_engine(settings.database_url, EVENT_PROCESS_CONNECTIONS), expire_on_commit=False)
    store.configure(settings)  # where release health reads the sessions from
    interval = timedelta(seconds=settings.release_guard_interval_seconds)
    log.info("release guard started, checking each guarded launch every %s s at least", settings.release_guard_interval_seconds)
    while not stop.is_set():
        try:
            if check_due(sessions, interval) >= BATCH:
                continue
        except OperationalError as error:
            log.warning("database unavailable (%s); the release guard waits", error.__class__.__name__)
            stop.wait(5)
            continue
        except Exception:
            log.exception("checking release health failed; retrying")
            stop.wait(2)
        stop.wait(settings.outbox_poll_seconds)
