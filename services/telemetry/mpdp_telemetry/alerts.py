"""Alert rules: a mini program's figures over a moving window held to a threshold, and its new or
regressed crash groups, each said once as `telemetry.alert.fired` for the people to be told.

Kinds:

- `crash_free_sessions_below`, `crash_free_users_below`: the share of the sessions (of the users)
  that started in the last `window_minutes` without crashing is below `threshold` (0 to 1);
- `error_spike`: the error events of the last `window_minutes` are at least `threshold` times the
  average of the `PREVIOUS_WINDOWS` windows before, and at least `min_errors`;
- `new_issue`, `regression`: a crash group is new, or a resolved one came back in a newer version;
  they fire in the transaction that publishes the issue's event (crashes.record_event).

A figure is judged only with at least `min_sessions` sessions in the window, so that one crash at
night pages nobody. A rule that fired is `firing` and fires again only after it has been back to
`ok` (figures within the threshold, with enough sessions: a quiet night keeps it as it was).

What a window is made of, by the minute: the raw events (kept `MPDP_TELEMETRY_RETENTION_DAYS`),
whose times are the events' own: a session is an ingest `app_launch` or a Sentry session update
(type `session`, at the session's start) that started in the window, crashed when its Sentry
status is a crash (`session_status.CRASHED`) or an ingest `js_error` of the same session came since the
window began; its user is its `user_id` (Sentry's `did`), none when empty. Errors are the Sentry
error events that arrived in the window (`crash_events`) and ingest's `js_error` events of the
window. The daily rollups are no help here: they count days.

The alerts worker (`mpdpctl work telemetry alerts`) evaluates each rule of the evaluated kinds
every `MPDP_ALERT_INTERVAL_SECONDS` (60); several workers share the rules.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mpdp_common.config import Settings
from mpdp_common.contracts import Actor
from mpdp_common.contracts.telemetry import ALERT_FIRED, ISSUE_CREATED, ISSUE_REGRESSED
from mpdp_common.db import EVENT_PROCESS_CONNECTIONS, make_engine, session_scope, utcnow

from .events import events
from .models import AlertRule, CrashEvent, MiniProgram, RawEvent
from .session_status import CRASHED, SESSION

log = logging.getLogger(__name__)

CRASH_FREE_SESSIONS = "crash_free_sessions_below"
CRASH_FREE_USERS = "crash_free_users_below"
ERROR_SPIKE = "error_spike"
NEW_ISSUE = "new_issue"
REGRESSION = "regression"
KINDS = (CRASH_FREE_SESSIONS, CRASH_FREE_USERS, NEW_ISSUE, REGRESSION, ERROR_SPIKE)
#: the kinds the worker evaluates over a window; the others fire on an issue's event
EVALUATED = (CRASH_FREE_SESSIONS, CRASH_FREE_USERS, ERROR_SPIKE)
ON_ISSUE = {ISSUE_CREATED: NEW_ISSUE, ISSUE_REGRESSED: REGRESSION}

#: the windows before the current one whose average error count a spike is measured against
PREVIOUS_WINDOWS = 6
#: the defaults of a rule's fields, by kind where they differ
DEFAULT_MIN_SESSIONS = 100
DEFAULT_WINDOW_MINUTES = 60
DEFAULT_SPIKE_FACTOR = 3.0
DEFAULT_MIN_ERRORS = 10
MIN_WINDOW_MINUTES, MAX_WINDOW_MINUTES = 5, 7 * 24 * 60
#: rules evaluated in one transaction
BATCH = 50
#: who fires an alert, in the audit log and on the event
ALERTS = Actor.system("telemetry.alerts")


@dataclass(frozen=True)
class Window:
    """A mini program's figures over one window: sessions that started in it, and error events."""

    sessions: int = 0
    crashed_sessions: int = 0
    users: int = 0
    crashed_users: int = 0
    errors: int = 0
    #: error_spike: the average error count of the windows before
    previous_errors: float = 0.0


@dataclass(frozen=True)
class Verdict:
    #: breaching, ok, or insufficient_data (fewer than min_sessions sessions, or no users to count)
    state: str
    value: float | None
    summary: str = ""


def _percent(share: float) -> str:
    return f"{share:.2%}"


def judge(rule: AlertRule, window: Window, name: str = "") -> Verdict:
    """The rule's verdict on a window's figures; `name` (the mini program's) for the summary."""
    of = f" of {name}" if name else ""
    span = f"the last {rule.window_minutes} minutes"
    if window.sessions < (rule.min_sessions or 1):
        return Verdict("insufficient_data", None)
    threshold = rule.threshold if rule.threshold is not None else 0.0
    if rule.kind in (CRASH_FREE_SESSIONS, CRASH_FREE_USERS):
        counted, crashed, words = (
            (window.sessions, window.crashed_sessions, "sessions")
            if rule.kind == CRASH_FREE_SESSIONS
            else (window.users, window.crashed_users, "users")
        )
        if not counted:
            return Verdict("insufficient_data", None)
        value = round(1 - crashed / counted, 4)
        if value >= threshold:
            return Verdict("ok", value)
        return Verdict(
            "breaching",
            value,
            f"Crash-free {words}{of} are {_percent(value)} over {span} ({crashed} of {counted} {words} crashed), "
            f"below the threshold of {_percent(threshold)}.",
        )
    if rule.kind == ERROR_SPIKE:
        value = float(window.errors)
        if window.errors < (rule.min_errors or 1) or window.errors < threshold * window.previous_errors:
            return Verdict("ok", value)
        before = f"{window.previous_errors:.1f}"
        return Verdict(
            "breaching",
            value,
            f"{window.errors} errors{of} over {span} ({window.sessions} sessions), at least {threshold:g} times "
            f"the average of the {PREVIOUS_WINDOWS} windows before ({before}).",
        )
    raise ValueError(f"{rule.kind} rules are not judged over a window")


def window_of(session: Session, miniprogram_id: str, start: datetime, end: datetime, previous: int = 0) -> Window:
    """The figures of [start, end); with `previous`, the average error count of as many windows
    of the same length before it too."""
    days = (start.date(), end.date())
    in_window = (
        RawEvent.miniprogram_id == miniprogram_id,
        RawEvent.day >= days[0],
        RawEvent.day <= days[1],
        RawEvent.occurred_at >= start,
        RawEvent.occurred_at < end,
    )
    crashed_ids = select(RawEvent.session_id).where(
        RawEvent.miniprogram_id == miniprogram_id,
        RawEvent.day >= days[0],
        RawEvent.occurred_at >= start,
        or_(RawEvent.type == "js_error", (RawEvent.type == SESSION) & RawEvent.name.in_(CRASHED)),
    )
    started = select(RawEvent.session_id, RawEvent.user_id).where(*in_window, RawEvent.type.in_(("app_launch", SESSION))).subquery()
    crashed = started.c.session_id.in_(crashed_ids)
    named = started.c.user_id != ""
    sessions, crashed_sessions, users, crashed_users = session.execute(
        select(
            func.count(distinct(started.c.session_id)),
            func.count(distinct(started.c.session_id)).filter(crashed),
            func.count(distinct(started.c.user_id)).filter(named),
            func.count(distinct(started.c.user_id)).filter(named & crashed),
        )
    ).one()
    errors = _errors(session, miniprogram_id, start, end)
    before = _errors(session, miniprogram_id, start - previous * (end - start), start) / previous if previous else 0.0
    return Window(sessions, crashed_sessions, users, crashed_users, errors, before)


def _errors(session: Session, miniprogram_id: str, start: datetime, end: datetime) -> int:
    sentry = session.scalar(
        select(func.count()).where(
            CrashEvent.miniprogram_id == miniprogram_id, CrashEvent.received_at >= start, CrashEvent.received_at < end
        )
    )
    ingest = session.scalar(
        select(func.count()).where(
            RawEvent.miniprogram_id == miniprogram_id,
            RawEvent.day >= start.date(),
            RawEvent.day <= end.date(),
            RawEvent.occurred_at >= start,
            RawEvent.occurred_at < end,
            RawEvent.type == "js_error",
        )
    )
    return int(sentry or 0) + int(ingest or 0)


def _fire(session: Session, rule: AlertRule, at: datetime, summary: str, **figures: Any) -> None:
    payload = {
        "alert_rule_id": rule.id,
        "workspace_id": rule.workspace_id,
        "miniprogram_id": rule.miniprogram_id,
        "kind": rule.kind,
        "threshold": rule.threshold,
        "window_minutes": rule.window_minutes,
        "min_sessions": rule.min_sessions,
        "value": None,
        "sessions": None,
        "issue_id": None,
        "summary": summary,
        "fired_at": at.isoformat(),
    } | figures
    events.publish(session, ALERT_FIRED, payload, workspace_id=rule.workspace_id, aggregate_id=rule.id, actor=ALERTS)
    rule.last_fired_at = at
    log.warning("alert rule %s (%s of mini program %s) fired: %s", rule.id, rule.kind, rule.miniprogram_id, summary)


def evaluate(session: Session, rule: AlertRule, now: datetime) -> Verdict:
    """Judge one rule over the window that ends now: fire once when it breaches, re-arm when it is
    back to ok."""
    window = window_of(
        session,
        rule.miniprogram_id,
        now - timedelta(minutes=rule.window_minutes or DEFAULT_WINDOW_MINUTES),
        now,
        PREVIOUS_WINDOWS if rule.kind == ERROR_SPIKE else 0,
    )
    verdict = judge(rule, window, _name(session, rule.miniprogram_id))
    if verdict.state == "breaching" and rule.state != "firing":
        _fire(session, rule, now, verdict.summary, value=verdict.value, sessions=window.sessions)
        rule.state = "firing"
    elif verdict.state == "ok":
        rule.state = "ok"
    rule.last_value, rule.last_sessions, rule.evaluated_at = verdict.value, window.sessions, now
    return verdict


def _name(session: Session, miniprogram_id: str) -> str:
    return session.scalar(select(MiniProgram.name).where(MiniProgram.id == miniprogram_id)) or ""


def fire_for_issue(session: Session, event_type: str, issue: dict[str, Any]) -> None:
    """The rules that a new (or regressed) crash group fires, in the transaction of its event."""
    kind = ON_ISSUE[event_type]
    rules = session.scalars(
        select(AlertRule).where(AlertRule.miniprogram_id == issue["miniprogram_id"], AlertRule.kind == kind).order_by(AlertRule.id)
    ).all()
    if not rules:
        return
    name = _name(session, issue["miniprogram_id"])
    where = f" in {name}" if name else ""
    if kind == NEW_ISSUE:
        summary = f"New crash{where}, version {issue['version']}: {issue['title']}"
    else:
        summary = f"Crash regressed{where} in version {issue['version']} (resolved in {issue['resolved_in']}): {issue['title']}"
    now = utcnow()
    for rule in rules:
        _fire(session, rule, now, summary, issue_id=issue["issue_id"])


# -- the alerts worker ----------------------------------------------------------------------------


def check_due(sessions: sessionmaker[Session], interval: timedelta, now: datetime | None = None) -> int:
    """One pass: every rule due for an evaluation; the number evaluated. Several workers share the
    work: each takes the rows no other holds."""
    now = now or utcnow()
    with session_scope(sessions) as session:
        due = session.scalars(
            select(AlertRule)
            .where(AlertRule.next_check_at <= now)
            .order_by(AlertRule.next_check_at)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        for rule in due:
            evaluate(session, rule, now)
            rule.next_check_at = now + interval
        return len(due)


def run_worker(settings: Settings, stop: threading.Event) -> None:
    """Evaluate due rules until `stop` is set."""
    sessions = sessionmaker(make_engine(settings.database_url, EVENT_PROCESS_CONNECTIONS), expire_on_commit=False)
    interval = timedelta(seconds=settings.alert_interval_seconds)
    log.info("alerts started, evaluating each rule every %s s", settings.alert_interval_seconds)
    while not stop.is_set():
        try:
            if check_due(sessions, interval) >= BATCH:
                continue
        except OperationalError as error:
            log.warning("database unavailable (%s); alerts wait", error.__class__.__name__)
            stop.wait(5)
            continue
        except Exception:
            log.exception("evaluating alert rules failed; retrying")
            stop.wait(2)
        stop.wait(min(settings.alert_interval_seconds, settings.outbox_poll_seconds))
