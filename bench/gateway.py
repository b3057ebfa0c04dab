"""What the gateway costs: GET /api/v1/me through the gateway against the identity service
directly, the same load in the same run. Prints requests/s, p50 and p99 latency, and the ratio.

    .venv/bin/python bench/gateway.py [--requests 3000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import threading
import time

import requests
from _platform import percentile, running_platform


def load(url: str, token: str, total: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_worker = total // concurrency

    def worker():
        session = requests.Session()
        mine = []
        for _ in range(per_worker):
            started = time.perf_counter()
            response = session.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            mine.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / (time.perf_counter() - started), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with running_platform(MPDP_RATE_LIMIT_PER_CLIENT="1000000/minute", MPDP_RATE_LIMIT_PER_TOKEN="1000000/minute") as platform:
        from tests.integration.client import Client

        user = Client(platform.gateway).new_account("bench")
        targets = {"identity directly": platform.url("identity"), "through the gateway": platform.gateway}
        for base in targets.values():  # warm up connections, JWKS cache, workers
            load(f"{base}/api/v1/me", user.token, 200, args.concurrency)
        results: dict[str, list] = {name: [] for name in targets}
        for _round in range(2):  # interleaved, so that a slow moment hurts both alike
            for name, base in targets.items():
                results[name].append(load(f"{base}/api/v1/me", user.token, args.requests // 2, args.concurrency))
        print(f"GET /api/v1/me, {args.requests} requests per target, {args.concurrency} concurrent clients")
        summary = {}
        for name, runs in results.items():
            latencies = [value for _, values in runs for value in values]
            rate = sum(rate for rate, _ in runs) / len(runs)
            summary[name] = rate
            print(
                f"  {name:22s} {rate:8.0f} req/s   p50 {percentile(latencies, 0.5) * 1000:6.1f} ms"
                f"   p99 {percentile(latencies, 0.99) * 1000:6.1f} ms"
            )
        print(f"  gateway/direct throughput ratio: {summary['through the gateway'] / summary['identity directly']:.2f}")


if __name__ == "__main__":
    main()
