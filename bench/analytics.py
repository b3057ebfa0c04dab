"""Analytics over a month of data: 10 million events of one mini program spread over 30 days,
then the time the console waits for the overview, the page ranking and the retention cohorts.

The events are generated straight into storage, the way ingest writes them but without HTTP:
COPY into the day partitions of `raw_events` in transactions of 200,000 rows, then the
consumer's own folder (`rollups.fold_pending`) turns them into the daily rollups. Both steps are
timed. The reports are then timed through the telemetry app (HTTP handling, token, authorization
and the queries), on a database of their own.

    .venv/bin/python bench/analytics.py [--events 10000000] [--days 30] [--users 200000] [--rounds 20] [--short]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta

import jwt
from _platform import LOCAL_DATABASE, arguments, figures
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpdp_common.config import Settings
from mpdp_common.db import drop_database, make_engine
from mpdp_common.migrations import upgrade
from mpdp_common.testing import deliver
from mpdp_common.web import create_app
from mpdp_telemetry import raw_events
from mpdp_telemetry.events import events as telemetry_events
from mpdp_telemetry.rollups import fold_pending
from mpdp_telemetry.service import service

PAGES = [f"pages/p{n}" for n in range(20)]
VERSIONS = ["1.0.0", "1.1.0", "1.2.0"]
KINDS = ["page_view"] * 7 + ["app_launch", "session_end", "custom"]


def generate(engine, miniprogram_id: str, total: int, days: int, users: int, chunk: int = 200_000) -> int:
    """`total` events over the last `days` days: the user base grows each day, most users come back.
    Answers how many of them are page views."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    per_day = total // days
    received = datetime.now(UTC)
    rng = random.Random(7)
    written = page_views = 0
    for offset in range(days):
        day = today - timedelta(days=days - 1 - offset)
        known = int(users * (offset + 1) / days)
        version = VERSIONS[min(len(VERSIONS) - 1, offset * len(VERSIONS) // days)]
        remaining = per_day if offset < days - 1 else total - written
        while remaining:
            size = min(chunk, remaining)
            rows = []
            for n in range(size):
                user = rng.randrange(known)
                kind = KINDS[n % len(KINDS)]
                at = day + timedelta(seconds=rng.randrange(86_400))
                rows.append(
                    (
                        at.date(),
                        miniprogram_id,
                        f"{day:%Y%m%d}-{written + n}",
                        at,
                        received,
                        "app1",
                        kind,
                        version,
                        f"user{user}",
                        f"s{user}-{at.hour // 6}",
                        rng.choice(PAGES) if kind == "page_view" else None,
                        rng.randrange(200, 3000) if kind in ("app_launch", "session_end") else None,
                        "purchase" if kind == "custom" else None,
                        None,
                    )
                )
            with engine.begin() as connection:
                raw_events.ensure_partitions(connection, {row[0] for row in rows})
                with connection.connection.driver_connection.cursor() as cursor:
                    with cursor.copy(f"COPY raw_events ({', '.join(raw_events.COLUMNS)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
            written += size
            remaining -= size
            page_views += sum(1 for row in rows if row[6] == "page_view")
    return page_views


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = arguments(parser, events=20_000, days=7, users=2_000, rounds=3)
    url = f"{os.environ.get('MPDP_TEST_DATABASE_URL', LOCAL_DATABASE)}/mpdp_bench_analytics_{secrets.token_hex(4)}"
    upgrade("mpdp_telemetry", url)
    engine = make_engine(url)
    signing_key = Ed25519PrivateKey.generate()
    settings = Settings(
        service="telemetry", database_url=url, amqp_url="memory://", jwks_url="http://127.0.0.1:9/unused", log_level="WARNING"
    )
    try:
        ws, mp, admin = "bench-ws", "bench-mp", "bench-admin"
        deliver(
            telemetry_events,
            engine,
            settings,
            "workspace.workspace.created",
            {"workspace_id": ws, "name": "Bench", "kind": "tenant", "parent_id": None, "created_by": admin},
        )
        deliver(
            telemetry_events,
            engine,
            settings,
            "identity.member.added",
            {"workspace_id": ws, "account_id": admin, "role": "admin", "status": "active", "revision": 1},
        )
        deliver(
            telemetry_events,
            engine,
            settings,
            "catalog.miniprogram.created",
            {"miniprogram_id": mp, "telemetry_id": 1, "workspace_id": ws, "name": "Bench", "created_by": admin},
        )

        started = time.perf_counter()
        page_views = generate(engine, mp, args.events, args.days, args.users)
        copied = time.perf_counter() - started
        print(f"load average {os.getloadavg()[0]:.1f} at the start")
        print(
            f"generated {args.events:,} events over {args.days} days ({args.users:,} users) by COPY: {copied:.0f} s, "
            f"{args.events / copied:,.0f} rows/s"
        )
        started = time.perf_counter()
        folded = 0
        while count := fold_pending(engine):
            folded += count
        folding = time.perf_counter() - started
        print(f"folded {folded:,} raw events into the rollups: {folding:.0f} s, {folded / folding:,.0f} events/s")

        app = create_app(dataclasses.replace(service, key_source=lambda _settings: lambda _token: signing_key.public_key()), settings)
        now = int(time.time())
        token = jwt.encode(
            {"iss": "mpdp-identity", "aud": "mpdp", "sub": admin, "iat": now, "exp": now + 3600}, signing_key, algorithm="EdDSA"
        )
        http = app.test_client()
        end = datetime.now(UTC).date()
        start = end - timedelta(days=args.days - 1)
        query = f"miniprogram_id={mp}&from={start}&to={end}"
        print(f"reports for the {args.days} days, {args.rounds} rounds each (median, slowest), load average {os.getloadavg()[0]:.1f}:")
        reports = {}
        for name, key in (
            ("analytics/overview", "overview"),
            ("analytics/pages", "pages"),
            ("analytics/retention", "retention"),
            ("analytics/overview&version=1.1.0", "version_overview"),
        ):
            path, _, extra = name.partition("&")
            timings = []
            for _ in range(args.rounds):
                began = time.perf_counter()
                answer = http.get(
                    f"/api/v1/workspaces/{ws}/{path}?{query}{'&' + extra if extra else ''}", headers={"Authorization": f"Bearer {token}"}
                )
                timings.append((time.perf_counter() - began) * 1000)
                assert answer.status_code == 200, answer.get_data(as_text=True)
            print(f"  {name:36s} {statistics.median(timings):7.1f} ms  {max(timings):7.1f} ms")
            reports.update({f"{key}_median_ms": statistics.median(timings), f"{key}_slowest_ms": max(timings)})
        overview = http.get(f"/api/v1/workspaces/{ws}/analytics/overview?{query}", headers={"Authorization": f"Bearer {token}"}).get_json()
        counted = overview["totals"]["page_views"]
        print(f"check: {counted:,} page views counted of {page_views:,} generated, {overview['totals']['active_users']:,} users")
        figures(
            "analytics",
            events=args.events,
            copy_seconds=copied,
            copy_rows_per_s=args.events / copied,
            folded_events=folded,
            fold_seconds=folding,
            fold_events_per_s=folded / folding,
            **reports,
            page_views_generated=page_views,
            page_views_counted=counted,
            active_users=overview["totals"]["active_users"],
        )
        if counted != page_views:
            raise SystemExit(f"MISMATCH: {page_views - counted} generated page views not counted")
    finally:
        engine.dispose()
        drop_database(url)


if __name__ == "__main__":
    main()
