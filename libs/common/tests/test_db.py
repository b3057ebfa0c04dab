"""The INSERT that skips or updates a row already there, on both databases a service runs on,
and which of the two a session works on."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from mpdp_common.db import dialect_insert, drop_database, ensure_database, make_engine, on_postgresql, session_scope
from mpdp_common.testing import TEST_DATABASE_SERVER, postgres_answers


class Base(DeclarativeBase):
    pass


class Counter(Base):
    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/db.sqlite"
    elif postgres_answers():
        url = f"{TEST_DATABASE_SERVER}/mpdp_db_{secrets.token_hex(4)}"
    else:
        pytest.skip("needs the local PostgreSQL")
    ensure_database(url)
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    yield sessionmaker(engine)
    engine.dispose()
    drop_database(url)


def test_a_conflicting_row_is_skipped_or_updated(sessions):
    with session_scope(sessions) as session:
        for value in (1, 2):
            session.execute(dialect_insert(session, Counter).values(name="skipped", value=value).on_conflict_do_nothing())
        for value in (1, 2):
            stmt = dialect_insert(session, Counter).values(name="summed", value=value)
            session.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"value": Counter.value + stmt.excluded.value}))
    with session_scope(sessions) as session:
        assert dict(session.execute(select(Counter.name, Counter.value)).tuples().all()) == {"skipped": 1, "summed": 3}


def test_a_session_its_connection_and_its_engine_tell_the_same_database(sessions):
    postgresql = sessions.kw["bind"].url.get_backend_name() == "postgresql"
    with session_scope(sessions) as session:
        assert [on_postgresql(session), on_postgresql(session.connection()), on_postgresql(session.get_bind())] == [postgresql] * 3


def test_a_database_url_may_carry_psycopgs_prepare_threshold_for_pgbouncer():
    from mpdp_common.db import _psycopg_options, driver_url

    url = "postgresql+psycopg://postgres@pgbouncer:6432/mpdp_identity?prepare_threshold=none&sslmode=disable"
    assert driver_url(url) == "postgresql+psycopg://postgres@pgbouncer:6432/mpdp_identity?sslmode=disable"
    assert _psycopg_options(url) == {"prepare_threshold": None}
    assert _psycopg_options("postgresql+psycopg://h/db?prepare_threshold=3") == {"prepare_threshold": 3}
    plain = "postgresql+psycopg://postgres@127.0.0.1:5432/mpdp_identity"
    assert driver_url(plain) == plain and _psycopg_options(plain) == {}
