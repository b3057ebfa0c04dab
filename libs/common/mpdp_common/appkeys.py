"""Host-app keys: how a host app proves which app it is when it fetches mini programs or reports.

The workspace service issues them. A key's signing secret is never stored anywhere: it is
derived from the platform secret (`SecretBox.derive("app-key", key_id)`), so that every service
holding MPDP_SECRET_KEY can recompute it and check a signature. Other services keep a read model of
the keys (which exist, which are revoked or expire when) from `workspace.app_key.*` events.

A signed request carries `X-MPDP-Key: <key_id>`, `X-MPDP-Timestamp: <unix seconds>` and
`X-MPDP-Signature: hex(HMAC-SHA256(secret, "{timestamp}\\n{method}\\n{path}\\n{query}"))`.
What a host app reports (analytics events, crash reports) only names its key, unsigned: those
keys are public, like a Sentry DSN, and can only write.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import String
from sqlalchemy.orm import Mapped, Session, mapped_column

from .crypto import SecretBox
from .db import UtcDateTime, utcnow
from .errors import Problem
from .events import Event, EventSpec

APP_KEY_EVENTS = ("workspace.app_key.created", "workspace.app_key.revoked", "workspace.app_key.rotated")
#: How far a signed request's timestamp may be from the server's clock, either way.
MAX_SKEW_SECONDS = 300
KEY_HEADER = "X-MPDP-Key"
TIMESTAMP_HEADER = "X-MPDP-Timestamp"
SIGNATURE_HEADER = "X-MPDP-Signature"
#: the `WWW-Authenticate` scheme of a 401: a request that must be signed, one that names its key only
SIGNED_SCHEME = "MPDP-HMAC"
NAMED_KEY_SCHEME = "MPDP-Key"
#: the longest key id there is: a longer one is unknown without a look-up
KEY_ID_MAX_LENGTH = 64
#: unix seconds as ASCII digits (int() would also take "1_700", " 17 " and other scripts' digits)
UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def app_key_secret(box: SecretBox, key_id: str) -> str:
    """The signing secret of `key_id`: shown to the admin once, recomputed by every verifier."""
    return box.derive("app-key", key_id)


def string_to_sign(timestamp: str, method: str, path: str, query: str) -> str:
    return f"{timestamp}\n{method.upper()}\n{path}\n{query}"


def sign(secret: str, timestamp: str, method: str, path: str, query: str = "") -> str:
    return hmac.new(secret.encode(), string_to_sign(timestamp, method, path, query).encode(), hashlib.sha256).hexdigest()


class AppKeyColumns:
    """Columns shared by the workspace service's app keys and every other service's read model."""

    key_id: Mapped[str] = mapped_column(String(KEY_ID_MAX_LENGTH), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    #: set when the key was rotated: it stays valid until then
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    def usable(self, now: datetime | None = None) -> bool:
        return self.status(now) in ("active", "expiring")

    def status(self, now: datetime | None = None) -> str:
        """active; expiring (rotated, until expires_at) then expired; or revoked."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None:
            return "expiring" if self.expires_at > (now or utcnow()) else "expired"
        return "active"


class HeaderLookup(Protocol):
    """A request's headers, by name: Flask's `request.headers`, or a dict."""

    def get(self, name: str, /) -> str | None: ...


#: a service's mapped class of app keys (its AppKeyColumns table)
AppKey = TypeVar("AppKey", bound=AppKeyColumns)


def follow_app_keys(events: EventSpec, model: type) -> None:
    """Register the handlers that keep `model` (an AppKeyColumns table) up to date."""

    def key_for(session: Session, key_id: str, app_id: str, workspace_id: str) -> AppKeyColumns:
        key = session.get(model, key_id, with_for_update=True)
        if key is None:
            key = model(key_id=key_id, app_id=app_id, workspace_id=workspace_id)
            session.add(key)
        return key

    @events.handles("workspace.app_key.created")
    def on_created(session: Session, event: Event) -> None:
        state = event.payload
        key = key_for(session, state["key_id"], state["app_id"], state["workspace_id"])
        if key.expires_at is None:
            key.expires_at = state["expires_at"]

    @events.handles("workspace.app_key.revoked")
    def on_revoked(session: Session, event: Event) -> None:
        state = event.payload
        key = key_for(session, state["key_id"], state["app_id"], state["workspace_id"])
        key.revoked_at = key.revoked_at or state["revoked_at"]

    @events.handles("workspace.app_key.rotated")
    def on_rotated(session: Session, event: Event) -> None:
        state = event.payload
        key = key_for(session, state["old_key_id"], state["app_id"], state["workspace_id"])
        key.expires_at = state["old_expires_at"]
        key_for(session, state["new_key_id"], state["app_id"], state["workspace_id"])


def _unauthorized(detail: str, scheme: str = SIGNED_SCHEME) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": f'{scheme} realm="mpdp"'})


def usable_app_key(session: Session, model: type[AppKey], key_id: str | None, *, scheme: str) -> AppKey:
    """The active or expiring app key (a row of `model`) named `key_id`, or a 401 problem that
    challenges with `scheme`."""
    key_id = (key_id or "").strip()
    if not key_id:
        raise _unauthorized(f"Send the app key id in {KEY_HEADER}.", scheme)
    key = session.get(model, key_id) if len(key_id) <= KEY_ID_MAX_LENGTH else None
    if key is None or not key.usable():
        raise _unauthorized("The app key is unknown, revoked or expired.", scheme)
    return key


def verify_signature(
    secret: str,
    *,
    timestamp: str | None,
    method: str,
    path: str,
    query: str,
    signature: str | None,
    now: float | None = None,
    max_skew: int = MAX_SKEW_SECONDS,
) -> None:
    """Check one signed request; a missing, stale or wrong signature is a 401 problem."""
    if not timestamp or not signature:
        raise _unauthorized(f"Sign the request: send {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}.")
    if not UNIX_SECONDS.fullmatch(timestamp):
        raise _unauthorized(f"{TIMESTAMP_HEADER} must be unix seconds.")
    if abs((time.time() if now is None else now) - int(timestamp)) > max_skew:
        raise _unauthorized(f"{TIMESTAMP_HEADER} is more than {max_skew // 60} minutes off the server's clock.")
    expected = sign(secret, timestamp, method, path, query)
    given = signature.strip().lower()
    # compare_digest takes only ASCII text; anything else is no hex signature anyway.
    if not (given.isascii() and hmac.compare_digest(expected, given)):
        raise _unauthorized("The request signature does not match.")


def verify_signed_request(
    session: Session,
    model: type[AppKey],
    box: SecretBox,
    *,
    headers: HeaderLookup,
    method: str,
    path: str,
    query: str,
    now: float | None = None,
) -> AppKey:
    """The app key (a row of `model`) that signed this request, or a 401 problem.

    `headers` holds the request's headers (a Flask `request.headers`, or a dict)."""
    key = usable_app_key(session, model, headers.get(KEY_HEADER), scheme=SIGNED_SCHEME)
    verify_signature(
        app_key_secret(box, key.key_id),
        timestamp=headers.get(TIMESTAMP_HEADER),
        method=method,
        path=path,
        query=query,
        signature=headers.get(SIGNATURE_HEADER),
        now=now,
    )
    return key
