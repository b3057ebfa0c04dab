"""What the workspace service publishes: workspaces created, API keys with their creators, and `announce`."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from mpdp_common.db import session_scope
from mpdp_common.events import EventSpec

from .models import ApiKey, Base, Member, Workspace

log = logging.getLogger(__name__)


#: publishes what mpdp_common.contracts.workspace declares
events = EventSpec("workspace", Base.metadata)


def publish_created(session: Session, workspace: Workspace) -> None:
    """Identity makes `created_by` the first admin when it sees this."""
    events.publish(
        session,
        "workspace.workspace.created",
        {
            "workspace_id": workspace.id,
            "name": workspace.name,
            "kind": workspace.kind,
            "parent_id": workspace.parent_id,
            "created_by": workspace.created_by,
        },
        workspace_id=workspace.id,
        aggregate_id=workspace.id,
    )


def publish_api_key(session: Session, event_type: str, key: ApiKey) -> None:
    """The key's whole state (mpdp_common.apikeys.follow_api_keys applies it), with its creator:
    every service then takes what is done with the key as that account's doing."""
    state = {
        "api_key_id": key.id,
        "workspace_id": key.workspace_id,
        "role": key.role,
        "token_hash": key.token_hash,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
        "created_by": key.created_by,
    }
    events.publish(session, event_type, state, workspace_id=key.workspace_id, aggregate_id=key.id)


#: keys re-published in one transaction by `announce`
ANNOUNCE_BATCH = 500


def announce(engine: Engine) -> Iterator[tuple[str, int]]:
    """Publish again every API key's state, revoked ones included, for services deployed after it
    was made or whose read model lacks the keys' creators. Yields how many events each committed
    batch wrote."""
    sessions = sessionmaker(engine)
    after = ""
    while True:
        with session_scope(sessions) as session:
            keys = session.scalars(select(ApiKey).where(ApiKey.id > after).order_by(ApiKey.id).limit(ANNOUNCE_BATCH)).all()
            if not keys:
                return
            for key in keys:
                publish_api_key(session, "workspace.api_key.created", key)
            after = keys[-1].id
        yield "workspace.api_key.created", len(keys)


def expect_admin(session: Session, workspace_id: str, account_id: str) -> None:
    """Let the creator act as admin before identity's member.added comes back; revision 0 yields
    to every real member event."""
    if session.get(Member, (workspace_id, account_id)) is None:
        session.add(Member(workspace_id=workspace_id, account_id=account_id, role="admin", status="active", revision=0))
