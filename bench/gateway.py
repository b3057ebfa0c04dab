"""What the gateway costs: GET /api/v1/me through the gateway against the identity service
directly, the same load in the same run. Prints requests/s, p50 and p99 latency, and the ratio.

    .venv/bin/python bench/gateway.py [--requests 3000] [--concurrency 8]
"""

from __future__ import annotations

import argparse

from _platform import compare_direct_and_gateway, concurrently, running_platform


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with running_platform(MPDP_RATE_LIMIT_PER_CLIENT="1000000/minute", MPDP_RATE_LIMIT_PER_TOKEN="1000000/minute") as platform:
        from tests.integration.client import Client

        user = Client(platform.gateway).new_account("bench")

        def load(base: str, total: int, concurrency: int):
            def me(session, _worker, _number):
                response = session.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {user.token}"}, timeout=10)
                assert response.status_code == 200, response.text

            return concurrently(me, total, concurrency)

        targets = {"identity directly": platform.url("identity"), "through the gateway": platform.gateway}
        compare_direct_and_gateway("GET /api/v1/me", targets, load, args.requests, args.concurrency)


if __name__ == "__main__":
    main()
