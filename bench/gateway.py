"""What the gateway costs: GET /api/v1/me through the gateway against the identity service
directly, the same load in the same run, interleaved. Prints, for one client and for
`--concurrency` clients, requests/s and the latency percentiles of each path, and the ratios.

The load comes from `wrk` when it is installed (a Python client in the same process as two cores
of server is not a fair load generator), else from Python threads. Either way the figure that
holds on a shared, loaded machine is printed too: the CPU time the gateway's and identity's
processes spent per request (their utime + stime from /proc, before and after).

    .venv/bin/python bench/gateway.py [--seconds 10] [--concurrency 8] [--short]
"""

from __future__ import annotations

import argparse
import os
import shutil
import threading
import time

import requests
from _platform import arguments, cpu_seconds, descendants, figures, percentile, running_platform, wrk

from mpdp_common.config import Settings


def web_processes(root: int, service: str) -> list[int]:
    """The gunicorn master and workers of `service` under the platform's launcher."""
    masters = [pid for pid in descendants(root) if _command(pid)[-3:-1] == ["web", service]]
    return descendants(*masters) if masters else []


def _command(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline") as cmdline:
            return cmdline.read().split("\0")
    except OSError:
        return []


def wrk_load(url: str, token: str, clients: int, seconds: int) -> tuple[int, float, float, float]:
    """(requests, requests/s, p50 ms, p99 ms) from one wrk run."""
    return wrk(url, {"Authorization": f"Bearer {token}"}, clients, seconds)


def python_load(url: str, token: str, clients: int, seconds: int) -> tuple[int, float, float, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker():
        session = requests.Session()
        mine = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            mine.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return len(latencies), len(latencies) / elapsed, percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="length of each run (two runs per path and load)")
    parser.add_argument("--concurrency", type=int, default=8)
    args = arguments(parser, seconds=1, concurrency=4)
    load = wrk_load if shutil.which("wrk") else python_load
    # The full run measures what `make run` runs: its web workers and threads per service and its
    # access log at INFO; the short one takes the shared test platform as it is.
    as_deployed = {} if args.short else {"MPDP_LOG_LEVEL": "INFO", "MPDP_WEB_WORKERS": str(Settings.web_workers)}
    limits = {"MPDP_RATE_LIMIT_PER_CLIENT": "1000000/minute", "MPDP_RATE_LIMIT_PER_TOKEN": "1000000/minute"}
    with running_platform(**limits, **as_deployed, MPDP_WEB_THREADS=str(Settings.web_threads)) as platform:
        from tests.integration.client import Client

        user = Client(platform.gateway).new_account("bench")
        targets = {"identity directly": platform.url("identity"), "through the gateway": platform.gateway}
        processes = {name: web_processes(platform.process.pid, name) for name in ("gateway", "identity")}
        for base in targets.values():  # warm up connections, caches, workers
            load(f"{base}/api/v1/me", user.token, args.concurrency, min(2, args.seconds))
        print(f"GET /api/v1/me, load from {'wrk' if load is wrk_load else 'Python threads'}, {args.seconds} s per run, two runs each")
        rates: dict[tuple[str, int], float] = {}
        found: dict[str, float] = {}
        for clients, load_name in ((1, "one_client"), (args.concurrency, "concurrent")):
            results: dict[str, list] = {name: [] for name in targets}
            cpu = {name: [0.0, 0.0, 0] for name in targets}  # gateway seconds, identity seconds, requests
            for _round in range(2):  # interleaved, so that a busy moment of the machine hurts both alike
                for name, base in targets.items():
                    before = {service: cpu_seconds(pids) for service, pids in processes.items()}
                    outcome = load(f"{base}/api/v1/me", user.token, clients, args.seconds)
                    after = {service: cpu_seconds(pids) for service, pids in processes.items()}
                    results[name].append(outcome)
                    cpu[name][0] += after["gateway"] - before["gateway"]
                    cpu[name][1] += after["identity"] - before["identity"]
                    cpu[name][2] += outcome[0]
            print(f"  {clients} client(s):")
            for (name, runs), key in zip(results.items(), ("direct", "gateway"), strict=True):
                rates[name, clients] = sum(run[1] for run in runs) / len(runs)
                p50 = sum(run[2] for run in runs) / len(runs)
                p99 = max(run[3] for run in runs)
                gateway_us, identity_us = (seconds / cpu[name][2] * 1e6 for seconds in cpu[name][:2])
                print(
                    f"    {name:22s} {rates[name, clients]:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.1f} ms"
                    f"   CPU per request: gateway {gateway_us:5.0f} us, identity {identity_us:5.0f} us"
                )
                prefix = f"{load_name}_{key}"
                found.update({f"{prefix}_req_per_s": rates[name, clients], f"{prefix}_p50_ms": p50, f"{prefix}_p99_ms": p99})
                found[f"{prefix}_identity_cpu_us"] = identity_us
                if key == "gateway":
                    found[f"{prefix}_gateway_cpu_us"] = gateway_us
            ratio = rates["through the gateway", clients] / rates["identity directly", clients]
            print(f"    gateway/direct throughput ratio: {ratio:.2f}")
            found[f"{load_name}_ratio"] = ratio
        print(f"  as run: {platform.env['MPDP_WEB_WORKERS']} web workers per service, log level {platform.env['MPDP_LOG_LEVEL']}")
        print(f"  machine load (1, 5, 15 min): {' '.join(f'{value:.1f}' for value in os.getloadavg())} on {os.cpu_count()} CPUs")
        figures("gateway", concurrency=args.concurrency, **found)


if __name__ == "__main__":
    main()
