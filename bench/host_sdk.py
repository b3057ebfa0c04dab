"""The host kits' analytics queues, each in one process: the memory that 100,000 queued events
take, and the events per second the queue sends through the gateway to ingest (batches of 500,
gzip, one request at a time, as a host app sends them). The Python kit (sdk/python) is measured
in this process, the TypeScript kit (sdk/js, its ESM build) in Node. Every accepted event is then
waited for in the console's overview, so that a fast but lossy send cannot pass.

    .venv/bin/python bench/host_sdk.py [--queued 100000] [--sent 50000] [--batch 500] [--workers 2] [--short]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import time
import tracemalloc
from datetime import UTC, datetime

from _platform import ROOT, arguments, figures, running_platform
from ingest import prepare

from mpdp_host import Analytics

SDK_JS = ROOT / "sdk" / "js"


def fill(analytics: Analytics, mp: str, count: int) -> None:
    sessions = [analytics.session(mp, "1.0.0", f"user{n}") for n in range(1000)]
    for n in range(count):
        sessions[n % 1000].page_view(f"pages/p{n % 20}/p{n % 20}", 1000 + n % 500)


def python_kit(gateway: str, key_id: str, mp: str, queued: int, sent: int, batch: int) -> dict[str, float]:
    idle = Analytics(gateway, key_id, max_queue=queued)
    gc.collect()
    tracemalloc.start()
    fill(idle, mp, queued)
    queued_bytes, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(idle) == queued
    analytics = Analytics(gateway, key_id, batch_size=batch, max_queue=sent)
    fill(analytics, mp, sent)
    started = time.perf_counter()
    accepted = analytics.flush()
    seconds = time.perf_counter() - started
    assert accepted == sent and analytics.stats.sent == sent, analytics.stats
    return {"python_queued_mib": queued_bytes / 2**20, "python_events_per_s": sent / seconds, "python_send_seconds": seconds}


def js_kit(gateway: str, key_id: str, mp: str, queued: int, sent: int, batch: int) -> dict[str, float]:
    subprocess.run(["make", "--no-print-directory", "-s", "sdk-js"], cwd=ROOT, check=True)
    kit = (SDK_JS / "dist" / "esm" / "index.js").as_uri()
    command = ["node", "--expose-gc", str(ROOT / "bench" / "host_sdk.mjs"), kit, gateway, key_id, mp, str(queued), str(sent), str(batch)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["accepted"] == sent and seen["queued"] == queued, seen
    return {"js_queued_mib": seen["queued_mib"], "js_events_per_s": sent / seen["seconds"], "js_send_seconds": seen["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queued", type=int, default=100_000, help="events queued for the memory figure")
    parser.add_argument("--sent", type=int, default=50_000, help="events each kit sends through the gateway")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2, help="the web workers of each service")
    parser.add_argument("--fold-timeout", type=float, default=600)
    args = arguments(parser, sent=3000, workers=1, fold_timeout=120)
    with running_platform(MPDP_INGEST_RATE_LIMIT="1000000000/minute", MPDP_WEB_WORKERS=str(args.workers)) as platform:
        admin, ws, mp, key_id = prepare(platform.gateway)
        found = python_kit(platform.gateway, key_id, mp, args.queued, args.sent, args.batch)
        rate, memory = found["python_events_per_s"], found["python_queued_mib"]
        print(f"python kit: {rate:,.0f} events/s sent, {memory:.1f} MiB for {args.queued:,} queued")
        found |= js_kit(platform.gateway, key_id, mp, args.queued, args.sent, args.batch)
        rate, memory = found["js_events_per_s"], found["js_queued_mib"]
        print(f"typescript kit: {rate:,.0f} events/s sent, {memory:.1f} MiB for {args.queued:,} queued")
        # Every accepted page view is counted by the console: none was lost on the way.
        today = datetime.now(UTC).date().isoformat()
        deadline, counted = time.monotonic() + args.fold_timeout, 0
        while time.monotonic() < deadline:
            overview = admin.get(f"/api/v1/workspaces/{ws}/analytics/overview", params={"miniprogram_id": mp, "from": today, "to": today})
            counted = overview.json()["totals"]["page_views"] if overview.status_code == 200 else 0
            if counted >= 2 * args.sent:
                break
            time.sleep(0.5)
        print(f"counted by the console: {counted:,} of {2 * args.sent:,} page views")
        figures("host_sdk", queued_events=args.queued, sent_events=2 * args.sent, counted_events=counted, **found)


if __name__ == "__main__":
    main()
