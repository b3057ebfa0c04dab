"""Shared by the benchmarks: the real platform of the integration tests, started for one run."""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.conftest import LOCAL_BROKER, LOCAL_DATABASE, Platform  # noqa: E402


@contextmanager
def running_platform(**env):
    """Start every service on the local PostgreSQL and RabbitMQ with a prefix of its own."""
    workdir = Path(tempfile.mkdtemp(prefix="mpdp-bench-"))
    platform = Platform(
        os.environ.get("MPDP_TEST_DATABASE_URL", LOCAL_DATABASE), os.environ.get("MPDP_TEST_AMQP_URL", LOCAL_BROKER), workdir
    )
    platform.env.update(MPDP_LOG_LEVEL="WARNING", **env)
    platform.start()
    try:
        yield platform
    finally:
        platform.stop()
        platform.cleanup()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]
