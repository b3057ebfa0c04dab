"""Per-account throttling of password guesses: after ALLOWED_FAILURES failed sign-ins for one
email within WINDOW, every further attempt for that email is refused with 429 until the window
passes, the right password included. Unknown emails are counted alike, so that the answers do not
tell which emails have an account. The counts live in PostgreSQL, shared by every web process."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import case, delete, literal
from sqlalchemy.orm import Session

from mpdp_common.crypto import digest
from mpdp_common.db import UtcDateTime, dialect_insert, utcnow
from mpdp_common.errors import Problem

from .models import LoginThrottle

ALLOWED_FAILURES = 5
WINDOW = timedelta(minutes=15)


def count_attempt(session: Session, email: str) -> None:
    """Count a sign-in attempt for `email` before its password is checked, and commit it. Counting
    first, in one atomic statement, is what makes guesses sent in parallel count one by one.
    A right password then forgets the count (`forget`); a wrong one leaves it counted."""
    now = utcnow()
    expired = LoginThrottle.window_started_at <= now - WINDOW
    statement = (
        dialect_insert(session, LoginThrottle)
        .values(email_digest=digest(email), attempts=1, window_started_at=now)
        .on_conflict_do_update(
            index_elements=[LoginThrottle.email_digest],
            set_={
                "attempts": case((expired, 1), else_=LoginThrottle.attempts + 1),
                "window_started_at": case((expired, literal(now, UtcDateTime)), else_=LoginThrottle.window_started_at),
            },
        )
        .returning(LoginThrottle.attempts, LoginThrottle.window_started_at)
    )
    attempts, window_started_at = session.execute(statement).one()
    session.commit()
    if attempts > ALLOWED_FAILURES:
        wait = math.ceil((window_started_at + WINDOW - now).total_seconds())
        raise Problem(
            429,
            "Too many failed sign-ins for this email; wait before trying again.",
            headers={"Retry-After": str(max(wait, 1))},
        )


def forget(session: Session, email: str) -> None:
    """A right password: the email starts afresh. Windows that have passed are dropped meanwhile."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.email_digest == digest(email)))
    session.execute(delete(LoginThrottle).where(LoginThrottle.window_started_at <= utcnow() - WINDOW))
