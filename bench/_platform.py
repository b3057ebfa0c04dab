"""Shared by the benchmarks: the real platform of the integration tests, started for one run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import requests

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


def compare_direct_and_gateway(title: str, targets: dict[str, str], load, total: int, concurrency: int) -> None:
    """Warm both targets up, load them in interleaved rounds (a slow moment hurts both alike) and
    print requests/s, p50 and p99 per target and the gateway/direct ratio. `targets` names the
    direct target first, the gateway second; `load(base, total, concurrency)` runs one round."""
    for base in targets.values():
        load(base, 200, concurrency)
    results: dict[str, list] = {name: [] for name in targets}
    load_before = os.getloadavg()[0]
    for _round in range(2):
        for name, base in targets.items():
            results[name].append(load(base, total // 2, concurrency))
    print(f"{title}, {total} requests per target, {concurrency} concurrent clients")
    print(f"  machine: {os.cpu_count()} cores, load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after")
    rates = []
    for name, runs in results.items():
        latencies = [value for _, values in runs for value in values]
        rates.append(sum(rate for rate, _ in runs) / len(runs))
        print(
            f"  {name:22s} {rates[-1]:8.0f} req/s   p50 {percentile(latencies, 0.5) * 1000:6.1f} ms"
            f"   p99 {percentile(latencies, 0.99) * 1000:6.1f} ms"
        )
    print(f"  gateway/direct throughput ratio: {rates[1] / rates[0]:.2f}")


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
