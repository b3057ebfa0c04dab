"""The identity service, as the launcher, the app factory and the event runtime see it."""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask

from mpdp_common.config import Settings
from mpdp_common.service import Service

from . import handlers, mail_queue
from .api_accounts import accounts, wellknown
from .api_members import members
from .api_notifications import notification_choices
from .events import events
from .models import ApiKey, Base, Member, WorkspaceMailSettings
from .tokens import Signer


def _setup(app: Flask, settings: Settings) -> None:
    app.extensions.setdefault("identity_signer", Signer.from_settings(settings))


def _key_source(settings: Settings) -> Callable[[str], Ed25519PublicKey]:
    return Signer.from_settings(settings).key_for


service = Service(
    name="identity",
    package="mpdp_identity",
    blueprints=[accounts, members, notification_choices, wellknown],
    metadata=Base.metadata,
    events=events,
    handlers=handlers,
    membership_model=Member,
    workspace_policy_model=WorkspaceMailSettings,
    api_key_model=ApiKey,
    setup=_setup,
    key_source=_key_source,
    workers={"mailer": mail_queue.run_worker},
)
