"""`mpdpctl wait-migrated`: a pod waits until the migration job has brought its database to the
code's migrations, so that no new code runs on an old schema."""

from __future__ import annotations

import threading

import pytest
from alembic.script import ScriptDirectory

from mpdp_common import launcher
from mpdp_common.migrations import alembic_config, pending, upgrade
from mpdp_common.service import installed_services


def test_pending_names_what_the_database_lacks_until_it_is_migrated(tmp_path):
    package = installed_services()["approval"].package
    url = f"sqlite:///{tmp_path}/approval.db"
    heads = sorted(ScriptDirectory.from_config(alembic_config(package, url)).get_heads())
    assert pending(package, url) == heads
    upgrade(package, url)
    assert pending(package, url) == []


def test_a_database_that_cannot_be_reached_lacks_everything():
    package = installed_services()["approval"].package
    assert pending(package, "postgresql+psycopg://postgres@127.0.0.1:9/nowhere") != []


def test_wait_migrated_returns_once_another_process_migrated(tmp_path, monkeypatch):
    monkeypatch.setenv("MPDP_MODE", "real")
    url = f"sqlite:///{tmp_path}/approval.db"
    monkeypatch.setenv("MPDP_APPROVAL_DATABASE_URL", url)
    with pytest.raises(SystemExit, match="still lacks migrations"):
        launcher.wait_migrated("approval", timeout=0)
    migrating = threading.Timer(1.0, upgrade, (installed_services()["approval"].package, url))
    migrating.start()
    launcher.wait_migrated("approval", timeout=60)
    migrating.join()
