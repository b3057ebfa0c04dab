"""The route table: which service owns which public path. The first match wins."""

from __future__ import annotations

import re

ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(pattern), service)
    for pattern, service in [
        (r"^/api/v1/(accounts|auth|me|invitations)(/|$)", "identity"),
        (r"^/api/v1/workspaces/[^/]+/(members|invitations|notifications)(/|$)", "identity"),
        (r"^/\.well-known/", "identity"),
        (r"^/api/v1/workspaces/[^/]+/(analytics|quality|alert-rules)(/|$)", "telemetry"),
        (r"^/api/v1/workspaces/[^/]+/miniprograms/[^/]+/dsn$", "telemetry"),
        (r"^/api/v1/workspaces/[^/]+/miniprograms/[^/]+/launches/[^/]+/health$", "telemetry"),
        (r"^/api/v1/workspaces/[^/]+/(miniprograms|jsapis|features)(/|$)", "catalog"),
        (r"^/api/v1/workspaces/[^/]+/apps/[^/]+/delivery$", "catalog"),
        (r"^/api/v1/workspaces/[^/]+/approvals(/|$)", "approval"),
        (r"^/client/v1/", "catalog"),
        (r"^/api/v1/workspaces/[^/]+/audit-log(/|$)", "workspace"),
        (r"^/api/v1/workspaces(/|$)", "workspace"),
        (r"^/ingest/", "telemetry"),
    ]
]


def service_for(path: str) -> str | None:
    for pattern, service in ROUTES:
        if pattern.match(path):
            return service
    return None


def routed_services() -> list[str]:
    return sorted({service for _, service in ROUTES})
