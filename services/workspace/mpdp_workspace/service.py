"""The workspace service, as the launcher, the app factory and the event runtime see it."""

from __future__ import annotations

from mpdp_common.service import Service

from . import handlers, webhooks
from .api_apikeys import api_keys
from .api_apps import apps
from .api_audit import audit_log
from .api_settings import settings
from .api_webhooks import webhooks_api
from .api_workspaces import workspaces
from .events import announce, events
from .models import ApiKey, Base, Member, WorkspaceSettings

service = Service(
    name="workspace",
    package="mpdp_workspace",
    blueprints=[workspaces, settings, apps, api_keys, audit_log, webhooks_api],
    metadata=Base.metadata,
    events=events,
    handlers=handlers,
    membership_model=Member,
    workspace_policy_model=WorkspaceSettings,
    # The service owns the API keys: its own table authenticates them, with no event round trip.
    api_key_model=ApiKey,
    announce=announce,
    workers={"webhooks": webhooks.run_worker},
)
