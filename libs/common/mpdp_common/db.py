"""SQLAlchemy 2 engines and sessions, one engine per service per process. Nothing here knows
about HTTP: the relay and the consumer import it without the web layer (the request's session
is in `request_db`)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Connection, DateTime, Dialect, Engine, String, Table, TypeDecorator, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def id_column() -> Mapped[str]:
    return mapped_column(String(32), primary_key=True, default=new_id)


def created_at_column() -> Mapped[datetime]:
    return mapped_column(UtcDateTime, default=utcnow, nullable=False)


#: the connections an event process (relay, consumer, worker) keeps: it works one batch at a time
EVENT_PROCESS_CONNECTIONS = 1


def make_engine(url: str, connections: int = 10) -> Engine:
    """An engine whose pool keeps at most `connections` connections open, and opens two more for a
    burst: a process holds only what its work needs (PostgreSQL's default allows 100 in all)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database:
            os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    options = _psycopg_options(url)
    return create_engine(driver_url(url), pool_pre_ping=True, pool_size=connections, max_overflow=2, pool_timeout=5, connect_args=options)


#: options of a database URL that are psycopg's connection settings rather than libpq's
PSYCOPG_OPTIONS = ("prepare_threshold",)


def driver_url(url: str) -> str:
    """The URL without the psycopg options it may carry, as libpq takes it."""
    parsed = make_url(url)
    if not any(name in parsed.query for name in PSYCOPG_OPTIONS):
        return url
    return parsed.difference_update_query(PSYCOPG_OPTIONS).render_as_string(hide_password=False)


def _psycopg_options(url: str) -> dict[str, object]:
    """`?prepare_threshold=none` behind PgBouncer in transaction mode: psycopg then never prepares
    a statement on the server, where the next transaction may find another server connection
    (PgBouncer before 1.21 keeps no prepared statement across them)."""
    query = make_url(url).query
    if "prepare_threshold" not in query:
        return {}
    threshold = str(query["prepare_threshold"]).lower()
    return {"prepare_threshold": None if threshold in ("none", "off", "") else int(threshold)}


def on_postgresql(bind: Session | Connection | Engine) -> bool:
    """Whether `bind` works on PostgreSQL; if not, on the embedded mode's SQLite."""
    return (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name == "postgresql"


def lock_database_on_sqlite(session: Session) -> None:
    """On SQLite, take the database's write lock for the rest of the transaction (BEGIN IMMEDIATE).

    SQLite ignores SELECT ... FOR UPDATE, and its deferred transactions read without waiting for
    a concurrent writer: a rule checked before a change (the last admin stays an admin) would be
    checked by two requests on the same rows and broken by both. Taking the write lock first makes
    them take turns, as the row locks do on PostgreSQL, where this does nothing. Call it before
    the transaction's first statement that reads what the rule reads; a transaction that wrote
    already holds the lock.
    """
    if on_postgresql(session):
        return
    connection = session.connection()
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is not None and not dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def dialect_insert(session: Session, model: type[DeclarativeBase] | Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `model` in the dialect of the session's database (PostgreSQL, or the
    embedded mode's SQLite), which takes `on_conflict_do_nothing` and `on_conflict_do_update`."""
    return (postgresql if on_postgresql(session) else sqlite).insert(model)


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database named by `url` if it does not exist yet."""
    parsed = make_url(driver_url(url))
    if parsed.get_backend_name() != "postgresql":
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def drop_database(url: str) -> None:
    parsed = make_url(driver_url(url))
    if parsed.get_backend_name() != "postgresql":
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextlib.contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work outside a request: commits on success, rolls back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
