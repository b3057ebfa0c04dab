"""`POST /ingest/v1/events`: analytics events from host apps, a batch at a time.

Each event is checked on its own: the good ones are kept even when others in the batch are
refused (by index, with the reason). The answer 202 comes after the batch is committed to the
raw events table, so nothing answered 202 can be lost by a crash.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta

from flask import Flask, current_app, request
from flask_smorest import Blueprint
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy import select

from mpdp_common.appkeys import KEY_HEADER, NAMED_KEY_SCHEME, usable_app_key
from mpdp_common.auth import public
from mpdp_common.config import Settings
from mpdp_common.db import utcnow
from mpdp_common.errors import Problem, validation_failed
from mpdp_common.metrics import INGESTED
from mpdp_common.openapi import APP_KEY, problems
from mpdp_common.request_db import db_session
from mpdp_common.web import accepts, holds_lone_surrogate

from . import raw_events, schemas
from .bodies import ENCODING_PARAMETER, request_body
from .models import AppKey, MiniProgram, Workspace

ingest = Blueprint("ingest", __name__, url_prefix="/ingest", description="Events and crash reports from host apps")

#: how far back an event may be dated (after the skew correction; less when raw events are kept
#: for a shorter time, so that no event goes to a dropped partition), and how far ahead
MAX_AGE = timedelta(days=30)
MAX_AHEAD = timedelta(hours=1)


def ingest_key(key_id: str | None) -> AppKey:
    """The usable app key named by the request, or 401. Nothing is signed: ingest keys are public."""
    return usable_app_key(db_session(), AppKey, key_id, scheme=NAMED_KEY_SCHEME)


def check_rate(key: AppKey, events: int) -> None:
    """Per app key, counted in events: 429 with Retry-After once the key has sent its share."""
    limit, limiter = current_app.extensions["telemetry_limiter"]
    if not limiter.hit(limit, key.key_id, cost=max(events, 1)):
        reset_at, _remaining = limiter.get_window_stats(limit, key.key_id)
        retry_after = max(1, math.ceil(reset_at - time.time()))
        raise Problem(429, f"This app key sent more than {limit} events; try again later.", headers={"Retry-After": str(retry_after)})


def setup_rate_limits(app: Flask, settings: Settings) -> None:
    app.extensions["telemetry_limiter"] = (
        parse(settings.ingest_rate_limit),
        SlidingWindowCounterRateLimiter(storage_from_string(settings.rate_limit_storage_uri)),
    )


def workspaces_served(key: AppKey) -> set[str]:
    """A tenant's host apps report for its own mini programs and those of its developer workspaces."""
    children = db_session().scalars(select(Workspace.id).where(Workspace.parent_id == key.workspace_id))
    return {key.workspace_id, *children}


def miniprograms_reported(key: AppKey, ids: set[str]) -> dict[str, MiniProgram]:
    if not ids:
        return {}
    served = workspaces_served(key)
    rows = db_session().scalars(select(MiniProgram).where(MiniProgram.id.in_(ids), MiniProgram.workspace_id.in_(served)))
    return {miniprogram.id: miniprogram for miniprogram in rows}


def _time(value: object) -> datetime:
    """An RFC 3339 time with a zone, in UTC; ValueError otherwise (as for a time that UTC cannot hold, like year 1 at +01:00)."""
    if not isinstance(value, str):
        raise ValueError
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError from None


def _optional_text(event: dict, name: str, limit: int, required: bool) -> str | None:
    return None if event.get(name) is None and not required else _text(event, name, limit)


def _text(event: dict, name: str, limit: int) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit or "\x00" in value:
        raise ValueError(f"{name} must be a non-empty string of at most {limit} characters")
    return value


def max_age() -> timedelta:
    return min(MAX_AGE, timedelta(days=current_app.extensions["mpdp"].settings.telemetry_retention_days - 1))


def _row(
    event: object, skew: timedelta, now: datetime, key: AppKey, miniprograms: dict[str, MiniProgram], oldest: datetime
) -> raw_events.RawEvent:
    """The raw_events row of one event, or ValueError with the reason it is refused."""
    if not isinstance(event, dict):
        raise ValueError("an event is a JSON object")
    if holds_lone_surrogate(event):
        raise ValueError("an event's text holds a lone surrogate escape (like \\ud800), which is no Unicode character")
    texts = {name: _text(event, name, limit) for name, limit in schemas.TEXT_LIMITS.items()}
    kind = event.get("type")
    if kind not in schemas.EVENT_TYPES:
        raise ValueError(f"type must be one of {', '.join(sorted(schemas.EVENT_TYPES))}")
    try:
        stamped = _time(event.get("timestamp"))
    except (ValueError, TypeError):
        raise ValueError("timestamp must be an RFC 3339 time with a zone, like 2026-11-24T10:00:00Z") from None
    try:
        occurred_at: datetime | None = stamped + skew
    except OverflowError:  # the device's clock correction moves it past what a time can hold: far out of range too
        occurred_at = None
    if occurred_at is None or occurred_at < oldest or occurred_at > now + MAX_AHEAD:
        raise ValueError(f"timestamp is more than {(now - oldest).days} days old or in the future, after correcting the device clock")
    if texts["miniprogram_id"] not in miniprograms:
        raise ValueError("miniprogram_id names no mini program this app key reports for")
    page = _optional_text(event, "page", 255, required=kind == "page_view")
    name = _optional_text(event, "name", 100, required=kind == "custom")
    duration = event.get("duration_ms")
    if kind == "session_end" and duration is None:
        raise ValueError("a session_end needs duration_ms")
    if duration is not None and (
        not isinstance(duration, int) or isinstance(duration, bool) or not 0 <= duration <= schemas.MAX_DURATION_MS
    ):
        raise ValueError(f"duration_ms must be an integer from 0 to {schemas.MAX_DURATION_MS}")
    properties = event.get("properties")
    if properties is not None:
        if not isinstance(properties, dict):
            raise ValueError("properties must be a JSON object")
        properties = json.dumps(properties, separators=(",", ":"), ensure_ascii=False)
        if len(properties) > schemas.MAX_PROPERTIES_BYTES or "\\u0000" in properties:
            raise ValueError(f"properties must be at most {schemas.MAX_PROPERTIES_BYTES} bytes of JSON without NUL characters")
    return raw_events.RawEvent(
        day=occurred_at.date(),
        miniprogram_id=texts["miniprogram_id"],
        event_id=texts["event_id"],
        occurred_at=occurred_at,
        received_at=now,
        app_id=key.app_id,
        type=kind,
        version=texts["version"],
        user_id=texts["user_id"],
        session_id=texts["session_id"],
        page=page,
        duration_ms=duration,
        name=name if kind == "custom" else None,
        properties=properties,
    )


def parse_batch(raw: bytes) -> tuple[object, list]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Problem(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise validation_failed({"events": ["Send a list of events."]})
    if len(body["events"]) > schemas.MAX_EVENTS:
        raise Problem(413, f"A batch holds at most {schemas.MAX_EVENTS} events; this one has {len(body['events'])}.")
    return body.get("sent_at"), body["events"]


def skew_of(sent_at: object, now: datetime) -> timedelta:
    """How far the device's clock is behind the server's: added to every timestamp of the batch."""
    if sent_at is None:
        return timedelta(0)
    try:
        return now - _time(sent_at)
    except (ValueError, TypeError):
        raise validation_failed({"sent_at": ["Not an RFC 3339 time with a zone."]}) from None


@ingest.route("/v1/events", methods=["POST"])
@public
@accepts("*/*")
@ingest.response(202, schemas.IngestResultSchema)
@ingest.doc(
    security=APP_KEY,
    operationId="ingest_send_events",
    requestBody={"required": True, "content": {"application/json": {"schema": schemas.IngestBatchSchema}}},
    parameters=[ENCODING_PARAMETER],
)
@problems(415, 422, 429)
def post_events() -> dict[str, object]:
    """Send a batch of analytics events

    `X-MPDP-Key` names the host app's key. 202 once the batch is durably queued; an event that does
    not fit is rejected by its index, the others are kept. Up to 1 MiB (by default), and 10 MiB once
    a compressed body is inflated (413 beyond); 429 once the key has sent its share of events."""
    key = ingest_key(request.headers.get(KEY_HEADER))
    if request.mimetype != "application/json":
        raise Problem(415, f"Send the body as application/json, not {request.mimetype or 'no content type'}.")
    sent_at, events = parse_batch(request_body())
    check_rate(key, len(events))
    now = utcnow()
    skew = skew_of(sent_at, now)
    named = {
        event["miniprogram_id"]
        for event in events
        if isinstance(event, dict) and isinstance(event.get("miniprogram_id"), str) and not holds_lone_surrogate(event["miniprogram_id"])
    }
    miniprograms = miniprograms_reported(key, named)
    rows, rejected, seen, oldest = [], [], set(), now - max_age()
    for index, event in enumerate(events):
        try:
            row = _row(event, skew, now, key, miniprograms, oldest)
        except ValueError as error:
            rejected.append({"index": index, "reason": str(error)})
            continue
        if (row.miniprogram_id, row.event_id) not in seen:  # the same event twice in one batch is kept once
            seen.add((row.miniprogram_id, row.event_id))
            rows.append(row)
    session = db_session()
    raw_events.write(session, rows)
    session.commit()
    INGESTED.labels("accepted").inc(len(events) - len(rejected))
    if rejected:
        INGESTED.labels("rejected").inc(len(rejected))
    return {"accepted": len(events) - len(rejected), "rejected": rejected}
