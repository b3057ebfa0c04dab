"""The approval app through the shared unit-test harness, with a workspace of one member per role."""

from __future__ import annotations

import secrets

import pytest

from mpdp_approval.service import service
from mpdp_common.testing import Harness

WS = "ws1"


class Approvals(Harness):
    def ask(self, method: str, path: str, account: str, **kwargs):
        return self.call(method, f"/api/v1/workspaces/{WS}{path}", account, **kwargs)

    def launch_submitted(self, by: str, launch_id: str | None = None) -> str:
        """A launch request from the catalog; answers the approval's id."""
        request_id, launch_id = secrets.token_hex(16), launch_id or secrets.token_hex(16)
        self.deliver(
            "catalog.launch.submitted",
            {
                "request_id": request_id,
                "workspace_id": WS,
                "title": "Launch Shop 1.0.0 on Super",
                "subject": {"kind": "launch", "id": launch_id},
                "requested_by": by,
                "launch_id": launch_id,
                "miniprogram_id": "mp1",
                "version_id": "v1",
                "version": "1.0.0",
                "app_id": "app1",
            },
            WS,
        )
        return request_id

    def assignment(self, account: str, *, assigned: bool, revision: int) -> None:
        """The catalog's word that `account` works on mp1, or no longer does."""
        event_type = "catalog.assignment.added" if assigned else "catalog.assignment.removed"
        state = {"miniprogram_id": "mp1", "account_id": account, "workspace_id": WS, "assigned": assigned, "revision": revision}
        self.deliver(event_type, state, WS)


@pytest.fixture
def approvals(tmp_path):
    harness = Approvals(service, tmp_path)
    for account, role in {"ada": "admin", "rex": "reviewer", "dev": "developer", "dot": "developer"}.items():
        harness.member(WS, account, role)
    harness.member(WS, "bob", "developer", status="blocked")
    for developer in ("dev", "dot"):
        harness.assignment(developer, assigned=True, revision=1)
    yield harness
    harness.close()
