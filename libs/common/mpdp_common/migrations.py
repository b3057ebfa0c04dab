"""Alembic, driven from code: one migration history per service, in `<package>/migrations`."""

from __future__ import annotations

import os
from importlib import import_module

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, engine_from_config, pool

from .db import ensure_database, make_engine


def alembic_config(package: str, database_url: str) -> Config:
    module = import_module(package)
    config = Config()
    config.set_main_option("script_location", os.path.join(os.path.dirname(module.__file__), "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(package: str, database_url: str) -> None:
    """Create the database if needed and apply every migration."""
    ensure_database(database_url)
    if database_url.startswith("sqlite"):
        make_engine(database_url).dispose()  # creates the folder of the SQLite file
    command.upgrade(alembic_config(package, database_url), "head")


def _render_item(type_, obj, autogen_context):
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
