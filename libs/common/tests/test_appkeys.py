"""App keys: derived secrets, the request signature with its clock skew, and the read model."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from mpdp_common import testing
from mpdp_common.appkeys import (
    NAMED_KEY_SCHEME,
    AppKeyColumns,
    app_key_secret,
    follow_app_keys,
    sign,
    usable_app_key,
    verify_signature,
    verify_signed_request,
)
from mpdp_common.config import Settings
from mpdp_common.crypto import SecretBox, generate_secret_key
from mpdp_common.db import make_engine
from mpdp_common.errors import Problem
from mpdp_common.events import EventSpec


class Base(DeclarativeBase):
    pass


class KnownKey(AppKeyColumns, Base):
    __tablename__ = "app_keys"


spec = EventSpec("reader", Base.metadata)
follow_app_keys(spec, KnownKey)


NOW = datetime.now(UTC).isoformat()


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/keys.db")
    Base.metadata.create_all(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def deliver(sessions, event_type: str, payload: dict) -> None:
    testing.deliver(spec, sessions.kw["bind"], Settings(), event_type, payload)


def test_the_secret_is_derived_alike_by_every_holder_of_the_platform_secret():
    secret_key = generate_secret_key()
    assert app_key_secret(SecretBox(secret_key), "mak_1") == app_key_secret(SecretBox(secret_key), "mak_1")
    assert app_key_secret(SecretBox(secret_key), "mak_1") != app_key_secret(SecretBox(secret_key), "mak_2")
    assert app_key_secret(SecretBox(secret_key), "mak_1") != app_key_secret(SecretBox(generate_secret_key()), "mak_1")


def test_signatures_are_checked_with_five_minutes_of_skew():
    now = time.time()
    stamp = str(int(now))
    signature = sign("s3cret", stamp, "GET", "/client/v1/miniprograms", "user_id=U")
    check = dict(method="GET", path="/client/v1/miniprograms", query="user_id=U", now=now)
    verify_signature("s3cret", timestamp=stamp, signature=signature, **check)
    verify_signature("s3cret", timestamp=stamp, signature=signature.upper(), **check)
    bad = [
        dict(timestamp=stamp, signature=sign("other", stamp, "GET", "/client/v1/miniprograms", "user_id=U")),
        dict(timestamp=stamp, signature=sign("s3cret", stamp, "GET", "/client/v1/miniprograms", "user_id=V")),
        dict(timestamp=stamp, signature=sign("s3cret", stamp, "POST", "/client/v1/miniprograms", "user_id=U")),
        dict(timestamp=str(int(now) + 1), signature=signature),
        dict(timestamp=None, signature=signature),
        dict(timestamp=stamp, signature=None),
        dict(timestamp="yesterday", signature=signature),
        # what int() takes but no unix seconds are: the same instant in other digits, or padded
        dict(timestamp="".join(chr(0x0660 + int(digit)) for digit in stamp), signature=signature),
        dict(timestamp=f" {stamp}", signature=signature),
        dict(timestamp="9" * 5000, signature=signature),
        # compare_digest raises on text that is not ASCII
        dict(timestamp=stamp, signature="é" + signature[1:]),
    ]
    for case in bad:
        with pytest.raises(Problem) as refused:
            verify_signature("s3cret", **case, **check)
        assert refused.value.status == 401
    for offset in (-301, 301):
        old = str(int(now) + offset)
        with pytest.raises(Problem):
            verify_signature("s3cret", timestamp=old, signature=sign("s3cret", old, "GET", "/client/v1/miniprograms", "user_id=U"), **check)
    within = str(int(now) - 299)
    verify_signature("s3cret", timestamp=within, signature=sign("s3cret", within, "GET", "/client/v1/miniprograms", "user_id=U"), **check)


def test_the_read_model_follows_creation_rotation_and_revocation(sessions):
    deliver(sessions, "workspace.app_key.created", {"id": "i1", "key_id": "k1", "app_id": "a", "workspace_id": "w", "expires_at": None})
    deliver(sessions, "workspace.app_key.created", {"id": "i2", "key_id": "k2", "app_id": "a", "workspace_id": "w", "expires_at": None})
    soon = datetime.now(UTC) + timedelta(minutes=5)
    deliver(
        sessions,
        "workspace.app_key.rotated",
        {"old_key_id": "k1", "new_key_id": "k2", "old_expires_at": soon.isoformat(), "app_id": "a", "workspace_id": "w"},
    )
    with sessions() as session:
        old, new = session.get(KnownKey, "k1"), session.get(KnownKey, "k2")
        assert old.usable() and not old.usable(soon + timedelta(seconds=1)) and new.usable()
    deliver(sessions, "workspace.app_key.revoked", {"key_id": "k2", "app_id": "a", "workspace_id": "w", "revoked_at": NOW})
    # A revocation that arrives before the creation still wins.
    deliver(sessions, "workspace.app_key.revoked", {"key_id": "k3", "app_id": "a", "workspace_id": "w", "revoked_at": NOW})
    deliver(sessions, "workspace.app_key.created", {"id": "i3", "key_id": "k3", "app_id": "a", "workspace_id": "w", "expires_at": None})
    with sessions() as session:
        assert not session.get(KnownKey, "k2").usable() and not session.get(KnownKey, "k3").usable()


def test_a_signed_request_names_its_key(sessions):
    box = SecretBox(generate_secret_key())
    deliver(sessions, "workspace.app_key.created", {"id": "i1", "key_id": "k1", "app_id": "a", "workspace_id": "w", "expires_at": None})
    deliver(sessions, "workspace.app_key.created", {"id": "i4", "key_id": "gone", "app_id": "a", "workspace_id": "w", "expires_at": None})
    deliver(sessions, "workspace.app_key.revoked", {"key_id": "gone", "app_id": "a", "workspace_id": "w", "revoked_at": NOW})
    stamp = str(int(time.time()))

    def headers(key_id: str) -> dict:
        return {
            "X-MPDP-Key": key_id,
            "X-MPDP-Timestamp": stamp,
            "X-MPDP-Signature": sign(app_key_secret(box, key_id), stamp, "GET", "/client/v1/miniprograms", ""),
        }

    with sessions() as session:
        key = verify_signed_request(session, KnownKey, box, headers=headers("k1"), method="GET", path="/client/v1/miniprograms", query="")
        assert key.app_id == "a"
        for bad in (headers("gone"), headers("unknown"), {}):
            with pytest.raises(Problem) as refused:
                verify_signed_request(session, KnownKey, box, headers=bad, method="GET", path="/client/v1/miniprograms", query="")
            assert refused.value.status == 401
            assert refused.value.headers["WWW-Authenticate"] == 'MPDP-HMAC realm="mpdp"'


def test_a_report_names_its_key_unsigned(sessions):
    deliver(sessions, "workspace.app_key.created", {"id": "i1", "key_id": "k1", "app_id": "a", "workspace_id": "w", "expires_at": None})
    deliver(sessions, "workspace.app_key.revoked", {"key_id": "k1", "app_id": "a", "workspace_id": "w", "revoked_at": NOW})
    deliver(sessions, "workspace.app_key.created", {"id": "i2", "key_id": "k2", "app_id": "a", "workspace_id": "w", "expires_at": None})
    with sessions() as session:
        assert usable_app_key(session, KnownKey, " k2 ", scheme=NAMED_KEY_SCHEME).app_id == "a"
        for bad in ("k1", "k2k2", "unknown", "", None, "k2é", "k2" * 5000):
            with pytest.raises(Problem) as refused:
                usable_app_key(session, KnownKey, bad, scheme=NAMED_KEY_SCHEME)
            assert refused.value.status == 401
            assert refused.value.headers["WWW-Authenticate"] == 'MPDP-Key realm="mpdp"'


def test_a_key_is_active_expiring_expired_or_revoked():
    now = datetime.now(UTC)
    assert KnownKey(key_id="k").status(now) == "active"
    rotated = KnownKey(key_id="k", expires_at=now + timedelta(minutes=1))
    assert rotated.status(now) == "expiring" and rotated.usable(now)
    assert rotated.status(now + timedelta(minutes=2)) == "expired" and not rotated.usable(now + timedelta(minutes=2))
    assert KnownKey(key_id="k", expires_at=now + timedelta(minutes=1), revoked_at=now).status(now) == "revoked"
