"""The telemetry app on a SQLite file (the embedded mode's storage), with tokens signed by a key
of the test's own, and read models filled through the same handlers the consumer runs."""

from __future__ import annotations

import dataclasses
import secrets
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpdp_common.config import Settings
from mpdp_common.migrations import upgrade
from mpdp_common.testing import deliver
from mpdp_telemetry.events import events
from mpdp_telemetry.rollups import fold_pending
from mpdp_telemetry.service import service


class Harness:
    def __init__(self, app, signing_key):
        self.app = app
        self.http = app.test_client()
        self.signing_key = signing_key
        self.engine = app.extensions["mpdp"].engine
        self.sessions = app.extensions["mpdp"].session_factory

    def token(self, account_id: str) -> str:
        now = int(time.time())
        claims = {"iss": "mpdp-identity", "aud": "mpdp", "sub": account_id, "iat": now, "exp": now + 300, "jti": secrets.token_hex(4)}
        return jwt.encode(claims, self.signing_key, algorithm="EdDSA")

    def get(self, path: str, account: str, **kwargs):
        return self.http.get(path, headers={"Authorization": f"Bearer {self.token(account)}"}, **kwargs)

    def deliver(self, event_type: str, payload: dict) -> None:
        deliver(events, self.engine, event_type, payload)

    def workspace(self, admin: str, **members: str) -> str:
        ws = secrets.token_hex(8)
        self.deliver(
            "workspace.workspace.created", {"workspace_id": ws, "name": "Acme", "kind": "tenant", "parent_id": None, "created_by": admin}
        )
        for account, role in {admin: "admin", **members}.items():
            self.deliver(
                "identity.member.added", {"workspace_id": ws, "account_id": account, "role": role, "status": "active", "revision": 1}
            )
        return ws

    def miniprogram(self, ws: str, telemetry_id: int) -> str:
        miniprogram_id = secrets.token_hex(8)
        self.deliver(
            "catalog.miniprogram.created",
            {"miniprogram_id": miniprogram_id, "telemetry_id": telemetry_id, "workspace_id": ws, "name": "Shop", "created_by": "ada"},
        )
        return miniprogram_id

    def app_key(self, ws: str, app_id: str = "app1") -> str:
        key_id = f"mak_{secrets.token_hex(6)}"
        self.deliver(
            "workspace.app_key.created", {"id": key_id, "key_id": key_id, "app_id": app_id, "workspace_id": ws, "expires_at": None}
        )
        return key_id

    def fold(self) -> None:
        while fold_pending(self.engine):
            pass


@pytest.fixture
def harness(tmp_path):
    signing_key = Ed25519PrivateKey.generate()
    settings = Settings(
        service="telemetry",
        mode="embedded",
        database_url=f"sqlite:///{tmp_path}/telemetry.db",
        amqp_url="memory://",
        jwks_url="http://127.0.0.1:9/unused",
        ingest_rate_limit="3000/minute",
    )
    upgrade("mpdp_telemetry", settings.database_url)
    testing = dataclasses.replace(service, key_source=lambda _settings: lambda _token: signing_key.public_key())
    app = testing.create_app(settings)
    yield Harness(app, signing_key)
    app.extensions["mpdp"].engine.dispose()
