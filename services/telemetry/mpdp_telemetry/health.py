"""Release health, crash-free sessions and users, from both places sessions come from, read from
the daily rollups only (a few rows per day, host app and version, whatever the sessions behind):

- the sessions the folder counted (`daily_counts` metrics `launched` and `crashed`, `user_sets`
  kinds of the same names), of both sources alike: the platform's ingest (an `app_launch`'s
  session, crashed when a `js_error` came with it) and Sentry's protocol (a session crashed when
  its status is `crashed`, `abnormal` or `unhandled`), each on the host app of the key that sent it;
- the sessions server SDKs send pre-counted (`session_aggregates`, no users);
- error events per version (`issue_versions`), of every host app.

Users are counted once: a Sentry `did` that is a user id the mini program's ingest knows is that
user (one number, one bit).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import reports
from .crashes import version_key
from .models import IssueVersion, SessionAggregate


@dataclass
class Figures:
    sessions: int = 0
    crashed_sessions: int = 0
    #: the users, as an integer whose bits are their numbers
    users: int = 0
    crashed_users: int = 0
    error_count: int = 0

    def add(self, other: Figures) -> None:
        self.sessions += other.sessions
        self.crashed_sessions += other.crashed_sessions
        self.users |= other.users
        self.crashed_users |= other.crashed_users
        self.error_count += other.error_count

    @classmethod
    def together(cls, parts: Iterable[Figures]) -> Figures:
        whole = cls()
        for part in parts:
            whole.add(part)
        return whole

    def answer(self) -> dict:
        users, crashed_users = self.users.bit_count(), self.crashed_users.bit_count()
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

    `app_id` narrows the sessions (each source names the host app that sent them), not the error
    events, which are counted per version of every host app."""
    per_version, per_day = _figures(session, miniprogram_id, start, end, app_id, version)
    overall = Figures.together(per_version.values())
    by_version = [
        {"version": name} | figures.answer()
        for name, figures in sorted(per_version.items(), key=lambda item: version_key(item[0]), reverse=True)
    ]
    # Every day of the range, those without sessions too: a chart's line breaks there.
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    by_day = [{"date": day} | per_day.get(day, Figures()).answer() for day in days]
    return overall.answer() | {"by_version": by_version, "by_day": by_day}


def _figures(
    session: Session, miniprogram_id: str, start: date, end: date, app_id: str | None, version: str | None
) -> tuple[dict[str, Figures], dict[date, Figures]]:
    """The figures of each version and of each day, from the three places they are kept, each read once."""
    per_version: dict[str, Figures] = defaultdict(Figures)
    per_day: dict[date, Figures] = defaultdict(Figures)
    for (day, name), (sessions, crashed, users, crashed_users) in reports.launched_sessions(
        session, miniprogram_id, start, end, app_id, version
    ).items():
        figures = Figures(sessions, crashed, users, crashed_users)
        per_version[name].add(figures)
        per_day[day].add(figures)
    aggregates = select(
        SessionAggregate.day, SessionAggregate.release, func.sum(SessionAggregate.total), func.sum(SessionAggregate.crashed)
    ).where(SessionAggregate.miniprogram_id == miniprogram_id, SessionAggregate.day >= start, SessionAggregate.day <= end)
    errors = select(IssueVersion.day, IssueVersion.version, func.sum(IssueVersion.count)).where(
        IssueVersion.miniprogram_id == miniprogram_id, IssueVersion.day >= start, IssueVersion.day <= end
    )
    if app_id:
        aggregates = aggregates.where(SessionAggregate.app_id == app_id)
    if version:
        aggregates = aggregates.where(SessionAggregate.release == version)
        errors = errors.where(IssueVersion.version == version)
    for day, release, total, crashed in session.execute(aggregates.group_by(SessionAggregate.day, SessionAggregate.release)):
        for figures in (per_version[release], per_day[day]):
            figures.sessions += int(total)
            figures.crashed_sessions += int(crashed)
    for day, name, count in session.execute(errors.group_by(IssueVersion.day, IssueVersion.version)):
        per_version[name].error_count += int(count)
        per_day[day].error_count += int(count)
    return per_version, per_day


def version_figures(session: Session, miniprogram_id: str, app_id: str, version: str, start: date, end: date) -> dict:
    """One version's health on one host app for a range of days: what a launch's guard judges."""
    per_version, _per_day = _figures(session, miniprogram_id, start, end, app_id, version)
    figures = Figures.together(per_version.values()).answer()
    startup = reports.startup_percentiles(session, miniprogram_id, start, end, app_id, version)
    return {name: figures[name] for name in HEALTH_FIGURES} | {"startup_p50_ms": startup["p50"], "startup_p90_ms": startup["p90"]}


#: the figures of release health that a launch's health names, besides its launch times
HEALTH_FIGURES = ("sessions", "crashed_sessions", "crash_free_sessions", "users", "crashed_users", "crash_free_users", "error_count")
