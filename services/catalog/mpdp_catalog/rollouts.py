"""The rollout worker (`mpdpctl work catalog rollouts`): publishes each step of a rollout plan when
the hold of the step before it ends.

The plan's clock is in the database (`rollouts.next_step_at`), not in this process: a worker
that restarts, or is redeployed, finds the due steps where it left them. A step is taken in one
transaction under the launch's row lock, which also re-reads the plan (lifecycle.take_due_step):
a second worker that found the same step due waits for the lock, then sees the next step's new
time and takes nothing. So however many workers run, and whenever they stop, no step is taken
twice and none is skipped.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mpdp_common.config import Settings
from mpdp_common.db import EVENT_PROCESS_CONNECTIONS, make_engine, session_scope, utcnow

from . import lifecycle
from .models import Launch, Rollout

log = logging.getLogger(__name__)

#: due plans looked at in one pass
BATCH = 100


def take_due_steps(sessions: sessionmaker[Session], now: datetime | None = None) -> int:
    """One pass: every step due by `now`, each in its own transaction; the number taken."""
    now = now or utcnow()
    with session_scope(sessions) as session:
        due = session.scalars(
            select(Rollout.launch_id)
            .where(Rollout.state == "running", Rollout.next_step_at <= now)
            .order_by(Rollout.next_step_at)
            .limit(BATCH)
        ).all()
    taken = 0
    for launch_id in due:
        try:
            with session_scope(sessions) as session:
                launch = session.get(Launch, launch_id, with_for_update=True)
                if launch is not None and lifecycle.take_due_step(session, launch, now):
                    taken += 1
        except OperationalError:
            raise
        except Exception:  # one launch's failure (a release that raced another) never stops the others
            log.exception("the due step of launch %s failed; it is tried again", launch_id)
    return taken


def run_worker(settings: Settings, stop: threading.Event) -> None:
    """Take due steps until `stop` is set, looking again as often as the outbox relay polls."""
    sessions = sessionmaker(make_engine(settings.database_url, EVENT_PROCESS_CONNECTIONS), expire_on_commit=False)
    log.info("rollout worker started")
    while not stop.is_set():
        try:
            taken = take_due_steps(sessions)
        except OperationalError as error:
            log.warning("database unavailable (%s); the rollout worker waits", error.__class__.__name__)
            stop.wait(5)
            continue
        if taken:
            log.info("took %d rollout step(s)", taken)
        stop.wait(settings.outbox_poll_seconds)
