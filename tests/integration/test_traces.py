"""One launch approval's trace across the services: the gateway, the approval service that takes
the decision, its relay, the catalog consumer that applies it, and the services that hear of the
launch's new status; every span a child of the one before, as the test prints."""

from __future__ import annotations

import secrets

from .conftest import TraceCollector, eventually
from .test_catalog import Team, team  # noqa: F401 - team is a fixture
from .test_launches import HOPS, approval_for, create_launch, launch_path, new_app, new_version

KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def test_a_launch_approval_is_one_trace_across_the_services(team: Team, traces: TraceCollector):
    app = new_app(team)
    launch = create_launch(team.developer, team, new_version(team, "3.0.0"), app)
    assert team.developer.post(launch_path(team, launch["id"], "submit")).status_code == 200
    approval = approval_for(team.reviewer, team.ws, launch["id"])

    trace_id = secrets.token_hex(16)
    caller = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    decided = team.reviewer.post(f"{team.base}/approvals/{approval['id']}/approve", json={"comment": "ok"}, headers={"traceparent": caller})
    assert decided.status_code == 200, decided.text

    def whole() -> list[dict]:
        spans = traces.spans(trace_id)
        names = {(span["service"], span["name"]) for span in spans}
        wanted = {
            ("mpdp-gateway", "POST approval"),
            ("mpdp-approval", "relay approval.approval.decided"),
            ("mpdp-catalog", "consume approval.approval.decided"),
            ("mpdp-catalog", "relay catalog.launch.status_changed"),
            ("mpdp-workspace", "consume catalog.launch.status_changed"),
            ("mpdp-telemetry", "consume catalog.launch.status_changed"),
        }
        return spans if wanted <= names else []

    spans = eventually(whole, timeout=HOPS)
    by_id = {span["span_id"]: span for span in spans}
    children: dict[str, list[dict]] = {}
    for span in spans:
        children.setdefault(span["parent_id"], []).append(span)

    def show(span: dict, depth: int) -> None:
        print(f"{'  ' * depth}{span['service']}: {span['name']} ({KINDS.get(span['kind'], span['kind'])})")
        for child in children.get(span["span_id"], []):
            show(child, depth + 1)

    print(f"\ntrace {trace_id}: {len(spans)} spans")
    for span in spans:
        if span["parent_id"] not in by_id:
            show(span, 0)

    # Every span but the gateway's has its parent in the trace; the gateway's is the caller's.
    roots = [span for span in spans if span["parent_id"] not in by_id]
    assert [(span["service"], span["parent_id"]) for span in roots] == [("mpdp-gateway", caller.split("-")[2])]
    server = next(span for span in spans if span["service"] == "mpdp-approval" and span["kind"] == 2)
    assert by_id[server["parent_id"]]["service"] == "mpdp-gateway"
    # A consumer's span is its relay's child, and the catalog's status change is its consumer's doing
    # (a batch retried one by one may show a consumer span twice: each has the relay as parent).
    for span in spans:
        parent = by_id.get(span["parent_id"])
        if span["name"] == "consume approval.approval.decided":
            assert parent["name"] == "relay approval.approval.decided", span
        if span["name"] == "relay catalog.launch.status_changed":
            assert (parent["service"], parent["name"]) == ("mpdp-catalog", "consume approval.approval.decided"), span
        if span["name"] == "consume catalog.launch.status_changed":
            assert parent["name"] == "relay catalog.launch.status_changed", span
