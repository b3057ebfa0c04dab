"""Crash reports in Sentry's envelope protocol: parsing envelopes, grouping error events into
issues, and the release health that session items report.

An envelope is a JSON header line, then items: each a JSON header line (`type`, optional `length`)
and a payload of `length` bytes, or up to the end of the line when no length is given.

Grouping, in Sentry's order of preference: the client's `fingerprint` (where `{{ default }}` stands
for the default grouping); else the exception types with the in-app stack frames (module or file,
and function: never line numbers, which move with every edit); else the exception types and
values; else the message. An exception that the SDK made up to carry a stack (`mechanism.synthetic`,
as the JavaScript SDKs' `captureMessage` sends) counts as no exception: the message groups it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from mpdp_common.config import Settings
from mpdp_common.contracts.telemetry import ISSUE_CREATED, ISSUE_REGRESSED
from mpdp_common.db import dialect_insert, new_id, utcnow

from . import alerts, sourcemaps
from .events import events
from .models import CrashEvent, Issue, IssueUser, IssueVersion, MiniProgram, SessionAggregate
from .raw_events import RawEvent
from .session_status import CRASHED, SESSION, SEVERITY

HANDLED_ITEMS = {"event", "session", "sessions"}
_DEFAULT = re.compile(r"^\{\{\s*default\s*\}\}$")
UNKNOWN_VERSION = "unknown"

#: Sentry's limits on one envelope, by the kind of item counted: one event (or transaction), 100
#: sessions (single or aggregated), 100 attachments (taken and not kept), and as many of any
#: other kind, which is skipped
ENVELOPE_LIMITS = {"event": 1, "session": 100, "attachment": 100}
MAX_OTHER_ITEMS = 100
_COUNTED_AS = {"transaction": "event", "sessions": "session"}


class BadEnvelope(ValueError):
    pass


class EnvelopeOverLimit(ValueError):
    pass


def _header(line: bytes, what: str) -> Any:
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        raise BadEnvelope(f"{what} is not JSON") from None


def parse_envelope(body: bytes) -> tuple[dict, list[tuple[dict, bytes]]]:
    """The envelope's header and its items as (item header, payload); over a limit it stops at
    the first item too many, so that no more of the envelope is read."""
    header_line, _, rest = body.partition(b"\n")
    header = _header(header_line or b"{}", "the envelope header")
    items = []
    counts: Counter[str] = Counter()
    position = 0
    while position < len(rest):
        end = rest.find(b"\n", position)
        line = rest[position : end if end >= 0 else len(rest)]
        position = end + 1 if end >= 0 else len(rest)
        if not line.strip():
            continue
        item_header = _header(line, "an item header")
        if not isinstance(item_header, dict):
            raise BadEnvelope("an item header is not a JSON object")
        kind = item_header.get("type")
        if not isinstance(kind, str):
            raise BadEnvelope("an item header has no type")
        counted = _COUNTED_AS.get(kind, kind)
        counts[counted] += 1
        limit = ENVELOPE_LIMITS.get(counted, MAX_OTHER_ITEMS)
        if counts[counted] > limit:
            raise EnvelopeOverLimit(f"an envelope holds at most {limit} {counted} item{'s' if limit > 1 else ''}")
        length = item_header.get("length")
        if isinstance(length, int) and length >= 0:
            payload = rest[position : position + length]
            if len(payload) < length:
                raise BadEnvelope("an item is shorter than its length")
            position += length
            if rest[position : position + 1] == b"\n":
                position += 1
        else:
            end = rest.find(b"\n", position)
            payload = rest[position : end if end >= 0 else len(rest)]
            position = end + 1 if end >= 0 else len(rest)
        items.append((item_header, payload))
    return header if isinstance(header, dict) else {}, items


def version_of(release: Any) -> str:
    """Sentry releases are often `package@1.2.0`: the version is what follows the last @."""
    if not isinstance(release, str) or not release.strip():
        return UNKNOWN_VERSION
    return release.rsplit("@", 1)[-1][:64]


def version_key(version: str) -> tuple:
    """Orders versions like semver: numbers numerically, a pre-release before its release. A part
    is a number only when it is ASCII digits: `str.isdigit` also takes `²`, which `int` refuses."""
    core, _, pre = version.partition("+")[0].partition("-")
    numbers = tuple(int(part) if part.isascii() and part.isdigit() else -1 for part in core.split("."))
    return numbers, 0 if pre else 1, pre


def _time(value: Any, default: datetime) -> datetime:
    """A Sentry timestamp (seconds or RFC 3339) in UTC; `default` when it is none, or names no
    moment that UTC can hold (`0001-01-01T00:00:00+01:00` is in the year 0 there)."""
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return default


# -- Sentry's sizes -------------------------------------------------------------------------------

#: what Sentry keeps of an event (its relay's trimming, its server's limits): the newest 250 frames
#: of a stack trace, the newest 100 breadcrumbs, the last 25 exceptions of a chain; data bags
#: (extra, contexts, tags, frame variables, anything else) 7 levels deep and 50 items wide; text
#: of 8,192 characters; and about 1 MB (Sentry's event size) for the whole event
MAX_FRAMES = 250
MAX_BREADCRUMBS = 100
MAX_EXCEPTIONS = 25
BAG_DEPTH = 7
BAG_BREADTH = 50
MAX_TEXT = 8192
MAX_EVENT_CHARS = 1_000_000
_DROPPED = object()


def cut_event(event: dict) -> dict:
    """The event cut to Sentry's sizes, its parts in the shapes Sentry's protocol gives them: a part
    of the wrong shape (`exception: 5`, `frames: 7`) is dropped, as Sentry's relay drops it."""
    return _Cut().fields(
        event,
        {
            "exception": _Cut.exceptions,
            "threads": _Cut.threads,
            "stacktrace": _Cut.stacktrace,
            "logentry": _Cut.logentry,
            "breadcrumbs": _Cut.breadcrumbs,
        },
    )


class _Cut:
    """One event's cut: every part takes from one budget of characters, so that the event stays
    within Sentry's size however its parts are shaped."""

    def __init__(self) -> None:
        self.left = MAX_EVENT_CHARS

    def fields(self, value: dict, structured: dict[str, Callable[[_Cut, Any], Any]]) -> dict:
        """An object of the protocol: its `structured` fields first, then the others as data bags."""
        cut = {}
        for key, part in structured.items():
            if key in value and (kept := part(self, value[key])) is not _DROPPED:
                cut[key] = kept
        for key, item in value.items():
            if self.left <= 0:
                break
            if key not in structured and (kept := self.bag(item)) is not _DROPPED:
                cut[key[:MAX_TEXT]] = kept
                self.left -= len(key)
        return cut

    def bag(self, value: Any, depth: int = BAG_DEPTH) -> Any:
        if self.left <= 0:
            return _DROPPED
        if isinstance(value, str):
            value = value[:MAX_TEXT]
            self.left -= len(value) + 2
            return value
        if not isinstance(value, dict | list):
            self.left -= 8
            return value
        if depth == 0:
            return _DROPPED
        self.left -= 2
        if isinstance(value, list):
            return [kept for item in islice(value, BAG_BREADTH) if (kept := self.bag(item, depth - 1)) is not _DROPPED]
        cut = {}
        for key, item in islice(value.items(), BAG_BREADTH):
            if (kept := self.bag(item, depth - 1)) is not _DROPPED:
                cut[key[:MAX_TEXT]] = kept
                self.left -= len(key)
        return cut

    def objects(self, values: Any, keep: slice, part: Callable[[_Cut, dict], Any]) -> Any:
        """`{values: [...]}` (or the bare list), the `keep` slice of its objects, each cut by `part`."""
        if isinstance(values, dict):
            values = values.get("values")
        if not isinstance(values, list):
            return _DROPPED
        return {"values": [part(self, value) for value in values[keep] if isinstance(value, dict)]}

    def exceptions(self, values: Any) -> Any:
        return self.objects(values, slice(-MAX_EXCEPTIONS, None), lambda cut, value: cut.fields(value, {"stacktrace": _Cut.stacktrace}))

    def threads(self, values: Any) -> Any:
        return self.objects(values, slice(BAG_BREADTH), lambda cut, value: cut.fields(value, {"stacktrace": _Cut.stacktrace}))

    def breadcrumbs(self, values: Any) -> Any:
        return self.objects(values, slice(-MAX_BREADCRUMBS, None), lambda cut, value: cut.fields(value, {}))

    def stacktrace(self, value: Any) -> Any:
        if not isinstance(value, dict):
            return _DROPPED
        return self.fields(value, {"frames": _Cut.frames})

    def frames(self, frames: Any) -> Any:
        if not isinstance(frames, list):
            return _DROPPED
        return [self.fields(frame, {}) for frame in frames[-MAX_FRAMES:] if isinstance(frame, dict)]

    def logentry(self, value: Any) -> Any:
        """Sentry's relay takes a bare string for a log entry's text."""
        if isinstance(value, str):
            value = {"formatted": value}
        return self.fields(value, {}) if isinstance(value, dict) else _DROPPED


def _synthetic(exception: dict) -> bool:
    """An exception the SDK made up to carry a stack (a JavaScript `captureMessage`, or a thrown
    string): it says where the message was sent from, not what went wrong."""
    mechanism = exception.get("mechanism")
    return isinstance(mechanism, dict) and mechanism.get("synthetic") is True


def _all_exceptions(event: dict) -> list[dict]:
    values = event.get("exception")
    if isinstance(values, dict):
        values = values.get("values")
    return [value for value in values if isinstance(value, dict)] if isinstance(values, list) else []


def _exceptions(event: dict) -> list[dict]:
    return [value for value in _all_exceptions(event) if not _synthetic(value)]


def _frames(exception: dict) -> list[dict]:
    stacktrace = exception.get("stacktrace")
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    return [frame for frame in frames if isinstance(frame, dict)] if isinstance(frames, list) else []


def _message(event: dict) -> str:
    logentry = event.get("logentry")
    logentry = logentry if isinstance(logentry, dict) else {}
    message = event.get("message")
    if isinstance(message, dict):
        message = message.get("formatted") or message.get("message")
    synthetic = [value.get("value") for value in _all_exceptions(event) if _synthetic(value)]
    return str(logentry.get("formatted") or logentry.get("message") or message or (synthetic[-1] if synthetic else "") or "")


def default_grouping(event: dict) -> list[str]:
    exceptions = _exceptions(event)
    by_frames = []
    for exception in exceptions:
        in_app = [frame for frame in _frames(exception) if frame.get("in_app")]
        if in_app:
            by_frames.append(str(exception.get("type") or ""))
            by_frames += [f"{frame.get('module') or frame.get('filename') or '?'}:{frame.get('function') or '?'}" for frame in in_app]
    if by_frames:
        return ["frames", *by_frames]
    if exceptions:
        return ["exception", *(f"{exception.get('type')}: {exception.get('value')}" for exception in exceptions)]
    return ["message", _message(event)]


def fingerprint_of(event: dict) -> str:
    components = default_grouping(event)
    client = event.get("fingerprint")
    if isinstance(client, list) and client:
        expanded: list[str] = []
        for part in client:
            if isinstance(part, str) and _DEFAULT.match(part):
                expanded += components
            else:
                expanded.append(str(part))
        components = ["fingerprint", *expanded]
    return hashlib.sha256(json.dumps(components).encode()).hexdigest()[:40]


def title_and_culprit(event: dict) -> tuple[str, str]:
    exceptions = _exceptions(event)
    if exceptions:
        last = exceptions[-1]
        title = f"{last.get('type') or 'Error'}: {last.get('value') or ''}".rstrip(": ")
        in_app = [frame for frame in _frames(last) if frame.get("in_app")] or _frames(last)
        culprit = ""
        if in_app:
            frame = in_app[-1]
            culprit = f"{frame.get('module') or frame.get('filename') or '?'} in {frame.get('function') or '?'}"
        return title[:255], str(event.get("culprit") or culprit or event.get("transaction") or "")[:255]
    return (_message(event) or "(no message)")[:255], str(event.get("culprit") or event.get("transaction") or "")[:255]


def user_of(event: dict) -> str | None:
    user = event.get("user")
    if not isinstance(user, dict):
        return None
    for field in ("id", "email", "username", "ip_address"):
        if user.get(field):
            return str(user[field])[:128]
    return None


def record_event(session: Session, miniprogram: MiniProgram, event: dict, settings: Settings | None = None) -> str | None:
    """Group one error event into its issue, kept cut to Sentry's sizes and, with the `settings`
    that name the package store, its frames resolved through its version's source maps; the
    issue's id (None for a resent event). A new issue publishes `telemetry.issue.created`, a
    resolved one that an event of a newer version reopens `telemetry.issue.regressed`, in the
    caller's transaction."""
    event = cut_event(event)
    version = version_of(event.get("release"))
    if settings is not None and miniprogram.has_sourcemaps and version != UNKNOWN_VERSION:
        event = sourcemaps.resolve(session, settings, miniprogram.id, version, event)
    now = utcnow()
    event_id = str(event.get("event_id") or new_id())[:64]
    fingerprint = fingerprint_of(event)
    seen_at = min(_time(event.get("timestamp"), now), now)
    title, culprit = title_and_culprit(event)
    level = str(event.get("level") or "error")[:16]
    inserted = session.execute(
        dialect_insert(session, Issue)
        .values(
            id=new_id(),
            workspace_id=miniprogram.workspace_id,
            miniprogram_id=miniprogram.id,
            fingerprint=fingerprint,
            title=title,
            culprit=culprit,
            level=level,
            status="unresolved",
            regressed=False,
            count=0,
            users=0,
            first_seen=seen_at,
            last_seen=seen_at,
            latest_event=event,
        )
        .on_conflict_do_nothing()
        .returning(Issue.id)
    ).first()
    issue = session.execute(
        select(Issue)
        .options(defer(Issue.latest_event))  # replaced, never read
        .where(Issue.miniprogram_id == miniprogram.id, Issue.fingerprint == fingerprint)
        .with_for_update()
    ).scalar_one()
    taken = session.execute(
        dialect_insert(session, CrashEvent)
        .values(miniprogram_id=miniprogram.id, event_id=event_id, issue_id=issue.id, received_at=now)
        .on_conflict_do_nothing()
        .returning(CrashEvent.event_id)
    ).first()
    if taken is None:
        return None
    # New when this insert made it (RETURNING names only the row it wrote, whatever a concurrent
    # batch does), or when its first counted event is this one: an issue made for a resent event
    # that another issue had already taken holds no event yet. The row is locked: one says it.
    created = inserted is not None or issue.count == 0
    regressed_from = None
    if (
        issue.status == "resolved"
        and version != UNKNOWN_VERSION
        and issue.resolved_in
        and version_key(version) > version_key(issue.resolved_in)
    ):
        issue.status, issue.regressed = "unresolved", True
        regressed_from = issue.resolved_in
    issue.count += 1
    issue.first_seen = min(issue.first_seen, seen_at)
    if seen_at >= issue.last_seen:
        issue.last_seen, issue.latest_event, issue.title, issue.culprit, issue.level = seen_at, event, title, culprit, level
    user = user_of(event)
    if user is not None:
        added = session.execute(
            dialect_insert(session, IssueUser).values(issue_id=issue.id, user_id=user).on_conflict_do_nothing().returning(IssueUser.user_id)
        ).first()
        if added is not None:
            issue.users += 1
    stmt = dialect_insert(session, IssueVersion).values(
        issue_id=issue.id, version=version, day=seen_at.date(), miniprogram_id=miniprogram.id, count=1
    )
    session.execute(stmt.on_conflict_do_update(index_elements=["issue_id", "version", "day"], set_={"count": IssueVersion.count + 1}))
    if created:
        _publish_issue(session, ISSUE_CREATED, issue, version, {"first_seen": issue.first_seen.isoformat()})
    elif regressed_from is not None:
        _publish_issue(session, ISSUE_REGRESSED, issue, version, {"resolved_in": regressed_from, "regressed_at": seen_at.isoformat()})
    return issue.id


def _publish_issue(session: Session, event_type: str, issue: Issue, version: str, beside: dict[str, Any]) -> None:
    """The issue's event, in the transaction that records its crash, and the alerts it fires."""
    payload = {
        "issue_id": issue.id,
        "workspace_id": issue.workspace_id,
        "miniprogram_id": issue.miniprogram_id,
        "title": issue.title,
        "culprit": issue.culprit,
        "level": issue.level,
        "version": version,
    } | beside
    events.publish(session, event_type, payload, workspace_id=issue.workspace_id, aggregate_id=issue.id)
    alerts.fire_for_issue(session, event_type, payload)


def resolve_issues(session: Session, settings: Settings, miniprogram_id: str, version: str) -> int:
    """Resolve again, now that the version's maps are here, the latest event of each issue whose
    latest event is of that version; how many changed. An issue keeps its grouping: the crashes
    that come from now on are grouped by their resolved frames."""
    refs = sourcemaps.maps_of(session, miniprogram_id, version)
    if not refs:
        return 0
    cache = sourcemaps.map_cache(settings)
    of_version = select(IssueVersion.issue_id).where(IssueVersion.miniprogram_id == miniprogram_id, IssueVersion.version == version)
    changed = 0
    issues = session.scalars(
        select(Issue).where(Issue.miniprogram_id == miniprogram_id, Issue.id.in_(of_version)).order_by(Issue.id).with_for_update()
    )
    for issue in issues:
        event = json.loads(json.dumps(issue.latest_event))  # a copy, so that the change is seen
        if version_of(event.get("release")) != version or not sourcemaps.has_frames(event):
            continue
        if sourcemaps.resolve_event(event, refs, cache):
            issue.latest_event = event
            issue.title, issue.culprit = title_and_culprit(event)
            changed += 1
    return changed


def newest_version(session: Session, issue_id: str) -> str | None:
    versions = session.scalars(select(IssueVersion.version).where(IssueVersion.issue_id == issue_id).distinct()).all()
    known = [version for version in versions if version != UNKNOWN_VERSION]
    return max(known, key=version_key) if known else None


# -- release health -------------------------------------------------------------------------------


def _text(value: Any, limit: int) -> str:
    """Text for the database, which holds no NUL character."""
    return str(value).replace("\x00", "")[:limit]


def session_update(miniprogram: MiniProgram, app_id: str, update_: dict) -> RawEvent | None:
    """A Sentry session's update as a raw event (None without a session id), for the folder to
    count: its session on the day it started, its worst status, its user (`did`). Updates that say
    the same again are one event (their id is made of what they say)."""
    session_id = _text(update_.get("sid") or "", 128)
    if not session_id:
        return None
    status = str(update_.get("status") or "ok")
    if status in ("ok", "exited") and _count(update_, "errors") > 0:
        status = "errored"
    status = status if status in SEVERITY else "ok"
    now = utcnow()
    started = min(_time(update_.get("started"), now), now)
    did = _text(update_.get("did") or "", 128)
    version = version_of(_object(update_.get("attrs")).get("release"))
    said = hashlib.sha256(f"{session_id}\n{status}\n{did}".encode()).hexdigest()[:40]
    return RawEvent(
        day=started.date(),
        miniprogram_id=miniprogram.id,
        event_id=f"session:{said}",
        occurred_at=started,
        received_at=now,
        app_id=app_id,
        type=SESSION,
        version=version,
        user_id=did,
        session_id=session_id,
        page=None,
        duration_ms=None,
        name=status,
        properties=None,
    )


def record_session_aggregates(session: Session, miniprogram: MiniProgram, app_id: str, payload: dict) -> None:
    """Sessions an SDK counted itself (no session ids, no users), added per day, host app and version."""
    release = version_of(_object(payload.get("attrs")).get("release"))
    totals: dict[date, list[int]] = {}
    for bucket in payload.get("aggregates") or []:
        if not isinstance(bucket, dict):
            continue
        counts = {name: _count(bucket, name) for name in ("exited", "errored", *CRASHED)}
        day = _time(bucket.get("started"), utcnow()).date()
        figures = totals.setdefault(day, [0, 0, 0])
        figures[0] += sum(counts.values())
        figures[1] += sum(counts[name] for name in CRASHED)
        figures[2] += counts["errored"]
    for day, (total, crashed, errored) in totals.items():
        stmt = dialect_insert(session, SessionAggregate).values(
            miniprogram_id=miniprogram.id, day=day, app_id=app_id, release=release, total=total, crashed=crashed, errored=errored
        )
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["miniprogram_id", "day", "app_id", "release"],
                set_={
                    "total": SessionAggregate.total + stmt.excluded.total,
                    "crashed": SessionAggregate.crashed + stmt.excluded.crashed,
                    "errored": SessionAggregate.errored + stmt.excluded.errored,
                },
            )
        )


def _object(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _count(item: dict, name: str) -> int:
    """A non-negative count from an SDK's payload (0 when it is missing or not a count)."""
    value = item.get(name)
    return max(value, 0) if isinstance(value, int) and not isinstance(value, bool) else 0


def set_status(session: Session, issue: Issue, status: str) -> None:
    """Resolving remembers the newest version seen, so that an event of a newer one reopens the issue."""
    if status == "resolved" and issue.status != "resolved":
        issue.resolved_in = newest_version(session, issue.id)
    if status != "resolved":
        issue.resolved_in = None
    if status != "unresolved":
        issue.regressed = False
    issue.status = status
