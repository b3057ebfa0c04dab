"""Sentry's ingestion endpoints, so that the official Sentry SDKs report crashes unchanged with
the DSN `http://<app key id>@<gateway>/ingest/sentry/<telemetry_id>`."""

from __future__ import annotations

import json
import logging
import re
from typing import NoReturn

from flask import Response, jsonify, request
from sqlalchemy import select

from mpdp_common.auth import public
from mpdp_common.errors import Problem
from mpdp_common.openapi import SENTRY_KEY, problems
from mpdp_common.request_db import db_session
from mpdp_common.web import accepts, current_settings, holds_lone_surrogate

from . import crashes, raw_events, schemas
from .api_ingest import check_rate, ingest, ingest_key, workspaces_served
from .bodies import ENCODING_PARAMETER, request_body
from .models import AppKey, MiniProgram

log = logging.getLogger(__name__)
#: an envelope is taken whatever its media type says: browsers' SDKs send it as text/plain
ENVELOPE_CONTENT = {
    "application/x-sentry-envelope": {"schema": {"type": "string", "format": "binary"}},
    "text/plain": {"schema": {"type": "string"}},
}
_AUTH_KEY = re.compile(r"sentry_key\s*=\s*([^,\s]+)")


def _sentry_key() -> str | None:
    """The DSN's public key, from `X-Sentry-Auth` (or `Authorization: Sentry ...`) or the `sentry_key` query."""
    for header in ("X-Sentry-Auth", "Authorization"):
        match = _AUTH_KEY.search(request.headers.get(header, ""))
        if match:
            return match[1]
    return request.args.get("sentry_key")


def _project(telemetry_id: int, key: AppKey) -> MiniProgram:
    miniprogram = db_session().scalar(select(MiniProgram).where(MiniProgram.telemetry_id == telemetry_id))
    if miniprogram is None:
        raise Problem(404, "No such project: the DSN's project id names no mini program.")
    if miniprogram.workspace_id not in workspaces_served(key):
        raise Problem(403, "This key does not report for that project.")
    return miniprogram


def _take(miniprogram: MiniProgram, key: AppKey, items: list[tuple[str, object]]) -> None:
    """Keep the items: an error event grouped into its issue, pre-counted sessions added up, and
    session updates written as raw events in one go, which the folder counts (release health)."""
    session = db_session()
    updates = []
    for item_type, payload in items:
        if not isinstance(payload, dict):
            raise Problem(400, f"A {item_type} item is not a JSON object.")
        if item_type == "event" and payload.get("type") in (None, "error", "default"):
            crashes.record_event(session, miniprogram, payload, current_settings())
        elif item_type == "session":
            updates.append(crashes.session_update(miniprogram, key.app_id, payload))
        elif item_type == "sessions":
            crashes.record_session_aggregates(session, miniprogram, key.app_id, payload)
    raw_events.write(session, [update for update in updates if update is not None])


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _json(payload: bytes, what: str) -> object:
    """A payload as Sentry's relay reads it: strict JSON (no NaN, no lone surrogate such as `\\ud800`,
    which no database text can hold), else 400."""
    try:
        document = json.loads(payload, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Problem(400, f"The {what} is not valid JSON.") from None
    if holds_lone_surrogate(document):
        raise Problem(400, f"The {what} holds a lone surrogate escape (like \\ud800), which is no Unicode character.")
    return document


@ingest.route("/sentry/api/<int:telemetry_id>/envelope/", methods=["POST"])
@public
@accepts("*/*")
@ingest.response(200, schemas.SentryAcceptedSchema)
@ingest.doc(
    security=SENTRY_KEY,
    operationId="ingest_send_sentry_envelope",
    requestBody={"required": True, "content": ENVELOPE_CONTENT},
    parameters=[ENCODING_PARAMETER],
)
@problems(403, 429)
def sentry_envelope(telemetry_id: int) -> Response:
    """Send a Sentry envelope (crash reports and sessions)

    Sentry's envelope endpoint, for the Sentry SDKs with the DSN the mini program's `dsn` gives:
    `event`, `session` and `sessions` items are kept, others ignored; at most one event or
    transaction, 100 sessions and 100 attachments an envelope (413 beyond). 403 when the key does
    not report for that project; 429 once it has sent its share."""
    key = ingest_key(_sentry_key())
    miniprogram = _project(telemetry_id, key)
    try:
        header, items = crashes.parse_envelope(request_body())
    except crashes.BadEnvelope as error:
        raise Problem(400, f"Not a Sentry envelope: {error}.") from None
    except crashes.EnvelopeOverLimit as error:
        raise Problem(413, f"Too many items: {error}.") from None
    wanted = [(item_header["type"], payload) for item_header, payload in items if item_header["type"] in crashes.HANDLED_ITEMS]
    check_rate(key, len(wanted))
    # All parsed before any is kept: a bad item refuses the envelope as a whole, as Sentry's relay does.
    _take(miniprogram, key, [(item_type, _json(payload, f"{item_type} item")) for item_type, payload in wanted])
    db_session().commit()
    return jsonify(id=header.get("event_id"))


@ingest.route("/sentry/api/<int:telemetry_id>/store/", methods=["POST"])
@public
@accepts("*/*")
@ingest.response(200, schemas.SentryAcceptedSchema)
@ingest.doc(
    security=SENTRY_KEY,
    operationId="ingest_send_sentry_event",
    requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object", "description": "a Sentry event"}}}},
    parameters=[ENCODING_PARAMETER],
)
@problems(403, 429)
def sentry_store(telemetry_id: int) -> Response:
    """Send one Sentry event (Sentry's older store endpoint)

    403 when the key does not report for that project; 429 once it has sent its share."""
    key = ingest_key(_sentry_key())
    miniprogram = _project(telemetry_id, key)
    event = _json(request_body(), "event")
    check_rate(key, 1)
    _take(miniprogram, key, [("event", event)])
    db_session().commit()
    return jsonify(id=event.get("event_id") if isinstance(event, dict) else None)
