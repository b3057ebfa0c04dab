"""The approval service, as the launcher, the app factory and the event runtime see it."""

from __future__ import annotations

from mpdp_common.service import Service

from . import handlers
from .api import approvals
from .events import events
from .models import ApiKey, Base, Member, WorkspacePolicy

service = Service(
    name="approval",
    package="mpdp_approval",
    blueprints=[approvals],
    metadata=Base.metadata,
    events=events,
    handlers=handlers,
    membership_model=Member,
    workspace_policy_model=WorkspacePolicy,
    api_key_model=ApiKey,
)
