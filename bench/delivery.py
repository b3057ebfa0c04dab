"""The hottest path: signed GET /client/v1/miniprograms through the gateway against the catalog
directly, the same load in the same run. Prints requests/s, p50 and p99 latency, and the ratio;
the goal on a 2-core machine is p99 under 25 ms through the gateway and at least 70 % of the
direct throughput. The machine's load average is printed too: other work on it moves the figures.
With `wrk` installed, a second comparison drives the same request from `wrk` (signed once: a
signature holds for five minutes), which costs the machine far less than Python threads.

    .venv/bin/python bench/delivery.py [--requests 4000] [--concurrency 8] [--workers 2] [--wrk-seconds 10] [--short]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import shutil
import socket
import time
from urllib.parse import urlencode, urlparse

from _platform import arguments, compare_direct_and_gateway, concurrently, figures, running_platform, wrk


def signed_headers(key_id: str, secret: str, path: str, query: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), f"{timestamp}\nGET\n{path}\n{query}".encode(), hashlib.sha256).hexdigest()
    return {"X-MPDP-Key": key_id, "X-MPDP-Timestamp": timestamp, "X-MPDP-Signature": signature}


def load(key_id: str, secret: str):
    """Each request for another user, as phones starting the app would ask."""
    path = "/client/v1/miniprograms"

    def one_round(base: str, total: int, concurrency: int):
        def fetch(session, worker, number):
            query = urlencode({"user_id": f"user-{worker}-{number}"})
            response = session.get(f"{base}{path}?{query}", headers=signed_headers(key_id, secret, path, query), timeout=10)
            assert response.status_code == 200 and response.json()["items"], response.text

        return concurrently(fetch, total, concurrency)

    return one_round


def released_with_a_grayscale(platform) -> tuple[str, str]:
    """A workspace whose host app delivers one mini program released and its next version at 50 %;
    answers the app key's id and secret."""
    from tests.integration.client import Client
    from tests.integration.conftest import eventually
    from tests.integration.test_catalog import Team, join, make_package, new_miniprogram
    from tests.integration.test_delivery import host_app, new_version
    from tests.integration.test_launches import approved_launch, launch_path, new_app, released_launch

    client = Client(platform.gateway)
    admin, reviewer, developer = client.new_account("admin"), client.new_account("reviewer"), client.new_account("developer")
    ws = admin.post("/api/v1/workspaces", json={"name": "Bench", "kind": "tenant"}).json()["id"]
    eventually(lambda: any(m["workspace_id"] == ws for m in admin.get("/api/v1/me").json()["memberships"]))
    mp = new_miniprogram(admin, ws)["id"]
    join(admin, reviewer, ws, "reviewer", [mp])
    join(admin, developer, ws, "developer", [mp])
    eventually(lambda: developer.get(f"/api/v1/workspaces/{ws}/miniprograms/{mp}").status_code == 200)
    team = Team(ws, mp, admin, reviewer, developer, developer, developer)
    app = new_app(team)
    released_launch(team, new_version(team, "1.0.0", make_package()), app)
    grayscale = approved_launch(team, new_version(team, "1.1.0", make_package()), app)
    assert developer.post(launch_path(team, grayscale["id"], "publish"), json={"percentage": 50}).status_code == 200
    phones = host_app(team, app)
    eventually(lambda: phones.miniprograms("warm-up").json()["items"])
    return phones.key_id, phones.secret


def answers(url: str) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1).close()
        return True
    except OSError:
        print(f"{url} does not answer: the gateway keeps its rate limits in memory")
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="web processes per service")
    parser.add_argument(
        "--limit-storage", default="redis://127.0.0.1:6379", help="the gateway's rate-limit storage, when it answers ('' for memory)"
    )
    parser.add_argument("--wrk-seconds", type=int, default=10, help="length of each wrk run, when wrk is installed")
    args = arguments(parser, requests=200, concurrency=4, workers=1, limit_storage="", wrk_seconds=1)
    # The deployment's default of two web processes per service (the tests run one), whose
    # gateway processes share their rate limits through Redis, as the README says they must.
    limits = {"MPDP_RATE_LIMIT_PER_CLIENT": "1000000/minute", "MPDP_RATE_LIMIT_PER_TOKEN": "1000000/minute"}
    if args.limit_storage and answers(args.limit_storage):
        limits["MPDP_RATE_LIMIT_STORAGE_URI"] = args.limit_storage
    with running_platform(MPDP_WEB_WORKERS=str(args.workers), **limits) as platform:
        key_id, secret = released_with_a_grayscale(platform)
        targets = {"catalog directly": platform.url("catalog"), "through the gateway": platform.gateway}
        title = "signed GET /client/v1/miniprograms"
        found = compare_direct_and_gateway(title, targets, load(key_id, secret), args.requests, args.concurrency)
        if shutil.which("wrk"):
            path, query = "/client/v1/miniprograms", "user_id=user-wrk"
            headers = signed_headers(key_id, secret, path, query)
            print(f"{title} from wrk, {args.concurrency} connections, {args.wrk_seconds} s each, one user")
            rates = {}
            for (name, base), key in zip(targets.items(), ("direct", "gateway"), strict=True):
                _total, rates[name], p50, p99 = wrk(f"{base}{path}?{query}", headers, args.concurrency, args.wrk_seconds)
                print(f"  {name:22s} {rates[name]:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.1f} ms")
                found.update({f"wrk_{key}_req_per_s": rates[name], f"wrk_{key}_p50_ms": p50, f"wrk_{key}_p99_ms": p99})
            found["wrk_ratio"] = rates["through the gateway"] / rates["catalog directly"]
            print(f"  gateway/direct throughput ratio: {found['wrk_ratio']:.2f}")
            print(f"  machine load (1, 5, 15 min): {' '.join(f'{value:.1f}' for value in os.getloadavg())}")
        figures("delivery", requests=args.requests, concurrency=args.concurrency, **found)


if __name__ == "__main__":
    main()
