"""Each service's migration history builds exactly the schema its models describe, and unwinds."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from mpdp_common.migrations import alembic_config, upgrade
from mpdp_common.service import installed_services

SERVICES = [service for service in installed_services().values() if service.has_database]


@pytest.mark.parametrize("service", SERVICES, ids=[service.name for service in SERVICES])
def test_migrations_match_the_models_and_downgrade(service, tmp_path):
    url = f"sqlite:///{tmp_path}/{service.name}.db"
    upgrade(service.package, url)
    engine = create_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), service.metadata)
    # SQLite cannot tell a timezone-aware timestamp from a plain one; any other difference is real.
    assert [diff for diff in differences if not (isinstance(diff, list) and diff[0][0] == "modify_type")] == []
    command.downgrade(alembic_config(service.package, url), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
