"""What every service's unit tests share: the service's app on a SQLite file with the in-process
broker, tokens signed by a key of the test's own, and events delivered through the consumer's
own path (contract, inbox, one transaction).

    @pytest.fixture
    def harness(tmp_path):
        harness = Harness(service, tmp_path)
        yield harness
        harness.close()

    def test_something(harness):
        harness.member("w1", "ada", "admin")               # as identity.member.added would
        answer = harness.call("GET", "/api/v1/workspaces/w1/apps", "ada")
        assert harness.published("workspace.app.created") == []
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from .config import Settings
from .crypto import generate_secret_key
from .db import session_scope
from .events import Event, EventSpec, UnknownEventType
from .events.brokers import MemoryBroker, Subscription
from .events.consumer import Consumer
from .keys import ensure_signing_key
from .service import Service
from .web import create_app

#: The PostgreSQL server the tests that need a real one use (each creates its own database on it).
TEST_DATABASE_SERVER = os.environ.get("MPDP_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")


def postgres_answers() -> bool:
    """Whether TEST_DATABASE_SERVER takes connections (tests that need it skip otherwise)."""
    from sqlalchemy import create_engine

    engine = create_engine(f"{TEST_DATABASE_SERVER}/postgres")
    try:
        with engine.connect():
            return True
    except Exception:
        return False
    finally:
        engine.dispose()


def unit_settings(service: str, tmp_path: str | os.PathLike, **overrides: Any) -> Settings:
    """A service's settings for a unit test: data and a SQLite file under `tmp_path`, the
    in-process broker, a platform secret and a signing key of the test's own, and the cheapest
    password hashing the settings allow (the tests check what is hashed, not what it costs)."""
    base = Settings.from_env(service)
    given: dict[str, Any] = {
        "mode": "embedded",
        "database_url": f"sqlite:///{tmp_path}/{service}.db",
        "amqp_url": "memory://",
        "data_dir": str(tmp_path),
        "secret_key": generate_secret_key(),
        "jwt_private_key_file": ensure_signing_key(os.path.join(tmp_path, "keys", "signing.pem")),
        "jwks_url": "http://127.0.0.1:9/unused",
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 8 * 1024,
    }
    return dataclasses.replace(base, **(given | overrides))


def deliver(
    spec: EventSpec, engine: Engine, settings: Settings, event_type: str, payload: dict[str, Any], *, version: int = 1, **envelope: Any
) -> Event:
    """Hand one event to `spec`'s handler as a consumer running with `settings` does; raise what the handler raised."""
    event = Event(type=event_type, version=version, payload=payload, producer=event_type.split(".", 1)[0], **envelope)
    if spec.handler_for(event) is None:
        raise UnknownEventType(f"{spec.service} has no handler for {event_type} v{version}")
    broker = MemoryBroker(max_attempts=1, retry_delay_ms=0)
    consumer = Consumer(spec, engine, broker, Subscription(queue=spec.service, bindings={}), settings)
    error = consumer.deliver(event)
    if error is not None:
        raise error
    return event


class Harness:
    """One service's app, its tables created, answering through Flask's test client.

    Tokens from `token()` are signed by a key of the test's own, which the app trusts instead of
    the identity service's JWKS; identity itself verifies with its own signer, so its tests sign
    up and sign in as a user would."""

    def __init__(self, service: Service, tmp_path: str | os.PathLike, **overrides: Any):
        self.signing_key = Ed25519PrivateKey.generate()
        if service.key_source is None:
            public_key = self.signing_key.public_key()
            service = dataclasses.replace(service, key_source=lambda _settings: lambda _token: public_key)
        self.service = service
        self.settings = unit_settings(service.name, tmp_path, **overrides)
        self.app = create_app(service, self.settings)
        self.http = self.app.test_client()
        if service.metadata is not None:
            service.metadata.create_all(self.engine)

    @property
    def engine(self) -> Engine:
        return self.app.extensions["mpdp"].engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.app.extensions["mpdp"].session_factory

    @property
    def events(self) -> EventSpec:
        return self.service.event_spec

    def close(self) -> None:
        if self.service.metadata is not None:
            self.engine.dispose()

    def token(self, account_id: str, **extra: Any) -> str:
        """An access token for `account_id`; `extra` claims beside the usual (`email_verified`, `amr`)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "sub": account_id,
            "iat": now,
            "exp": now + 300,
            "jti": secrets.token_hex(4),
            **extra,
        }
        return jwt.encode(claims, self.signing_key, algorithm="EdDSA")

    def call(self, method: str, path: str, account: str | None = None, *, bearer: str | None = None, **kwargs: Any) -> TestResponse:
        """One request, as `account` (a token of the test's own) or with the `bearer` token given."""
        headers = kwargs.pop("headers", {})
        token = bearer or (self.token(account) if account else None)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.open(path, method=method, headers=headers, **kwargs)

    def deliver(self, event_type: str, payload: dict, workspace_id: str | None = None, **envelope: Any) -> Event:
        """Run this service's handler for an event, as its consumer would."""
        return deliver(self.events, self.engine, self.settings, event_type, payload, workspace_id=workspace_id, **envelope)

    def member(self, ws: str, account_id: str, role: str, status: str = "active", revision: int = 1) -> None:
        """Make `account_id` a member of `ws` in this service's read model, as identity's event does."""
        self.deliver(
            "identity.member.added",
            {"workspace_id": ws, "account_id": account_id, "role": role, "status": status, "revision": revision},
            ws,
        )

    def published(self, event_type: str | None = None) -> list[dict]:
        """The envelopes this service wrote to its outbox, oldest first."""
        outbox = self.events.outbox
        with session_scope(self.sessions) as session:
            rows = session.execute(select(outbox.c.envelope).order_by(outbox.c.seq)).scalars().all()
        envelopes = [json.loads(row) for row in rows]
        return [item for item in envelopes if event_type is None or item["type"] == event_type]
