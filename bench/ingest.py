"""Ingest throughput: host apps sending batches of 500 events through the gateway, from several
concurrent senders, for a fixed time. Prints the events accepted per second, then waits for the
consumer to fold them and checks that every accepted event is counted (page views in the
overview), so that a fast but lossy ingest cannot pass.

    .venv/bin/python bench/ingest.py [--seconds 20] [--senders 6] [--batch 500] [--workers 2] [--fold-timeout 600] [--short]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import secrets
import time
from datetime import UTC, datetime

import requests
from _platform import arguments, figures, running_platform

from tests.integration.client import Client


def prepare(gateway: str) -> tuple[Client, str, str, str]:
    """An admin, a workspace, a mini program and a host app key that telemetry knows."""
    admin = Client(gateway).new_account("bench")
    ws = admin.post("/api/v1/workspaces", json={"name": "Bench", "kind": "tenant"}).json()["id"]
    deadline = time.monotonic() + 60
    while True:
        created = admin.post(f"/api/v1/workspaces/{ws}/miniprograms", json={"name": "Bench shop"})
        if created.status_code == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    mp = created.json()["id"]
    app = admin.post(f"/api/v1/workspaces/{ws}/apps", json={"name": "Bench app", "platforms": ["ios"], "bundle_id": "bench.app"}).json()
    key_id = admin.post(f"/api/v1/workspaces/{ws}/apps/{app['id']}/keys", json={}).json()["key_id"]
    while admin.get(f"/api/v1/workspaces/{ws}/miniprograms/{mp}/dsn").status_code != 200:
        time.sleep(0.2)
    return admin, ws, mp, key_id


def sender(gateway: str, key_id: str, mp: str, batch: int, until: float, results) -> None:
    http = requests.Session()
    headers = {"X-MPDP-Key": key_id, "Content-Type": "application/json"}
    prefix = secrets.token_hex(4)
    accepted = refused = sent = 0
    latencies = []
    while time.time() < until:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        events = [
            {
                "event_id": f"{prefix}-{sent}-{n}",
                "type": "page_view",
                "timestamp": now,
                "miniprogram_id": mp,
                "version": "1.0.0",
                "user_id": f"user{random.randrange(100_000)}",
                "session_id": f"s{random.randrange(300_000)}",
                "page": f"pages/p{random.randrange(20)}",
            }
            for n in range(batch)
        ]
        sent += 1
        body = json.dumps({"sent_at": now, "events": events})
        started = time.perf_counter()
        try:
            answer = http.post(f"{gateway}/ingest/v1/events", data=body, headers=headers, timeout=30)
        except requests.RequestException:
            refused += batch
            continue
        latencies.append(time.perf_counter() - started)
        if answer.status_code == 202:
            accepted += answer.json()["accepted"]
        else:
            refused += batch
    results.put((accepted, refused, latencies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--senders", type=int, default=6)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("MPDP_WEB_WORKERS", "2")), help="web processes per service")
    parser.add_argument("--fold-timeout", type=float, default=600, help="seconds to wait for every accepted event to be counted")
    args = arguments(parser, seconds=3, senders=2, batch=100, workers=1, fold_timeout=60)
    with running_platform(MPDP_INGEST_RATE_LIMIT="1000000000/minute", MPDP_WEB_WORKERS=str(args.workers)) as platform:
        admin, ws, mp, key_id = prepare(platform.gateway)
        results = multiprocessing.Queue()
        until = time.time() + args.seconds
        processes = [
            multiprocessing.Process(target=sender, args=(platform.gateway, key_id, mp, args.batch, until, results))
            for _ in range(args.senders)
        ]
        started = time.time()
        for process in processes:
            process.start()
        outcomes = [results.get() for _ in processes]
        elapsed = time.time() - started
        for process in processes:
            process.join()
        accepted = sum(outcome[0] for outcome in outcomes)
        refused = sum(outcome[1] for outcome in outcomes)
        latencies = sorted(latency for outcome in outcomes for latency in outcome[2])
        print(f"senders: {args.senders} processes, batches of {args.batch} events, {elapsed:.1f} s, load average {os.getloadavg()[0]:.1f}")
        print(f"accepted: {accepted} events, {accepted / elapsed:,.0f} events/s ({len(latencies)} requests; refused {refused} events)")
        found = {
            "accepted_events": accepted,
            "accepted_events_per_s": accepted / elapsed,
            "refused_events": refused,
            "requests": len(latencies),
        }
        if latencies:
            found.update(request_p50_ms=latencies[len(latencies) // 2] * 1000, request_p99_ms=latencies[int(len(latencies) * 0.99)] * 1000)
            print(f"request latency: p50 {found['request_p50_ms']:.0f} ms, p99 {found['request_p99_ms']:.0f} ms")

        today = datetime.now(UTC).date().isoformat()
        waited = time.time()
        counted = 0
        while time.time() - waited < args.fold_timeout:
            overview = admin.get(f"/api/v1/workspaces/{ws}/analytics/overview", params={"miniprogram_id": mp, "from": today, "to": today})
            counted = overview.json()["totals"]["page_views"]
            if counted >= accepted:
                break
            time.sleep(1)
        folded_after = time.time() - waited
        print(f"folded: {counted} of {accepted} accepted events counted, {folded_after:.1f} s after the senders stopped")
        print("no loss" if counted == accepted else f"MISMATCH: {accepted - counted} accepted events not counted")
        figures("ingest", **found, counted_events=counted, counted_after_s=folded_after)
        if counted != accepted:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
