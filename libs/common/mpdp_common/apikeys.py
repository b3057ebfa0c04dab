"""Workspace API keys: Bearer tokens for automation, each with one role in one workspace.

The workspace service issues them; every other service keeps a read model of their hashes from
`workspace.api_key.*` events, so that it can authenticate them without a call per request.

A key acts for the admin who created it, with the key's own role: what is done with a key is that
account's doing. A launch submitted with a key is its creator's request, and a decision taken
with a key its creator's decision, so nobody approves their own request through a key they made.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, Session, mapped_column

from .crypto import digest
from .db import UtcDateTime
from .events import Event, EventSpec

API_KEY_PREFIX = "mpdp_ak_"
API_KEY_EVENTS = ("workspace.api_key.created", "workspace.api_key.revoked")


def is_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX)


def new_api_key() -> tuple[str, str]:
    """A new token and the SHA-256 digest under which it is kept (256 random bits need no slow hash)."""
    token = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return token, digest(token)


class ApiKeyColumns:
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the account the key acts for; None only for a key announced before keys named their creator
    created_by: Mapped[str | None] = mapped_column(String(64))


def follow_api_keys(events: EventSpec, model: type) -> None:
    """Register the handlers that keep `model` (an ApiKeyColumns table) up to date."""

    def apply(session: Session, event: Event) -> None:
        state = event.payload
        key = session.get(model, state["api_key_id"], with_for_update=True)
        if key is None:
            key = model(id=state["api_key_id"], workspace_id=state["workspace_id"], role=state["role"], token_hash=state["token_hash"])
            session.add(key)
        if state["revoked_at"] is not None:
            key.revoked_at = state["revoked_at"]
        if state["created_by"] is not None:
            key.created_by = state["created_by"]

    for event_type in API_KEY_EVENTS:
        events.handles(event_type)(apply)
