"""Analytics over a month of data: 10 million events of one mini program spread over 30 days,
then the time the console waits for each report: the overview, the page ranking, the retention
cohorts, a version's overview, tracked events, launch times and release health.

The events are generated straight into storage, the way ingest writes them but without HTTP, into
each store of analytics (`--store`, by default both, side by side, with the same events):

- database: COPY into the day partitions of `raw_events` in transactions of 200,000 rows, then
  the consumer's own folder (`rollups.fold_pending`) turns them into the daily rollups;
- clickhouse: inserts of 200,000 rows into ClickHouse's `raw_events`, here chDB (ClickHouse's
  engine in this process, on disk in a temporary directory); its reports are timed as loaded
  and again once every part has merged.

Loading is timed (generating the rows is not). The reports are timed through the telemetry app
(HTTP handling, token, authorization and the queries), on a database of their own; with both
stores, every report must give the same figures on each.

    .venv/bin/python bench/analytics.py [--events 10000000] [--days 30] [--users 200000] [--rounds 20]
        [--store database|clickhouse|both] [--short]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import jwt
from _platform import LOCAL_DATABASE, arguments, figures
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mpdp_common.config import Settings
from mpdp_common.db import drop_database, make_engine
from mpdp_common.migrations import upgrade
from mpdp_common.testing import deliver
from mpdp_common.web import create_app
from mpdp_telemetry import raw_events, store
from mpdp_telemetry.events import events as telemetry_events
from mpdp_telemetry.rollups import fold_pending
from mpdp_telemetry.service import service

PAGES = [f"pages/p{n}" for n in range(20)]
VERSIONS = ["1.0.0", "1.1.0", "1.2.0"]
KINDS = ["page_view"] * 7 + ["app_launch", "session_end", "custom"]
STORES = ["database", "clickhouse", "both"]


def batches(miniprogram_id: str, total: int, days: int, users: int, chunk: int = 200_000) -> Iterator[list[raw_events.RawEvent]]:
    """`total` events over the last `days` days, `chunk` at a time: the user base grows each day,
    most users come back. The same seed gives each store the same events."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    per_day = total // days
    received = datetime.now(UTC)
    rng = random.Random(7)
    written = 0
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
                    raw_events.RawEvent(
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
            written += size
            remaining -= size
            yield rows


def copy_into_database(engine, rows: list[raw_events.RawEvent]) -> None:
    """COPY into the day partitions of `raw_events`, one transaction a batch."""
    with engine.begin() as connection:
        raw_events.ensure_partitions(connection, {row.day for row in rows})
        with connection.connection.driver_connection.cursor() as cursor:
            with cursor.copy(f"COPY raw_events ({', '.join(raw_events.COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)


def load(write, args: argparse.Namespace, miniprogram_id: str) -> tuple[float, int]:
    """Seconds to write every event with `write(rows)` (generating them not counted), and the page views among them."""
    spent, page_views = 0.0, 0
    for rows in batches(miniprogram_id, args.events, args.days, args.users):
        page_views += sum(1 for row in rows if row.type == "page_view")
        began = time.perf_counter()
        write(rows)
        spent += time.perf_counter() - began
    return spent, page_views


REPORTS = (
    ("analytics/overview", "overview"),
    ("analytics/pages", "pages"),
    ("analytics/retention", "retention"),
    ("analytics/overview&version=1.1.0", "version_overview"),
    ("analytics/events", "events"),
    ("quality/startup", "startup"),
    ("quality/summary", "health"),
)


def time_reports(app, token: str, ws: str, mp: str, args: argparse.Namespace) -> tuple[dict[str, float], dict]:
    """Each report's median and slowest time through the telemetry app, and the overview's answer."""
    http = app.test_client()
    end = datetime.now(UTC).date()
    start = end - timedelta(days=args.days - 1)
    query = f"miniprogram_id={mp}&from={start}&to={end}"
    headers = {"Authorization": f"Bearer {token}"}
    reports = {}
    for name, key in REPORTS:
        path, _, extra = name.partition("&")
        timings = []
        for _ in range(args.rounds):
            began = time.perf_counter()
            answer = http.get(f"/api/v1/workspaces/{ws}/{path}?{query}{'&' + extra if extra else ''}", headers=headers)
            timings.append((time.perf_counter() - began) * 1000)
            assert answer.status_code == 200, answer.get_data(as_text=True)
        reports.update({f"{key}_median_ms": statistics.median(timings), f"{key}_slowest_ms": max(timings)})
    answers = {name: http.get(f"/api/v1/workspaces/{ws}/{name}?{query}", headers=headers).get_json() for name, _key in REPORTS}
    return reports, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--store", choices=STORES, default="both", help="where the events go (default: both, side by side)")
    args = arguments(parser, events=20_000, days=7, users=2_000, rounds=3)
    url = f"{os.environ.get('MPDP_TEST_DATABASE_URL', LOCAL_DATABASE)}/mpdp_bench_analytics_{secrets.token_hex(4)}"
    upgrade("mpdp_telemetry", url)
    engine = make_engine(url)
    signing_key = Ed25519PrivateKey.generate()
    settings = Settings(
        service="telemetry", database_url=url, amqp_url="memory://", jwks_url="http://127.0.0.1:9/unused", log_level="WARNING"
    )
    directory = tempfile.mkdtemp(prefix="mpdp-bench-chdb-")
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
        keyed = dataclasses.replace(service, key_source=lambda _settings: lambda _token: signing_key.public_key())
        now = int(time.time())
        token = jwt.encode(
            {"iss": "mpdp-identity", "aud": "mpdp", "sub": admin, "iat": now, "exp": now + 3600}, signing_key, algorithm="EdDSA"
        )
        print(f"{args.events:,} events over {args.days} days ({args.users:,} users), load average {os.getloadavg()[0]:.1f}")
        found: dict[str, dict[str, float]] = {}
        answers: dict[str, dict] = {}
        page_views = 0
        if args.store in ("database", "both"):
            copied, page_views = load(lambda rows: copy_into_database(engine, rows), args, mp)
            print(f"database: COPY {copied:.0f} s, {args.events / copied:,.0f} rows/s")
            started = time.perf_counter()
            folded = 0
            while count := fold_pending(engine):
                folded += count
            folding = time.perf_counter() - started
            print(f"database: folded {folded:,} raw events into the rollups: {folding:.0f} s, {folded / folding:,.0f} events/s")
            reports, answers["database"] = time_reports(create_app(keyed, settings), token, ws, mp, args)
            found["database"] = {
                "copy_seconds": copied,
                "copy_rows_per_s": args.events / copied,
                "folded_events": folded,
                "fold_seconds": folding,
                "fold_events_per_s": folded / folding,
                **reports,
            }
        if args.store in ("clickhouse", "both"):
            on_chdb = dataclasses.replace(settings, telemetry_store=f"chdb://{directory}")
            clickhouse = store.open_store(on_chdb)
            assert clickhouse is not None
            inserted, page_views = load(clickhouse.write, args, mp)
            print(f"clickhouse (chDB): insert {inserted:.0f} s, {args.events / inserted:,.0f} rows/s")
            app = create_app(keyed, on_chdb)
            reports, answers["clickhouse"] = time_reports(app, token, ws, mp, args)
            # The same reports once every part has merged, as the server's background merges leave them.
            started = time.perf_counter()
            clickhouse.optimize()
            merging = time.perf_counter() - started
            merged, _answers = time_reports(app, token, ws, mp, argparse.Namespace(**(vars(args) | {"rounds": max(1, args.rounds // 2)})))
            found["clickhouse"] = {
                "insert_seconds": inserted,
                "insert_rows_per_s": args.events / inserted,
                "merge_seconds": merging,
                **reports,
                **{f"merged_{name}": value for name, value in merged.items() if name.endswith("_median_ms")},
            }
        print(f"reports for the {args.days} days, {args.rounds} rounds each (median / slowest), load average {os.getloadavg()[0]:.1f}:")
        print(f"  {'':36s} " + "".join(f"{name:>22s}" for name in found) + ("   clickhouse, merged" if "clickhouse" in found else ""))
        for name, key in REPORTS:
            cells = "".join(
                "{:>22s}".format(f"{part[key + '_median_ms']:.1f} / {part[key + '_slowest_ms']:.1f} ms") for part in found.values()
            )
            merged_cell = f"{found['clickhouse'][f'merged_{key}_median_ms']:17.1f} ms" if "clickhouse" in found else ""
            print(f"  {name:36s} {cells}{merged_cell}")
        checks = {}
        for name, answer in answers.items():
            overview = answer["analytics/overview"]
            checks[name] = (overview["totals"]["page_views"], overview["totals"]["active_users"])
            print(f"check ({name}): {checks[name][0]:,} page views counted of {page_views:,} generated, {checks[name][1]:,} users")
        same = len(answers) < 2 or answers["database"] == answers["clickhouse"]
        if len(answers) == 2:
            print(f"both stores give the same figures in every report: {'yes' if same else 'NO'}")
        values = {
            f"{store_}_{name}" if store_ != "database" else name: value for store_, part in found.items() for name, value in part.items()
        }
        first = next(iter(checks.values()))
        figures(
            "analytics", events=args.events, **values, page_views_generated=page_views, page_views_counted=first[0], active_users=first[1]
        )
        if any(counted != page_views for counted, _users in checks.values()):
            raise SystemExit(f"MISMATCH: generated {page_views} page views, counted {checks}")
        if not same:
            differing = [name for name, _key in REPORTS if answers["database"][name] != answers["clickhouse"][name]]
            raise SystemExit(f"MISMATCH: the stores' reports differ: {', '.join(differing)}")
    finally:
        engine.dispose()
        drop_database(url)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
