"""Shared by the benchmarks: the real platform of the integration tests, started for one run
(or one already running, see `running_platform`), their arguments' short mode and the line of
figures they end with."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.client import MAIL_FOLDERS  # noqa: E402
from tests.integration.conftest import LOCAL_BROKER, LOCAL_DATABASE, Platform  # noqa: E402

# A file describing a running platform (see `shared_platform`): the benchmarks it suits use it
# instead of starting their own, so that several short runs share one start.
SHARED_PLATFORM = "MPDP_BENCH_PLATFORM"


@contextmanager
def running_platform(**env):
    """Start every service on the local PostgreSQL and RabbitMQ with a prefix of its own; or, when
    `MPDP_BENCH_PLATFORM` names a shared platform started with every setting in `env`, use that."""
    shared = _shared(env)
    if shared is not None:
        yield shared
        return
    workdir = Path(tempfile.mkdtemp(prefix="mpdp-bench-"))
    platform = Platform(
        os.environ.get("MPDP_TEST_DATABASE_URL", LOCAL_DATABASE), os.environ.get("MPDP_TEST_AMQP_URL", LOCAL_BROKER), workdir
    )
    platform.env.update({"MPDP_LOG_LEVEL": "WARNING", **env})
    platform.start()
    try:
        yield platform
    finally:
        platform.stop()
        platform.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def shared_platform(description: Path, **env):
    """A platform started with `env` and described in `description`, for benchmarks run with
    `MPDP_BENCH_PLATFORM` set to that file."""
    with running_platform(**env) as platform:
        state = {name: getattr(platform, name) for name in ("database", "broker", "run_id", "prefix", "ports", "internal_ports")}
        settings = {name: value for name, value in platform.env.items() if name.startswith("MPDP_")}
        description.write_text(json.dumps({**state, "workdir": str(platform.workdir), "pid": platform.process.pid, "env": settings}))
        yield platform


def _shared(env: dict[str, str]) -> Platform | None:
    path = os.environ.get(SHARED_PLATFORM)
    if not path:
        return None
    described = json.loads(Path(path).read_text())
    wanted = {"MPDP_LOG_LEVEL": "WARNING", **env}
    differing = sorted(name for name, value in wanted.items() if described["env"].get(name) != value)
    if differing:
        print(f"the shared platform runs with other {', '.join(differing)}: starting one of its own", file=sys.stderr)
        return None
    platform = Platform(described["database"], described["broker"], Path(described["workdir"]))
    for name in ("run_id", "prefix", "ports", "internal_ports", "env"):
        setattr(platform, name, described[name])
    platform.process = SimpleNamespace(pid=described["pid"])  # not ours to stop
    # its accounts verify their email through the links it writes there, as the tests' do
    MAIL_FOLDERS[platform.gateway] = platform.mail_folder
    return platform


def arguments(parser: argparse.ArgumentParser, **short) -> argparse.Namespace:
    """The command line's arguments. With `--short`, `short` replaces the defaults (arguments
    given still win): small sizes, a run of a few seconds that shows the benchmark works, not
    how fast the platform is."""
    parser.add_argument("--short", action="store_true", help=f"a run of a few seconds: {_described(short)}")
    if parser.parse_known_args()[0].short:
        parser.set_defaults(**short)
    return parser.parse_args()


def _described(short: dict) -> str:
    return ", ".join(f"--{name.replace('_', '-')} {value!r}" for name, value in short.items()).replace("%", "%%")


def figures(bench: str, **values: float) -> None:
    """End the benchmark's output with its figures on one line of JSON,
    `{"bench": ..., "figures": {name: number}}`, for programs to read (the tests run every
    benchmark's short mode and check its figures)."""
    print(json.dumps({"bench": bench, "figures": values}), flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def concurrently(call, total: int, concurrency: int) -> tuple[float, list[float]]:
    """`total` requests from `concurrency` threads, each with its own `requests.Session`:
    `call(session, worker, number)` makes one. Answers requests/s and every latency (seconds)."""
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        session, mine = requests.Session(), []
        for number in range(total // concurrency):
            started = time.perf_counter()
            call(session, index, number)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / (time.perf_counter() - started), latencies


def compare_direct_and_gateway(title: str, targets: dict[str, str], load, total: int, concurrency: int) -> dict[str, float]:
    """Warm both targets up, load them in interleaved rounds (a slow moment hurts both alike) and
    print requests/s, p50 and p99 per target and the gateway/direct ratio. `targets` names the
    direct target first, the gateway second; `load(base, total, concurrency)` runs one round.
    Answers the figures: `direct_` and `gateway_` `req_per_s`, `p50_ms`, `p99_ms`, and `ratio`."""
    for base in targets.values():
        load(base, min(200, total), concurrency)
    results: dict[str, list] = {name: [] for name in targets}
    load_before = os.getloadavg()[0]
    for _round in range(2):
        for name, base in targets.items():
            results[name].append(load(base, total // 2, concurrency))
    print(f"{title}, {total} requests per target, {concurrency} concurrent clients")
    print(f"  machine: {os.cpu_count()} cores, load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after")
    rates, found = [], {}
    for (name, runs), key in zip(results.items(), ("direct", "gateway"), strict=True):
        latencies = [value for _, values in runs for value in values]
        rates.append(sum(rate for rate, _ in runs) / len(runs))
        p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
        print(f"  {name:22s} {rates[-1]:8.0f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")
        found.update({f"{key}_req_per_s": rates[-1], f"{key}_p50_ms": p50, f"{key}_p99_ms": p99})
    print(f"  gateway/direct throughput ratio: {rates[1] / rates[0]:.2f}")
    return {**found, "ratio": rates[1] / rates[0]}


_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_SCALE = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, headers: dict[str, str], clients: int, seconds: int) -> tuple[int, float, float, float]:
    """(requests, requests/s, p50 ms, p99 ms) from one run of `wrk`, a load generator that costs
    the machine far less than Python threads; every answer must be a 2xx."""
    command = ["wrk", f"-t{min(clients, 2)}", f"-c{clients}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    answer = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in answer:
        raise SystemExit(f"some answers were not 2xx:\n{answer}")
    latencies = {share: float(value) * _SCALE[unit] for share, value, unit in _LATENCY.findall(answer)}
    total = int(re.search(r"(\d+) requests in", answer).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", answer).group(1))
    return total, rate, latencies["50"], latencies["99"]


def descendants(*roots: int) -> list[int]:
    """Every process below `roots` (the roots included), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, pending = set(), list(roots)
    while pending:
        pid = pending.pop()
        found.add(pid)
        pending.extend(children.get(pid, []))
    return sorted(found)


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user and system) the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / _TICKS


def processes_named(*names: str) -> list[int]:
    """The processes whose command name is one of `names` (such as the database's and the broker's)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() in names:
                        found.append(int(entry))
            except OSError:
                continue
    return found
