"""The catalog service, as the launcher, the app factory and the event runtime see it."""

from __future__ import annotations

from flask import Flask

from mpdp_common.blobs import blob_store_for
from mpdp_common.config import Settings
from mpdp_common.service import Service

from . import handlers, rollouts
from .api_delivery import client
from .api_features import features, jsapis
from .api_launches import launches
from .api_miniprograms import miniprograms
from .api_versions import setup_uploads, versions
from .events import announce, events
from .models import ApiKey, Base, Member, WorkspaceSettings


def _setup(app: Flask, settings: Settings) -> None:
    app.extensions.setdefault("catalog_blobs", blob_store_for(settings))
    setup_uploads(app, settings)


service = Service(
    name="catalog",
    package="mpdp_catalog",
    blueprints=[miniprograms, versions, jsapis, features, launches, client],
    metadata=Base.metadata,
    events=events,
    handlers=handlers,
    membership_model=Member,
    workspace_policy_model=WorkspaceSettings,
    api_key_model=ApiKey,
    setup=_setup,
    announce=announce,
    workers={"rollouts": rollouts.run_worker},
)
