"""The workspace app through the shared unit-test harness, and tenants made the way the platform
makes them (the creator's membership arrives from identity as an event)."""

from __future__ import annotations

import pytest

from mpdp_common.crypto import secret_box
from mpdp_common.testing import Harness
from mpdp_workspace.service import service


class WorkspaceHarness(Harness):
    @property
    def box(self):
        return secret_box(self.settings)

    def tenant(self, owner: str, **roles: str) -> str:
        """A tenant workspace of `owner`, with more members by role: tenant("a", bob="developer")."""
        answer = self.call("POST", "/api/v1/workspaces", owner, json={"name": "Acme", "kind": "tenant"})
        assert answer.status_code == 201, answer.get_data(as_text=True)
        ws = answer.get_json()["id"]
        self.member(ws, owner, "admin")
        for account, role in roles.items():
            if role == "blocked":
                self.member(ws, account, "developer", status="blocked")
            else:
                self.member(ws, account, role)
        return ws


@pytest.fixture
def harness(tmp_path):
    harness = WorkspaceHarness(service, tmp_path)
    yield harness
    harness.close()
