"""The route table sends each public path to the service that owns it."""

from __future__ import annotations

import pytest

from mpdp_gateway.routes import service_for


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/ingest/v1/events", "telemetry"),
        ("/ingest/sentry/api/17/envelope/", "telemetry"),
        ("/api/v1/workspaces/w1/analytics/overview", "telemetry"),
        ("/api/v1/workspaces/w1/quality/issues/i1", "telemetry"),
        ("/api/v1/workspaces/w1/alert-rules", "telemetry"),
        ("/api/v1/workspaces/w1/alert-rules/r1", "telemetry"),
        ("/api/v1/workspaces/w1/miniprograms/m1/dsn", "telemetry"),
        ("/api/v1/workspaces/w1/miniprograms/m1", "catalog"),
        ("/api/v1/workspaces/w1/miniprograms/m1/dsn/extra", "catalog"),
        ("/api/v1/workspaces/w1/miniprograms/m1/launches/l1/health", "telemetry"),
        ("/api/v1/workspaces/w1/miniprograms/m1/launches/l1/rollout", "catalog"),
        ("/api/v1/workspaces/w1/miniprograms/m1/launches/l1/health/x", "catalog"),
        ("/api/v1/workspaces/w1/analyticsx", "workspace"),
        ("/api/v1/workspaces/w1/members", "identity"),
        ("/api/v1/workspaces/w1/audit-log", "workspace"),
        ("/api/v1/workspaces/w1/audit-log/export", "workspace"),
    ],
)
def test_paths_go_to_their_service(path, service):
    assert service_for(path) == service
