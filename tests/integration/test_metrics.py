"""What operators watch, read from the processes as Prometheus does: the event processes' own
metrics (the relay's backlog, each consumer's handled events, lag and batch time), ingest's
accepted and rejected events, and the dashboard's and alert rules' expressions naming only
metrics the platform exports."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from .conftest import Platform, eventually
from .test_telemetry import Shop, event, send, shop  # noqa: F401 - shop is a fixture

ROOT = Path(__file__).resolve().parents[2]


def scrape(url: str) -> dict[str, list]:
    """The samples at `url`, by metric family name."""
    answer = requests.get(url, timeout=5)
    assert answer.status_code == 200, answer.text
    return {family.name: family.samples for family in text_string_to_metric_families(answer.text)}


def value(samples: list, **labels: str) -> float:
    return sum(sample.value for sample in samples if all(sample.labels.get(key) == wanted for key, wanted in labels.items()))


def test_the_event_processes_answer_their_metrics(platform: Platform, make_user, make_workspace):
    admin = make_user("admin")
    make_workspace(admin)  # workspace.workspace.created, relayed by the workspace and handled by identity
    jobs = {name: f"http://127.0.0.1:{port}/metrics" for name, port in platform.jobs_ports.items()}

    def relayed() -> dict:
        found = scrape(jobs["workspace"])
        return found if value(found.get("mpdp_events_relayed", []), service="workspace") >= 1 else {}

    workspace = eventually(relayed, timeout=30)
    assert value(workspace["mpdp_outbox_unsent_events"], service="workspace") >= 0
    assert "mpdp_outbox_oldest_unsent_seconds" in workspace
    identity = eventually(
        lambda: (
            (found := scrape(jobs["identity"]))
            and value(found.get("mpdp_events_handled", []), service="identity", type="workspace.workspace.created") >= 1
            and found
        ),
        timeout=30,
    )
    assert value(identity["mpdp_event_lag_seconds"], service="identity") > 0  # its _count and _sum
    assert value(identity["mpdp_event_batch_seconds"], service="identity") > 0


def test_ingest_counts_what_it_accepts_and_rejects(platform: Platform, shop: Shop):
    telemetry = f"{platform.url('telemetry')}/metrics"
    before = scrape(telemetry).get("mpdp_ingest_events", [])
    now = datetime.now(UTC)
    good = [event(shop, "page_view", f"user{number}", now, page="pages/home") for number in range(3)]
    bad = {**event(shop, "page_view", "user9", now), "type": "no such type"}
    answer = send(platform, shop.key_id, [*good, bad])
    assert answer.status_code == 202 and answer.json()["accepted"] == 3, answer.text
    after = scrape(telemetry).get("mpdp_ingest_events", [])
    assert value(after, outcome="accepted") - value(before, outcome="accepted") == 3
    assert value(after, outcome="rejected") - value(before, outcome="rejected") == 1


def test_the_dashboard_and_the_alert_rules_name_only_exported_metrics():
    from prometheus_client.metrics import MetricWrapperBase  # noqa: PLC0415

    from mpdp_common import metrics  # noqa: PLC0415

    exported = set()
    for family in vars(metrics).values():
        if isinstance(family, MetricWrapperBase):
            for metric in family.describe():
                exported |= {metric.name, f"{metric.name}_total", f"{metric.name}_bucket", f"{metric.name}_count", f"{metric.name}_sum"}
    dashboard = json.loads((ROOT / "deploy" / "observability" / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    rules = (ROOT / "deploy" / "observability" / "alert-rules.yml").read_text()
    expressions += re.findall(r"expr:\s*(.+)", rules)
    assert expressions
    named = {name for expr in expressions for name in re.findall(r"\bmpdp_[a-z_]+", expr)}
    assert named and named <= exported, named - exported
