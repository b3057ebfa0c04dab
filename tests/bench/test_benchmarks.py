"""Every benchmark still runs: each one's short mode, run as people run it
(`python bench/<name>.py --short`), exits 0 and ends with its line of figures, each a number in
the range it can take. The benchmarks that need the platform share one start of it (through
`MPDP_BENCH_PLATFORM`), which keeps the whole module to a minute or two."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from _platform import SHARED_PLATFORM, shared_platform  # noqa: E402

# What every benchmark's short mode asks of its platform, so that each can use the shared one.
SETTINGS = {
    "MPDP_RATE_LIMIT_PER_CLIENT": "1000000/minute",
    "MPDP_RATE_LIMIT_PER_TOKEN": "1000000/minute",
    "MPDP_INGEST_RATE_LIMIT": "1000000000/minute",
    "MPDP_WEB_WORKERS": "1",
}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    description = tmp_path_factory.mktemp("bench") / "platform.json"
    with shared_platform(description, **SETTINGS):
        yield description


def short_run(name: str, platform: Path | None = None, timeout: float = 150) -> dict[str, float]:
    """The figures of `bench/<name>.py --short`, run by this Python on the shared platform."""
    env = {key: value for key, value in os.environ.items() if key != SHARED_PLATFORM}
    if platform is not None:
        env[SHARED_PLATFORM] = str(platform)
    command = [sys.executable, f"bench/{name}.py", "--short"]
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as done:
        try:
            stdout, stderr = done.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Ctrl-C, so that a benchmark stops the platform it started rather than leave it running
            done.send_signal(signal.SIGINT)
            stdout, stderr = done.communicate(timeout=60)
            pytest.fail(f"bench/{name}.py --short took over {timeout} s\nstdout:\n{stdout[-4000:]}\nstderr:\n{stderr[-4000:]}")
    output = f"stdout:\n{stdout[-4000:]}\nstderr:\n{stderr[-4000:]}"
    assert done.returncode == 0, output
    assert "starting one of its own" not in stderr, output
    last = json.loads(stdout.strip().splitlines()[-1])
    assert last["bench"] == name, output
    for figure, value in last["figures"].items():
        assert isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value), (figure, value)
    return last["figures"]


def positive(figures: dict[str, float], *names: str) -> None:
    for name in names:
        assert figures[name] > 0, (name, figures)


def latencies(figures: dict[str, float], *prefixes: str) -> None:
    """Each `<prefix>_p50_ms` positive, its p99 no lower, and both under a minute."""
    for prefix in prefixes:
        p50, p99 = figures[f"{prefix}_p50_ms"], figures[f"{prefix}_p99_ms"]
        assert 0 < p50 <= p99 < 60_000, (prefix, figures)


# First of the module: it starts a platform of its own, before the others' shared one starts,
# so that PostgreSQL's 100 connections hold both it and the integration tests' platform.
def test_footprint():
    figures = short_run("footprint", timeout=420)  # it starts a platform of its own, as make run does
    positive(figures, "processes", "idle_pss_mib", "loaded_pss_mib", "largest_process_mib", "requests_per_s")
    # every process's pool is bounded: the platform stays well within PostgreSQL's default 100
    assert 0 < figures["idle_connections"] <= figures["loaded_connections"] < 100, figures


def test_analytics():
    figures = short_run("analytics")
    assert figures["events"] == 20_000 and figures["folded_events"] == figures["events"], figures
    positive(figures, "copy_seconds", "copy_rows_per_s", "fold_seconds", "fold_events_per_s", "active_users")
    positive(figures, "clickhouse_insert_seconds", "clickhouse_insert_rows_per_s")
    # both stores: it exits 1 unless every report gives the same figures on each
    for report in ("overview", "pages", "retention", "version_overview", "events", "startup", "health"):
        for store in ("", "clickhouse_"):
            assert 0 < figures[f"{store}{report}_median_ms"] <= figures[f"{store}{report}_slowest_ms"] < 60_000, (report, figures)
        assert 0 < figures[f"clickhouse_merged_{report}_median_ms"] < 60_000, (report, figures)
    assert 0 < figures["page_views_counted"] == figures["page_views_generated"] < figures["events"], figures


def test_release_health():
    figures = short_run("release_health")
    assert figures["sessions"] == 12_000 and figures["folded_rows"] == figures["raw_rows"] > figures["sessions"], figures
    positive(figures, "copy_seconds", "copy_rows_per_s", "fold_seconds", "fold_rows_per_s", "users_counted")
    for report in ("summary", "health", "guard_check"):
        assert 0 < figures[f"{report}_median_ms"] <= figures[f"{report}_slowest_ms"] < 60_000, (report, figures)
    assert figures["sessions_counted"] == figures["sessions"], figures
    assert 0 < figures["crashed_counted"] == figures["crashed_generated"] < figures["sessions"], figures
    assert 0 < figures["guarded_sessions_counted"] == figures["guarded_sessions_generated"] < figures["sessions"], figures


def test_events():
    figures = short_run("events")
    positive(
        figures,
        "relay_alone_events_per_s",
        "consumer_alone_events_per_s",
        "both_relay_events_per_s",
        "both_end_to_end_events_per_s",
        "relay_cpu_us_per_event",
        "consumer_cpu_us_per_event",
    )
    assert figures["postgresql_cpu_us_per_event"] >= 0 and figures["rabbitmq_cpu_us_per_event"] >= 0, figures
    assert figures["latency_events_done"] == figures["latency_events_sent"] > 0, figures
    latencies(figures, "latency")
    assert figures["latency_p99_ms"] <= figures["latency_max_ms"], figures


def test_gateway(platform):
    figures = short_run("gateway", platform)
    for load in ("one_client", "concurrent"):
        positive(figures, f"{load}_direct_req_per_s", f"{load}_gateway_req_per_s", f"{load}_ratio", f"{load}_gateway_gateway_cpu_us")
        positive(figures, f"{load}_direct_identity_cpu_us", f"{load}_gateway_identity_cpu_us")
        latencies(figures, f"{load}_direct", f"{load}_gateway")


def test_upload(platform):
    figures = short_run("upload", platform)
    assert 2 <= figures["package_mb"] < 3, figures
    positive(figures, "idle_rss_mb", "gateway_mb_per_s", "direct_mb_per_s", "gateway_ms_per_upload", "direct_ms_per_upload")
    positive(figures, "time_ratio", "gateway_peak_rss_mb", "direct_peak_rss_mb")


def test_delivery(platform):
    figures = short_run("delivery", platform)
    positive(figures, "direct_req_per_s", "gateway_req_per_s", "ratio")
    latencies(figures, "direct", "gateway")


def test_ingest(platform):
    figures = short_run("ingest", platform)
    positive(figures, "accepted_events", "accepted_events_per_s", "requests", "counted_after_s")
    assert figures["refused_events"] == 0, figures
    assert figures["counted_events"] == figures["accepted_events"], figures
    latencies(figures, "request")


def test_soak(platform):
    figures = short_run("soak", platform)
    positive(figures, "seconds", "requests")
    assert figures["errors"] == 0, figures
    assert figures["largest_growth_mib"] < 64, figures


def test_sourcemaps():
    figures = short_run("sourcemaps")
    positive(figures, "record_before_maps_us_per_event", "record_no_maps_at_all_us_per_event", "record_with_maps_us_per_event")
    positive(figures, "lookup_without_maps_us_per_event", "resolve_frames_us_per_event", "parse_fixture_ms", "parse_big_ms")
    assert figures["no_frames_us_per_event"] < figures["lookup_without_maps_us_per_event"], figures


def test_host_sdk(platform):
    figures = short_run("host_sdk", platform)
    assert figures["queued_events"] == 100_000 and figures["counted_events"] == figures["sent_events"], figures
    positive(figures, "python_events_per_s", "js_events_per_s", "python_queued_mib", "js_queued_mib")
    # 100,000 queued events stay well within a phone's or a host's memory.
    assert figures["python_queued_mib"] < 100 and figures["js_queued_mib"] < 100, figures


def test_webhooks(platform):
    figures = short_run("webhooks", platform)
    assert figures["missing"] == 0, figures  # every answering receiver got every delivery, with one hanging too
    assert figures["hanging_attempts"] >= 1, figures
    positive(figures, "calm_p50_ms", "calm_p99_ms", "calm_all_in_s", "hang_p50_ms", "hang_p99_ms", "hang_all_in_s")
