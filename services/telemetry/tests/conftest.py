"""The telemetry app through the shared unit-test harness, on SQLite (the embedded mode's storage),
with helpers that fill its read models as the other services' events would."""

from __future__ import annotations

import secrets

import pytest

from mpdp_common.testing import Harness
from mpdp_telemetry import store
from mpdp_telemetry.rollups import fold_pending
from mpdp_telemetry.service import service


class Telemetry(Harness):
    def get(self, path: str, account: str, **kwargs):
        return self.call("GET", path, account, **kwargs)

    def workspace(self, admin: str, **members: str) -> str:
        ws = secrets.token_hex(8)
        self.deliver(
            "workspace.workspace.created", {"workspace_id": ws, "name": "Acme", "kind": "tenant", "parent_id": None, "created_by": admin}
        )
        for account, role in {admin: "admin", **members}.items():
            self.member(ws, account, role)
        return ws

    def miniprogram(self, ws: str, telemetry_id: int) -> str:
        miniprogram_id = secrets.token_hex(8)
        self.deliver(
            "catalog.miniprogram.created",
            {"miniprogram_id": miniprogram_id, "telemetry_id": telemetry_id, "workspace_id": ws, "name": "Shop", "created_by": "ada"},
        )
        return miniprogram_id

    def app_key(self, ws: str, app_id: str = "app1") -> str:
        key_id = f"mak_{secrets.token_hex(6)}"
        self.deliver(
            "workspace.app_key.created", {"id": key_id, "key_id": key_id, "app_id": app_id, "workspace_id": ws, "expires_at": None}
        )
        return key_id

    def fold(self) -> None:
        while fold_pending(self.engine):
            pass


#: where analytics can be kept (MPDP_TELEMETRY_STORE): the service's database, and ClickHouse's
#: engine inside the process (chDB), each test in a database of its own
STORES = ["database", "clickhouse"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `each_store` runs once on each store, with the same data and the same assertions."""
    if metafunc.definition.get_closest_marker("each_store"):
        metafunc.parametrize("harness", STORES, indirect=True)


@pytest.fixture
def make_harness(tmp_path):
    """`make_harness(store)`: a telemetry on that store, each in a folder (and a ClickHouse database) of its own."""
    made: list[Telemetry] = []

    def make(on: str = "database", **overrides) -> Telemetry:
        if on == "clickhouse":
            overrides["telemetry_store"] = f"chdb://memory/telemetry_{secrets.token_hex(6)}"
        made.append(Telemetry(service, tmp_path / f"{on}{len(made)}", **({"ingest_rate_limit": "3000/minute"} | overrides)))
        return made[-1]

    yield make
    for harness in made:
        harness.close()
        if clickhouse := store.open_store(harness.settings):
            clickhouse.drop()


@pytest.fixture
def harness(request, make_harness):
    return make_harness(getattr(request, "param", "database"))
