"""Alembic, driven from code: one migration history per service, in `<package>/migrations`."""

from __future__ import annotations

from importlib.resources import files
from typing import Literal

import sqlalchemy as sa
from alembic import command, context, op
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, engine_from_config, pool
from sqlalchemy.exc import DBAPIError

from .db import driver_url, ensure_database, make_engine


def alembic_config(package: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files(package) / "migrations"))
    config.set_main_option("sqlalchemy.url", driver_url(database_url).replace("%", "%%"))
    return config


def upgrade(package: str, database_url: str) -> None:
    """Create the database if needed and apply every migration."""
    ensure_database(database_url)
    if database_url.startswith("sqlite"):
        make_engine(database_url).dispose()  # creates the folder of the SQLite file
    command.upgrade(alembic_config(package, database_url), "head")


def pending(package: str, database_url: str) -> list[str]:
    """The migrations of this code that the database has not had (every one while it cannot be
    reached or does not exist yet). A database ahead of the code (an image rolled back after a
    migration) has none pending."""
    script = ScriptDirectory.from_config(alembic_config(package, database_url))
    heads = set(script.get_heads())
    engine = make_engine(database_url, connections=1)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    except DBAPIError:
        return sorted(heads)
    finally:
        engine.dispose()
    applied = {revision.revision for revision in script.iterate_revisions(current, "base") if revision is not None}
    return sorted(heads - applied)


def _render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes UtcDateTime as the plain column type it stores."""
    if type_ == "type" and obj.__class__.__name__ == "UtcDateTime":
        return "sa.DateTime(timezone=True)"
    return False


def run_env(metadata: MetaData) -> None:
    """The whole body of a service's `migrations/env.py`."""
    config = context.config
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            render_item=_render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


# -- the tables every service has, for its migrations -----------------------------------------------
# Frozen as they were first released: a later change to one of them is a new helper and a new
# migration in each service, never an edit here.


def create_event_tables() -> None:
    """The transactional outbox and the consumer inbox (see mpdp_common.events.tables)."""
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=120), nullable=False),
        sa.Column("envelope", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "seq"], unique=False)
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=120), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )


def drop_event_tables() -> None:
    op.drop_table("inbox")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")


def index_unsent_outbox_rows() -> None:
    """Replace the outbox's (published_at, seq) index with one over the unsent rows alone: the
    relay's `WHERE published_at IS NULL ORDER BY seq` read the sent rows kept for inspection on
    every batch, a cost that grew with the outbox."""
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    unsent = sa.text("published_at IS NULL")
    op.create_index("ix_outbox_unsent", "outbox", ["seq"], postgresql_where=unsent, sqlite_where=unsent)


def index_outbox_by_publication() -> None:
    """The downgrade of `index_unsent_outbox_rows`."""
    op.drop_index("ix_outbox_unsent", table_name="outbox")
    op.create_index("ix_outbox_unpublished", "outbox", ["published_at", "seq"], unique=False)


def create_members_read_model() -> None:
    """`members`, the membership read model (mpdp_common.membership.MembershipColumns)."""
    op.create_table(
        "members",
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "account_id"),
    )


def drop_members_read_model() -> None:
    op.drop_table("members")


def create_api_keys_read_model() -> None:
    """`api_keys`, the workspace API key read model (mpdp_common.apikeys.ApiKeyColumns)."""
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_keys_workspace_id", "api_keys", ["workspace_id"], unique=False)


def drop_api_keys_read_model() -> None:
    op.drop_index("ix_api_keys_workspace_id", table_name="api_keys")
    op.drop_table("api_keys")


def add_api_key_creators() -> None:
    """`api_keys.created_by`: the account a key acts for. Keys already known here stay without
    one, and are refused, until `mpdpctl announce workspace` publishes them again."""
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("created_by", sa.String(length=64), nullable=True))


def drop_api_key_creators() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("created_by")


def create_idempotency_table() -> None:
    """`idempotency_keys` (mpdp_common.idempotency)."""
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope"),
    )


def drop_idempotency_table() -> None:
    op.drop_table("idempotency_keys")
