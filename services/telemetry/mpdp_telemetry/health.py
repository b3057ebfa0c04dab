"""Release health, crash-free sessions and users, from both places sessions come from:

- Sentry's protocol: each session kept at its worst status (`release_sessions`; crashed when its
  status is `crashed`, `abnormal` or `unhandled`) and the sessions server SDKs send pre-counted
  (`session_aggregates`);
- the platform's ingest: an `app_launch`'s session, crashed when a `js_error` came with it, which
  the folder keeps per day, host app and version (`daily_counts` metrics `launched` and `crashed`,
  `user_sets` kinds of the same names).

Sessions add up across the two. Users are counted once: a Sentry `did` that is a user id the mini
program's ingest knows is that user, any other `did` one more user.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import bulk, reports
from .crashes import CRASHED, version_key
from .models import IssueVersion, ReleaseSession, SessionAggregate, UserNumber
from .rollups import CHUNK


@dataclass
class Users:
    """A set of users: ingest's user numbers as bits, and the Sentry `did`s no ingest user has."""

    numbers: int = 0
    others: set[str] = field(default_factory=set)

    def add(self, other: Users) -> None:
        self.numbers |= other.numbers
        self.others |= other.others

    def count(self) -> int:
        return self.numbers.bit_count() + len(self.others)


@dataclass
class Figures:
    sessions: int = 0
    crashed_sessions: int = 0
    users: Users = field(default_factory=Users)
    crashed_users: Users = field(default_factory=Users)
    error_count: int = 0

    def add(self, other: Figures) -> None:
        self.sessions += other.sessions
        self.crashed_sessions += other.crashed_sessions
        self.users.add(other.users)
        self.crashed_users.add(other.crashed_users)
        self.error_count += other.error_count

    def answer(self) -> dict:
        users, crashed_users = self.users.count(), self.crashed_users.count()
        return {
            "sessions": self.sessions,
            "crashed_sessions": self.crashed_sessions,
            "crash_free_sessions": round(1 - self.crashed_sessions / self.sessions, 4) if self.sessions else None,
            "users": users,
            "crashed_users": crashed_users,
            "crash_free_users": round(1 - crashed_users / users, 4) if users else None,
            "error_count": self.error_count,
        }


def release_health(
    session: Session, miniprogram_id: str, start: date, end: date, app_id: str | None = None, version: str | None = None
) -> dict:
    """Crash-free sessions and users and error events for a range of days, overall and per version.

    `app_id` narrows ingest's figures only: Sentry's sessions do not say which host app sent them."""
    per_version: dict[str, Figures] = defaultdict(Figures)
    _from_ingest(session, per_version, miniprogram_id, start, end, app_id, version)
    _from_sentry(session, per_version, miniprogram_id, start, end, version)
    overall = Figures()
    for figures in per_version.values():
        overall.add(figures)
    by_version = [
        {"version": name} | figures.answer()
        for name, figures in sorted(per_version.items(), key=lambda item: version_key(item[0]), reverse=True)
    ]
    return overall.answer() | {"by_version": by_version}


def _from_ingest(
    session: Session, per_version: dict[str, Figures], miniprogram_id: str, start: date, end: date, app_id: str | None, version: str | None
) -> None:
    for name, (sessions, crashed, users, crashed_users) in reports.launched_sessions(
        session, miniprogram_id, start, end, app_id, version
    ).items():
        figures = per_version[name]
        figures.sessions += sessions
        figures.crashed_sessions += crashed
        figures.users.numbers |= users
        figures.crashed_users.numbers |= crashed_users


def _from_sentry(
    session: Session, per_version: dict[str, Figures], miniprogram_id: str, start: date, end: date, version: str | None
) -> None:
    sessions = select(ReleaseSession.release, ReleaseSession.status, ReleaseSession.distinct_id).where(
        ReleaseSession.miniprogram_id == miniprogram_id, ReleaseSession.day >= start, ReleaseSession.day <= end
    )
    aggregates = select(SessionAggregate.release, func.sum(SessionAggregate.total), func.sum(SessionAggregate.crashed)).where(
        SessionAggregate.miniprogram_id == miniprogram_id, SessionAggregate.day >= start, SessionAggregate.day <= end
    )
    errors = select(IssueVersion.version, func.sum(IssueVersion.count)).where(
        IssueVersion.miniprogram_id == miniprogram_id, IssueVersion.day >= start, IssueVersion.day <= end
    )
    if version:
        sessions = sessions.where(ReleaseSession.release == version)
        aggregates = aggregates.where(SessionAggregate.release == version)
        errors = errors.where(IssueVersion.version == version)
    rows = session.execute(sessions).all()
    numbers = _user_numbers(session, miniprogram_id, list({distinct_id for _release, _status, distinct_id in rows if distinct_id}))
    for release, status, distinct_id in rows:
        figures = per_version[release]
        crashed = status in CRASHED
        figures.sessions += 1
        figures.crashed_sessions += crashed
        if distinct_id:
            for users in (figures.users, figures.crashed_users) if crashed else (figures.users,):
                if distinct_id in numbers:
                    users.numbers |= 1 << numbers[distinct_id]
                else:
                    users.others.add(distinct_id)
    for release, total, crashed in session.execute(aggregates.group_by(SessionAggregate.release)):
        per_version[release].sessions += int(total)
        per_version[release].crashed_sessions += int(crashed)
    for name, count in session.execute(errors.group_by(IssueVersion.version)):
        per_version[name].error_count += int(count)


def _user_numbers(session: Session, miniprogram_id: str, user_ids: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(user_ids), CHUNK):
        chunk = user_ids[start : start + CHUNK]
        stmt = select(UserNumber.user_id, UserNumber.number).where(
            UserNumber.miniprogram_id == miniprogram_id, bulk.among(session, UserNumber.user_id, chunk)
        )
        found.update({user_id: number for user_id, number in session.execute(stmt)})
    return found
