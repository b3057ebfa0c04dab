"""docker-compose.yml runs what `make run` runs. No Docker engine here, so the file is checked
for its structure; where `docker compose` exists, it validates the file too."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mpdp_common.service import installed_services

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_every_service_runs_its_processes():
    for name, service in installed_services().items():
        assert SERVICES[name]["command"] == ["mpdpctl", "web", name]
        assert "healthcheck" in SERVICES[name], name
        if service.events is not None:
            assert SERVICES[f"{name}-relay"]["command"] == ["mpdpctl", "relay", name]
            assert SERVICES[f"{name}-consumer"]["command"] == ["mpdpctl", "consume", name]
        for worker in service.workers:
            assert SERVICES[f"{name}-{worker}"]["command"] == ["mpdpctl", "work", name, worker]


def test_start_order_follows_health():
    assert SERVICES["migrate"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "rabbitmq": {"condition": "service_healthy"},
    }
    for backing in ("postgres", "rabbitmq", "redis"):
        assert "healthcheck" in SERVICES[backing]
    for name, service in installed_services().items():
        if service.has_database:
            for process in (name, f"{name}-relay", f"{name}-consumer"):
                assert SERVICES[process]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    web_services = [name for name in installed_services() if name != "gateway"]
    # The gateway's rate-limit counts are shared through Redis.
    assert SERVICES["gateway"]["depends_on"] == {name: {"condition": "service_healthy"} for name in [*web_services, "redis"]}
    assert SERVICES["gateway"]["ports"] == ["8080:8080"]


def test_configuration_names_are_ones_the_platform_reads():
    config = (ROOT / "libs/common/mpdp_common/config.py").read_text()
    for name, service in SERVICES.items():
        for variable in service.get("environment") or {}:
            if variable.startswith("MPDP_"):
                known = variable in config or re.fullmatch(r"MPDP_[A-Z]+_(URL|PORT|DATABASE_URL)", variable)
                assert known, f"{name}: {variable} is read by nothing"


def test_secrets_have_no_defaults():
    environment = SERVICES["identity"]["environment"]
    for variable in ("MPDP_SECRET_KEY", "MPDP_DATABASE_URL", "MPDP_AMQP_URL"):
        assert ":?" in environment[variable], f"{variable} must be required, not defaulted"


def test_the_image_installs_every_service():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "-c constraints.txt" in dockerfile and "./services/*" in dockerfile and "./libs/common" in dockerfile
    assert re.search(r"^USER (?!root)", dockerfile, re.M)


@pytest.mark.skipif(
    shutil.which("docker") is None or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="docker compose is not installed here",
)
def test_docker_compose_accepts_the_file():
    env = {"POSTGRES_PASSWORD": "x", "RABBITMQ_PASSWORD": "x", "MPDP_SECRET_KEY": "x", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(["docker", "compose", "config", "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_image_builds_the_console_that_the_gateway_serves():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "npm ci" in dockerfile and "npm run build" in dockerfile
    assert "COPY --from=console /console/dist ./console/dist" in dockerfile
