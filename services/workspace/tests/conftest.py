"""The workspace app on a SQLite file, with tokens signed by a key of the test's own, and members
put into the read model through the same handlers that the identity events run."""

from __future__ import annotations

import dataclasses
import json
import secrets
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from mpdp_common.config import Settings
from mpdp_common.crypto import SecretBox, generate_secret_key
from mpdp_common.db import session_scope
from mpdp_common.testing import deliver
from mpdp_workspace.events import events
from mpdp_workspace.models import Base
from mpdp_workspace.service import service


class Harness:
    def __init__(self, app, signing_key):
        self.app = app
        self.http = app.test_client()
        self.signing_key = signing_key
        self.sessions = app.extensions["mpdp"].session_factory
        self.box = SecretBox(app.extensions["mpdp"].settings.secret_key)

    def token(self, account_id: str) -> str:
        now = int(time.time())
        claims = {
            "iss": "mpdp-identity",
            "aud": "mpdp",
            "sub": account_id,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_hex(4),
        }
        return jwt.encode(claims, self.signing_key, algorithm="EdDSA")

    def call(self, method: str, path: str, account: str | None = None, *, bearer: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if bearer or account:
            headers["Authorization"] = f"Bearer {bearer or self.token(account)}"
        return self.http.open(path, method=method, headers=headers, **kwargs)

    def deliver(self, event_type: str, payload: dict, workspace_id: str | None = None, **envelope) -> None:
        """Run this service's handler for an event, as the consumer would."""
        deliver(events, self.app.extensions["mpdp"].engine, event_type, payload, workspace_id=workspace_id, **envelope)

    def member(self, ws: str, account_id: str, role: str, status: str = "active", revision: int = 1) -> None:
        self.deliver(
            "identity.member.added",
            {"workspace_id": ws, "account_id": account_id, "role": role, "status": status, "revision": revision},
            ws,
        )

    def published(self, event_type: str | None = None) -> list[dict]:
        outbox = events.outbox
        with session_scope(self.sessions) as session:
            rows = session.execute(select(outbox.c.envelope).order_by(outbox.c.seq)).scalars().all()
        envelopes = [json.loads(row) for row in rows]
        return [item for item in envelopes if event_type is None or item["type"] == event_type]

    def tenant(self, owner: str, **roles: str) -> str:
        """A tenant workspace of `owner`, with more members by role: tenant("a", bob="developer")."""
        answer = self.call("POST", "/api/v1/workspaces", owner, json={"name": "Acme", "kind": "tenant"})
        assert answer.status_code == 201, answer.get_data(as_text=True)
        ws = answer.get_json()["id"]
        self.member(ws, owner, "admin")
        for account, role in roles.items():
            if role == "blocked":
                self.member(ws, account, "developer", status="blocked")
            else:
                self.member(ws, account, role)
        return ws


@pytest.fixture
def harness(tmp_path):
    signing_key = Ed25519PrivateKey.generate()
    settings = Settings(
        service="workspace",
        mode="embedded",
        database_url=f"sqlite:///{tmp_path}/workspace.db",
        amqp_url="memory://",
        secret_key=generate_secret_key(),
        jwks_url="http://127.0.0.1:9/unused",
    )
    testing = dataclasses.replace(service, key_source=lambda _settings: lambda _token: signing_key.public_key())
    app = testing.create_app(settings)
    Base.metadata.create_all(app.extensions["mpdp"].engine)
    yield Harness(app, signing_key)
    app.extensions["mpdp"].engine.dispose()
