"""The approval app on a SQLite file: tokens signed by the test's own key, members and request
events delivered through the consumer's own path."""

from __future__ import annotations

import dataclasses
import json
import secrets
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from mpdp_approval.events import events
from mpdp_approval.models import Base
from mpdp_approval.service import service
from mpdp_common.config import Settings
from mpdp_common.crypto import generate_secret_key
from mpdp_common.testing import deliver


@dataclasses.dataclass
class Approvals:
    app: object
    signing_key: Ed25519PrivateKey
    ws: str = "ws1"

    def call(self, method: str, path: str, account: str, **kwargs):
        now = int(time.time())
        claims = {"iss": "mpdp-identity", "aud": "mpdp", "sub": account, "iat": now, "exp": now + 300, "jti": secrets.token_hex(4)}
        token = jwt.encode(claims, self.signing_key, algorithm="EdDSA")
        return self.app.test_client().open(
            f"/api/v1/workspaces/{self.ws}{path}", method=method, headers={"Authorization": f"Bearer {token}"}, **kwargs
        )

    def deliver(self, event_type: str, payload: dict, **envelope) -> None:
        deliver(events, self.app.extensions["mpdp"].engine, event_type, payload, **envelope)

    def members(self, **roles: str) -> None:
        for account, role in roles.items():
            status = "blocked" if role == "blocked" else "active"
            state = {"workspace_id": self.ws, "account_id": account, "role": "developer" if role == "blocked" else role}
            self.deliver("identity.member.added", state | {"status": status, "revision": 1}, workspace_id=self.ws)

    def published(self, event_type: str) -> list[dict]:
        with self.app.extensions["mpdp"].engine.connect() as connection:
            rows = connection.execute(select(events.outbox.c.envelope).order_by(events.outbox.c.seq)).scalars().all()
        return [envelope for envelope in map(json.loads, rows) if envelope["type"] == event_type]

    def launch_submitted(self, by: str, launch_id: str | None = None) -> str:
        """A launch request from the catalog; answers the approval's id."""
        request_id, launch_id = secrets.token_hex(16), launch_id or secrets.token_hex(16)
        self.deliver(
            "catalog.launch.submitted",
            {
                "request_id": request_id,
                "workspace_id": self.ws,
                "title": "Launch Shop 1.0.0 on Super",
                "subject": {"kind": "launch", "id": launch_id},
                "requested_by": by,
                "launch_id": launch_id,
                "miniprogram_id": "mp1",
                "version_id": "v1",
                "version": "1.0.0",
                "app_id": "app1",
            },
            workspace_id=self.ws,
        )
        return request_id


@pytest.fixture
def approvals(tmp_path):
    signing_key = Ed25519PrivateKey.generate()
    settings = Settings(
        service="approval",
        mode="embedded",
        database_url=f"sqlite:///{tmp_path}/approval.db",
        amqp_url="memory://",
        secret_key=generate_secret_key(),
        jwks_url="http://127.0.0.1:9/unused",
    )
    app = dataclasses.replace(service, key_source=lambda _settings: lambda _token: signing_key.public_key()).create_app(settings)
    Base.metadata.create_all(app.extensions["mpdp"].engine)
    harness = Approvals(app, signing_key)
    harness.members(ada="admin", rex="reviewer", dev="developer", dot="developer", bob="blocked")
    yield harness
    app.extensions["mpdp"].engine.dispose()
