"""deploy/kubernetes: every overlay renders with kustomize and passes the Kubernetes schemas
strictly, and runs what `mpdpctl` runs, probed, sized and fenced as an operator would check."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from mpdp_common.config import INTERNAL_PORTS, SERVICE_PORTS
from mpdp_common.service import installed_services

ROOT = Path(__file__).resolve().parents[2]
KUSTOMIZE = ROOT / "deploy/kubernetes"
OVERLAYS = sorted(path.name for path in (KUSTOMIZE / "overlays").iterdir() if (path / "kustomization.yaml").exists())
VALIDATOR = Path(sys.executable).parent / "kubernetes-validate"
#: the oldest Kubernetes still commonly run, and the validator's newest schemas
KUBERNETES_VERSIONS = ("1.30", None)

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed here: it renders the kustomizations")


@cache
def rendered(overlay: str) -> str:
    result = subprocess.run(["kubectl", "kustomize", str(KUSTOMIZE / "overlays" / overlay)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def resources(overlay: str, kind: str | None = None) -> list[dict[str, Any]]:
    found = [item for item in yaml.safe_load_all(rendered(overlay)) if item]
    return [item for item in found if kind is None or item["kind"] == kind]


def by_name(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {item["metadata"]["name"]: item for item in resources(overlay, kind)}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def test_there_are_overlays():
    assert {"production", "small"} <= set(OVERLAYS)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS, ids=lambda version: version or "latest")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_passes_the_kubernetes_schemas_strictly(overlay, version, tmp_path):
    manifest = tmp_path / f"{overlay}.yaml"
    manifest.write_text(rendered(overlay))
    against = ["-k", version] if version else []
    result = subprocess.run([str(VALIDATOR), "--strict", "--quiet", *against, str(manifest)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_process_of_every_service_has_its_deployment(overlay):
    commands = {tuple(_container(item)["command"]): item for item in resources(overlay, "Deployment")}
    for name, service in installed_services().items():
        assert ("mpdpctl", "web", name) in commands, name
        if service.jobs:
            # One process per pod for the relay, the consumer and the workers (see the README).
            jobs = commands[("mpdpctl", "jobs", name)]
            env = {item["name"]: item.get("value") for item in _container(jobs)["env"]}
            assert env["MPDP_JOBS_PORT"] == str(_container(jobs)["ports"][0]["containerPort"])
    assert len(commands) == len(resources(overlay, "Deployment")), "two Deployments run the same process"
    for command, deployment in commands.items():
        # New code starts only once the migration Job has brought its database up to date.
        service = installed_services()[command[2]]
        waits = [item["command"] for item in deployment["spec"]["template"]["spec"].get("initContainers", [])]
        assert waits == ([["mpdpctl", "wait-migrated", service.name, "--timeout", "900"]] if service.has_database else []), command
    (job,) = resources(overlay, "Job")
    assert _container(job)["command"] == ["mpdpctl", "migrate"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_is_probed_sized_and_autoscaled(overlay):
    autoscalers = {item["spec"]["scaleTargetRef"]["name"]: item for item in resources(overlay, "HorizontalPodAutoscaler")}
    budgets = resources(overlay, "PodDisruptionBudget")
    for name, deployment in by_name(overlay, "Deployment").items():
        container = _container(deployment)
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            assert container[probe]["httpGet"]["path"] == path, (name, probe)
            assert container[probe]["httpGet"]["port"] in ports, (name, probe)
        if container["command"][1] == "web":
            service = container["command"][2]
            assert ports[container["readinessProbe"]["httpGet"]["port"]] == INTERNAL_PORTS.get(service, SERVICE_PORTS[service])
        resources_ = container["resources"]
        for kind in ("cpu", "memory"):
            assert _quantity(resources_["limits"][kind]) >= _quantity(resources_["requests"][kind]), (name, kind)
        # A web pod is a gunicorn master and its workers, 60 to 110 MiB each: room for two of them at least.
        assert _quantity(resources_["limits"]["memory"]) >= 2 * 110 * 2**20, name
        assert name in autoscalers, f"{name} has no HorizontalPodAutoscaler"
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(_selects(budget["spec"]["selector"], labels) for budget in budgets), f"{name} has no PodDisruptionBudget"
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_production_runs_more_of_everything_than_small():
    small = {name: item["spec"]["minReplicas"] for name, item in by_name("small", "HorizontalPodAutoscaler").items()}
    production = {name: item["spec"]["minReplicas"] for name, item in by_name("production", "HorizontalPodAutoscaler").items()}
    assert small.keys() == production.keys()
    assert all(production[name] > small[name] for name in small), (small, production)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_secrets_are_referenced_never_written(overlay):
    assert resources(overlay, "Secret") == []
    config = (ROOT / "libs/common/mpdp_common/config.py").read_text()
    for item in [*resources(overlay, "Deployment"), *resources(overlay, "Job")]:
        container = _container(item)
        for variable in container.get("env", []):
            name = variable["name"]
            if re.search(r"PASSWORD|SECRET|DATABASE_URL|AMQP_URL|ACCESS_KEY", name):
                assert "secretKeyRef" in variable.get("valueFrom", {}), f"{item['metadata']['name']}: {name} is not a secret reference"
    (config_map,) = resources(overlay, "ConfigMap")
    for variable in config_map["data"]:
        assert variable in config or re.fullmatch(r"MPDP_[A-Z]+_(URL|PORT)", variable), f"{variable} is read by nothing"
        assert not re.search(r"PASSWORD|SECRET|KEY", variable), f"{variable} belongs in a Secret"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_gateway_reaches_the_services(overlay):
    policies = resources(overlay, "NetworkPolicy")
    deployments = by_name(overlay, "Deployment")
    assert any(policy["spec"]["podSelector"] == {} and not policy["spec"].get("ingress") for policy in policies), "no default deny"

    def admitted(labels: dict[str, str]) -> list[dict[str, Any]]:
        """The ingress rules of every policy that selects pods with these labels."""
        return [
            rule for policy in policies if _selects(policy["spec"]["podSelector"], labels) for rule in policy["spec"].get("ingress", [])
        ]

    gateway = deployments["gateway"]["spec"]["template"]["metadata"]["labels"]
    for name, deployment in deployments.items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        rules = admitted(labels)
        if name == "gateway":
            open_rules = [rule for rule in rules if "from" not in rule]
            assert [port["port"] for rule in open_rules for port in rule["ports"]] == [SERVICE_PORTS["gateway"]]
            continue
        if labels["app.kubernetes.io/component"] != "web":
            assert rules == [], f"{name} serves nothing but its probes, yet a policy admits {rules}"
            continue
        assert rules, f"nothing reaches {name}"
        sources = [peer for rule in rules for peer in rule["from"]]
        assert all(set(peer) == {"podSelector"} for peer in sources), f"{name} admits pods of other namespaces or addresses"
        service = labels["app.kubernetes.io/name"]
        admitting = {
            other
            for other, item in deployments.items()
            if any(_selects(peer["podSelector"], item["spec"]["template"]["metadata"]["labels"]) for peer in sources)
        }
        # Besides the gateway, only identity (its signing keys) and workspace (a membership not
        # yet heard of) are called by the other services' web processes.
        expected = {"gateway"} | (
            {f"{other}-web" for other in SERVICE_PORTS if other != "gateway"} if service in ("identity", "workspace") else set()
        )
        assert admitting == expected, (name, admitting)
        assert any(_selects(peer["podSelector"], gateway) for peer in sources)


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value, operator = labels.get(expression["key"]), expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and value is None or operator == "DoesNotExist" and value is not None:
            return False
    return True


def _quantity(text: str) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)
