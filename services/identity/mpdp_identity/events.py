"""What identity publishes: member events, built from a member's whole state."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from mpdp_common.events import EventSpec

from .models import Base, Member

log = logging.getLogger(__name__)


#: publishes what mpdp_common.contracts.identity declares
events = EventSpec("identity", Base.metadata)


def publish_member(session: Session, event_type: str, member: Member) -> None:
    """Every member event carries the member's whole state, so that read models can apply it in any order."""
    events.publish(session, event_type, member.state(), workspace_id=member.workspace_id, aggregate_id=member.account_id)
