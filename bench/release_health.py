"""Release health over a month: a million sessions a day for 30 days, 2 % of them crashed, half
reported through Sentry's protocol and half through ingest, on two host apps and two versions;
then the time the console waits for `quality/summary` over the month and for a guarded launch's
health beside the released version, and the guard worker's check of it.

The sessions are generated straight into storage, the way ingest and the Sentry endpoint write
them but without HTTP: COPY into the day partitions of `raw_events` (a Sentry session as its
final update, type `session`; an ingest session as its `app_launch` and, when it crashed, a
`js_error`), in transactions of 200,000 rows, then the folder (`rollups.fold_pending`) turns them
into the daily rollups. Both steps are timed. The reports are then timed through the telemetry
app (HTTP handling, token, authorization and the queries), on a database of their own, and must
count every session and crash generated.

    .venv/bin/python bench/release_health.py [--days 30] [--sessions 1000000] [--users 500000] [--crash-rate 0.02] [--rounds 20] [--short]
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
from sqlalchemy.orm import sessionmaker

from mpdp_common.config import Settings
from mpdp_common.db import drop_database, make_engine
from mpdp_common.migrations import upgrade
from mpdp_common.testing import deliver
from mpdp_common.web import create_app
from mpdp_telemetry import guard, raw_events
from mpdp_telemetry.events import events as telemetry_events
from mpdp_telemetry.rollups import fold_pending
from mpdp_telemetry.service import service

#: the released version and the one in grayscale, and the share of sessions each has
VERSIONS = (("1.0.0", 0.7), ("1.1.0", 0.3))
#: the host apps, and the share of sessions each sends
APPS = (("app1", 0.9), ("app2", 0.1))


def generate(engine, miniprogram_id: str, days: int, per_day: int, users: int, crash_rate: float, chunk: int = 200_000) -> dict:
    """`per_day` sessions a day for the last `days` days, every other one through Sentry. Answers
    how many sessions and crashed sessions there are, overall and of the guarded version on app1."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    received = datetime.now(UTC)
    rng = random.Random(11)
    counted = {"sessions": 0, "crashed": 0, "guarded_sessions": 0, "guarded_crashed": 0, "rows": 0}
    rows: list[tuple] = []

    def flush() -> None:
        with engine.begin() as connection:
            raw_events.ensure_partitions(connection, {row[0] for row in rows})
            with connection.connection.driver_connection.cursor() as cursor:
                with cursor.copy(f"COPY raw_events ({', '.join(raw_events.COLUMNS)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        counted["rows"] += len(rows)
        rows.clear()

    for offset in range(days):
        day = today - timedelta(days=days - 1 - offset)
        for number in range(per_day):
            at = day + timedelta(seconds=rng.randrange(86_400))
            version = "1.0.0" if rng.random() < VERSIONS[0][1] else "1.1.0"
            app = "app1" if rng.random() < APPS[0][1] else "app2"
            user = f"user{rng.randrange(users)}"
            crashed = rng.random() < crash_rate
            session = f"{day:%Y%m%d}-{number}"
            if number % 2:
                status = "crashed" if crashed else "exited"
                rows.append(
                    (
                        at.date(),
                        miniprogram_id,
                        f"s{session}",
                        at,
                        received,
                        app,
                        "session",
                        version,
                        user,
                        session,
                        None,
                        None,
                        status,
                        None,
                    )
                )
            else:
                duration = int(rng.lognormvariate(6.2, 0.5))
                rows.append(
                    (
                        at.date(),
                        miniprogram_id,
                        f"l{session}",
                        at,
                        received,
                        app,
                        "app_launch",
                        version,
                        user,
                        session,
                        None,
                        duration,
                        None,
                        None,
                    )
                )
                if crashed:
                    rows.append(
                        (
                            at.date(),
                            miniprogram_id,
                            f"e{session}",
                            at,
                            received,
                            app,
                            "js_error",
                            version,
                            user,
                            session,
                            None,
                            None,
                            None,
                            None,
                        )
                    )
            counted["sessions"] += 1
            counted["crashed"] += crashed
            if (version, app) == ("1.1.0", "app1"):
                counted["guarded_sessions"] += 1
                counted["guarded_crashed"] += crashed
            if len(rows) >= chunk:
                flush()
    if rows:
        flush()
    return counted


def launch_state(launch_id: str, miniprogram_id: str, version: str, status: str, rollout: dict | None) -> dict:
    return {
        "launch_id": launch_id,
        "miniprogram_id": miniprogram_id,
        "workspace_id": "bench-ws",
        "app_id": "app1",
        "version_id": f"v-{version}",
        "version": version,
        "status": status,
        "previous_status": None,
        "percentage": 30 if status == "grayscale" else 100,
        "changed_by": "bench-admin",
        "revision": 1,
        "rollout": rollout,
        "reason": None,
        "figures": None,
    }


def timed(http, path: str, token: str, rounds: int) -> tuple[list[float], dict]:
    timings, answer = [], None
    for _ in range(rounds):
        began = time.perf_counter()
        answer = http.get(path, headers={"Authorization": f"Bearer {token}"})
        timings.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer is not None
    return timings, answer.get_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--sessions", type=int, default=1_000_000, help="sessions a day")
    parser.add_argument("--users", type=int, default=500_000)
    parser.add_argument("--crash-rate", type=float, default=0.02)
    parser.add_argument("--rounds", type=int, default=20)
    args = arguments(parser, days=3, sessions=4_000, users=2_000, rounds=3)
    url = f"{os.environ.get('MPDP_TEST_DATABASE_URL', LOCAL_DATABASE)}/mpdp_bench_health_{secrets.token_hex(4)}"
    upgrade("mpdp_telemetry", url)
    engine = make_engine(url)
    signing_key = Ed25519PrivateKey.generate()
    settings = Settings(
        service="telemetry", database_url=url, amqp_url="memory://", jwks_url="http://127.0.0.1:9/unused", log_level="WARNING"
    )
    try:
        ws, mp, admin = "bench-ws", "bench-mp", "bench-admin"
        for event_type, payload in (
            (
                "workspace.workspace.created",
                {"workspace_id": ws, "name": "Bench", "kind": "tenant", "parent_id": None, "created_by": admin},
            ),
            ("identity.member.added", {"workspace_id": ws, "account_id": admin, "role": "admin", "status": "active", "revision": 1}),
            (
                "catalog.miniprogram.created",
                {"miniprogram_id": mp, "telemetry_id": 1, "workspace_id": ws, "name": "Bench", "created_by": admin},
            ),
        ):
            deliver(telemetry_events, engine, settings, event_type, payload)
        began = (datetime.now(UTC) - timedelta(days=args.days - 1)).isoformat()
        rollout = {
            "state": "running",
            "current_step": 3,
            "step_count": 7,
            "started_at": began,
            "next_step_at": (datetime.now(UTC) + timedelta(hours=12)).isoformat(),
            "guard": {"min_crash_free_sessions": 0.95, "min_crash_free_users": None, "min_sessions": 100, "max_drop_from_baseline": 0.01},
        }
        deliver(
            telemetry_events, engine, settings, "catalog.launch.status_changed", launch_state("released", mp, "1.0.0", "released", None)
        )
        deliver(
            telemetry_events, engine, settings, "catalog.launch.status_changed", launch_state("guarded", mp, "1.1.0", "grayscale", rollout)
        )

        started = time.perf_counter()
        generated = generate(engine, mp, args.days, args.sessions, args.users, args.crash_rate)
        copied = time.perf_counter() - started
        print(f"load average {os.getloadavg()[0]:.1f} at the start")
        print(
            f"generated {generated['sessions']:,} sessions over {args.days} days ({generated['crashed']:,} crashed, "
            f"{args.users:,} users) as {generated['rows']:,} raw rows by COPY: {copied:.0f} s, {generated['rows'] / copied:,.0f} rows/s"
        )
        started = time.perf_counter()
        folded = 0
        while count := fold_pending(engine):
            folded += count
        folding = time.perf_counter() - started
        print(f"folded {folded:,} raw rows into the rollups: {folding:.0f} s, {folded / folding:,.0f} rows/s")

        app = create_app(dataclasses.replace(service, key_source=lambda _settings: lambda _token: signing_key.public_key()), settings)
        now = int(time.time())
        token = jwt.encode(
            {"iss": "mpdp-identity", "aud": "mpdp", "sub": admin, "iat": now, "exp": now + 3600}, signing_key, algorithm="EdDSA"
        )
        http = app.test_client()
        end = datetime.now(UTC).date()
        start = end - timedelta(days=args.days - 1)
        print(f"{args.rounds} rounds each (median, slowest), load average {os.getloadavg()[0]:.1f}:")
        summary_times, summary = timed(
            http, f"/api/v1/workspaces/{ws}/quality/summary?miniprogram_id={mp}&from={start}&to={end}", token, args.rounds
        )
        health_times, health = timed(http, f"/api/v1/workspaces/{ws}/miniprograms/{mp}/launches/guarded/health", token, args.rounds)
        check_times = []
        sessions = sessionmaker(engine, expire_on_commit=False)
        for _ in range(args.rounds):
            with engine.begin() as connection:
                connection.exec_driver_sql("UPDATE launches SET next_check_at = now() WHERE id = 'guarded'")
            began_check = time.perf_counter()
            assert guard.check_due(sessions, timedelta(minutes=1)) == 1
            check_times.append((time.perf_counter() - began_check) * 1000)
        for name, timings in (
            (f"quality/summary, {args.days} days", summary_times),
            ("launch health beside the release", health_times),
            ("guard check", check_times),
        ):
            print(f"  {name:36s} {statistics.median(timings):7.1f} ms  {max(timings):7.1f} ms")
        print(
            f"check: {summary['sessions']:,} sessions and {summary['crashed_sessions']:,} crashed counted of "
            f"{generated['sessions']:,} and {generated['crashed']:,}; {summary['users']:,} users, crash-free "
            f"{summary['crash_free_sessions']:.2%} of sessions, {summary['crash_free_users']:.2%} of users; the guarded version "
            f"{health['version']['sessions']:,} sessions, verdict {health['verdict']}"
        )
        figures(
            "release_health",
            sessions=generated["sessions"],
            raw_rows=generated["rows"],
            copy_seconds=copied,
            copy_rows_per_s=generated["rows"] / copied,
            folded_rows=folded,
            fold_seconds=folding,
            fold_rows_per_s=folded / folding,
            summary_median_ms=statistics.median(summary_times),
            summary_slowest_ms=max(summary_times),
            health_median_ms=statistics.median(health_times),
            health_slowest_ms=max(health_times),
            guard_check_median_ms=statistics.median(check_times),
            guard_check_slowest_ms=max(check_times),
            sessions_counted=summary["sessions"],
            crashed_generated=generated["crashed"],
            crashed_counted=summary["crashed_sessions"],
            users_counted=summary["users"],
            guarded_sessions_generated=generated["guarded_sessions"],
            guarded_sessions_counted=health["version"]["sessions"],
        )
        wrong = [
            (name, expected, found)
            for name, expected, found in (
                ("sessions", generated["sessions"], summary["sessions"]),
                ("crashed sessions", generated["crashed"], summary["crashed_sessions"]),
                ("guarded sessions", generated["guarded_sessions"], health["version"]["sessions"]),
                ("guarded crashes", generated["guarded_crashed"], health["version"]["crashed_sessions"]),
            )
            if expected != found
        ]
        if wrong:
            raise SystemExit(f"MISMATCH: {wrong}")
    finally:
        engine.dispose()
        drop_database(url)


if __name__ == "__main__":
    main()
