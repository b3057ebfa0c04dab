"""Rollouts on the real processes: a plan that publishes its steps by itself (the catalog's
rollout worker), survives the worker's death and a second worker, pauses and resumes; a guard
that halts a grayscale whose crashes come through ingest and Sentry, with delivery falling back
to the released version at once; a host too old for the newest launch keeping an older one."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

import requests

from mpdp_cli.failures import ExitCode

from .client import Client
from .conftest import eventually
from .test_catalog import Team, team  # noqa: F401 - team is a fixture
from .test_cli import mpdp
from .test_delivery import HostApp
from .test_events_and_faults import _children
from .test_launches import (
    HOPS,
    approval_for,
    approved_launch,
    create_launch,
    decide,
    launch_path,
    launch_status,
    new_app,
    new_version,
    released_launch,
)

#: users enough that every share of a grayscale has some of them
USERS = [f"user-{number}" for number in range(200)]


def host_app(team: Team, app_id: str) -> HostApp:
    """A key of the app, once the catalog has heard of it (a busy machine takes its time)."""
    created = team.admin.post(f"{team.base}/apps/{app_id}/keys", json={"label": "phones"})
    assert created.status_code == 201, created.text
    app = HostApp(team.admin.base, created.json()["key_id"], created.json()["secret"])
    app.key_id = created.json()["key_id"]
    eventually(lambda: app.miniprograms("warm-up").status_code == 200, timeout=HOPS)
    return app


def cli(platform, team: Team, home, *args: str) -> subprocess.CompletedProcess:
    """`mpdp` as the team's developer, signed in on first use."""
    if not home.exists():
        home.mkdir()
        signed_in = mpdp(platform, home, "login", "--email", team.developer.account["email"], MPDP_PASSWORD=team.developer.password)
        assert signed_in.returncode == 0, signed_in.stderr
    return mpdp(platform, home, *args)


def plan(team: Team, launch_id: str, steps: list[tuple[int, int]], guard: dict | None = None) -> dict:
    body: dict = {"steps": [{"percentage": share, "hold_seconds": hold} for share, hold in steps]}
    if guard is not None:
        body["guard"] = guard
    answer = team.developer.put(launch_path(team, launch_id, "rollout"), json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def launch_of(team: Team, launch_id: str) -> dict:
    return team.admin.get(launch_path(team, launch_id)).json()


def shares(launch: dict) -> list[tuple[str, int | None, str]]:
    """The grayscale and release steps of a launch's history: (status, percentage, by)."""
    return [(step["status"], step["percentage"], step["by"]) for step in launch["history"] if step["status"] in ("grayscale", "released")]


def versions_of(phones: HostApp, mp: str) -> set[str]:
    return {phones.versions(user).get(mp, "") for user in USERS}


def test_a_plan_publishes_each_step_when_its_hold_ends_and_releases(team):
    app = new_app(team)
    phones = host_app(team, app)
    launch = approved_launch(team, new_version(team, "1.0.0"), app)
    started = time.monotonic()
    planned = plan(team, launch["id"], [(10, 3), (50, 3), (100, 0)])
    assert (planned["status"], planned["percentage"], planned["rollout"]["state"]) == ("grayscale", 10, "running")
    # A share of the users: the others have no release to fall back to yet.
    assert versions_of(phones, team.mp) == {"1.0.0", ""}

    eventually(lambda: launch_of(team, launch["id"])["percentage"] == 50, timeout=HOPS)
    assert time.monotonic() - started >= 3
    done = eventually(lambda: [found for found in [launch_of(team, launch["id"])] if found["status"] == "released"], timeout=HOPS)[0]
    assert time.monotonic() - started >= 6
    assert done["rollout"]["state"] == "completed"
    assert shares(done) == [("grayscale", 10, team.developer.account["id"]), ("grayscale", 50, "rollout"), ("released", 100, "rollout")]
    assert versions_of(phones, team.mp) == {"1.0.0"}


def test_pause_keeps_the_share_and_resume_waits_the_rest_of_the_hold(team):
    app = new_app(team)
    launch = approved_launch(team, new_version(team, "1.0.0"), app)
    plan(team, launch["id"], [(20, 4), (100, 0)])
    paused = team.developer.post(launch_path(team, launch["id"], "pause"))
    assert paused.status_code == 200 and paused.json()["rollout"]["paused"] is True
    time.sleep(6)
    assert (launch_of(team, launch["id"])["status"], launch_of(team, launch["id"])["percentage"]) == ("grayscale", 20)
    resumed = team.developer.post(launch_path(team, launch["id"], "resume"))
    assert resumed.status_code == 200 and resumed.json()["rollout"]["state"] == "running"
    assert team.developer.post(launch_path(team, launch["id"], "resume")).status_code == 409
    eventually(lambda: launch_status(team, launch["id"]) == "released", timeout=HOPS)


def test_a_killed_rollout_worker_and_a_second_one_neither_skip_nor_repeat_a_step(team, platform):
    app = new_app(team)
    launch = approved_launch(team, new_version(team, "1.0.0"), app)
    plan(team, launch["id"], [(5, 2), (10, 2), (20, 2), (40, 2), (100, 0)])
    # the rollouts worker is a thread of the catalog's jobs process
    (jobs,) = _children(platform, "jobs", "catalog")
    os.kill(jobs, signal.SIGKILL)
    # Another worker beside the one the supervisor starts again: both find the same steps due.
    second = subprocess.Popen(
        [sys.executable, "-m", "mpdp_common.launcher", "work", "catalog", "rollouts"],
        env=platform.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        eventually(lambda: len(_children(platform, "jobs", "catalog")) == 1, timeout=HOPS)
        done = eventually(lambda: [found for found in [launch_of(team, launch["id"])] if found["status"] == "released"], timeout=60)[0]
    finally:
        second.terminate()
        second.wait(10)
    assert [share for _status, share, _by in shares(done)] == [5, 10, 20, 40, 100]


def test_the_command_line_plans_pauses_resumes_and_waits_for_a_verdict(team, platform, tmp_path):
    app = new_app(team)
    home = tmp_path / "home"
    unapproved = create_launch(team.developer, team, new_version(team, "0.9.0"), new_app(team))
    target = ("-w", team.ws, "-m", team.mp)
    early = cli(platform, team, home, "launch", "rollout", *target, unapproved["id"], "--preset", "phased_7_days")
    assert early.returncode == ExitCode.CONFLICT and "created" in early.stderr

    launch = approved_launch(team, new_version(team, "1.0.0"), app)
    guard = ("--min-crash-free-sessions", "0.99", "--min-sessions", "50")
    planned = cli(platform, team, home, "launch", "rollout", *target, launch["id"], "--preset", "phased_7_days", *guard)
    assert planned.returncode == 0, planned.stderr
    assert "grayscale at 1%" in planned.stdout and "rollout running: step 1 of 7 (1%, 2%, 5%, 10%, 20%, 50%, 100%)" in planned.stdout
    assert "guard: crash-free sessions at least 99.00% once 50 sessions" in planned.stdout
    paused = cli(platform, team, home, "launch", "pause", *target, launch["id"], "--json")
    assert paused.returncode == 0 and json.loads(paused.stdout)["rollout"]["state"] == "paused"
    assert cli(platform, team, home, "launch", "resume", *target, launch["id"]).returncode == 0
    waited = cli(platform, team, home, "launch", "health", *target, launch["id"], "--wait", "1", "--poll", "0.2")
    assert waited.returncode == ExitCode.NO_VERDICT == 9 and "insufficient_data" in waited.stdout, waited.stderr
    wrong = cli(platform, team, home, "launch", "rollout", *target, launch["id"], "--step", "10")
    assert wrong.returncode == ExitCode.USAGE and "PERCENTAGE:HOLD_SECONDS" in wrong.stderr
    falling = cli(platform, team, home, "launch", "rollout", *target, launch["id"], "--step", "50:60", "--step", "10:60", "--step", "100:0")
    assert falling.returncode == ExitCode.INVALID and "422" in falling.stderr


# -- the guard ---------------------------------------------------------------------------------------


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ingest_sessions(platform, team: Team, key_id: str, version: str, count: int, crashed: int) -> None:
    """`count` app launches of as many users through ingest, the first `crashed` of them with a js_error."""
    now, run = datetime.now(UTC), secrets.token_hex(3)
    events = []
    for number in range(count):
        session = {"timestamp": stamp(now), "miniprogram_id": team.mp, "version": version, "user_id": f"{run}-{number}"}
        session["session_id"] = f"{run}-s{number}"
        events.append({"event_id": f"{run}-l{number}", "type": "app_launch", "duration_ms": 300, **session})
        if number < crashed:
            events.append({"event_id": f"{run}-e{number}", "type": "js_error", **session})

    def sent():
        body = json.dumps({"sent_at": stamp(now), "events": events})
        answer = requests.post(
            f"{platform.gateway}/ingest/v1/events",
            data=body,
            headers={"X-MPDP-Key": key_id, "Content-Type": "application/json"},
            timeout=30,
        )
        # until telemetry has heard of the key and the mini program
        return answer.status_code == 202 and not answer.json()["rejected"]

    eventually(sent, timeout=HOPS, interval=0.5)


def sentry_sessions(platform, team: Team, key_id: str, release: str, count: int, unhandled: int) -> None:
    """`count` sessions of as many devices through Sentry's envelope endpoint, as the JavaScript SDK
    sends them (`unhandled` when an uncaught error ended them)."""
    dsn = eventually(
        lambda: [answer for answer in [team.admin.get(f"{team.base}/miniprograms/{team.mp}/dsn")] if answer.status_code == 200]
    )
    telemetry_id = dsn[0].json()["telemetry_id"]
    started, run = stamp(datetime.now(UTC)), secrets.token_hex(3)
    for first in range(0, count, 100):
        items = []
        for number in range(first, min(first + 100, count)):
            status = "unhandled" if number < unhandled else "exited"
            session = {
                "sid": f"{run}-{number}",
                "did": f"{run}-d{number}",
                "started": started,
                "status": status,
                "attrs": {"release": release},
            }
            items.append(json.dumps({"type": "session"}) + "\n" + json.dumps(session))
        answer = requests.post(
            f"{platform.gateway}/ingest/sentry/api/{telemetry_id}/envelope/",
            data="{}\n" + "\n".join(items) + "\n",
            headers={"X-Sentry-Auth": f"Sentry sentry_key={key_id}, sentry_version=7"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text


def health(user: Client, team: Team, launch_id: str) -> dict:
    answer = user.get(launch_path(team, launch_id, "health"))
    assert answer.status_code == 200, answer.text
    return answer.json()


GUARD = {"min_crash_free_sessions": 0.9, "min_sessions": 20}


def test_the_guard_halts_a_grayscale_that_crashes_and_delivery_falls_back_at_once(team, platform, tmp_path):
    app = new_app(team)
    phones = host_app(team, app)
    key_id = phones.key_id  # the same key reports crashes
    released_launch(team, new_version(team, "1.0.0"), app)
    launch = approved_launch(team, new_version(team, "2.0.0"), app)
    plan(team, launch["id"], [(30, 600), (100, 0)], GUARD)
    assert versions_of(phones, team.mp) == {"1.0.0", "2.0.0"}
    eventually(lambda: team.admin.get(launch_path(team, launch["id"], "health")).status_code == 200, timeout=HOPS)

    # The released version is healthy; the new one crashes in ingest's sessions and in Sentry's.
    ingest_sessions(platform, team, key_id, "1.0.0", 30, 0)
    ingest_sessions(platform, team, key_id, "2.0.0", 10, 3)
    sentry_sessions(platform, team, key_id, "shop@2.0.0", 10, 3)
    halted = eventually(lambda: [found for found in [launch_of(team, launch["id"])] if found["status"] == "halted"], timeout=60)[0]
    assert versions_of(phones, team.mp) == {"1.0.0"}
    step = halted["history"][-1]
    assert (step["status"], step["by"]) == ("halted", "guard")
    assert "crash-free sessions 70.00% are below the floor of 90.00%" in step["reason"]
    assert (step["figures"]["version"]["sessions"], step["figures"]["version"]["crashed_sessions"]) == (20, 6)
    assert step["figures"]["baseline"]["sessions"] == 30
    assert halted["rollout"]["state"] == "halted"

    judged = health(team.developer, team, launch["id"])
    assert (judged["verdict"], judged["versions"], judged["guard"]["min_crash_free_sessions"]) == (
        "failing",
        {"version": "2.0.0", "baseline": "1.0.0"},
        0.9,
    )
    # A pipeline gates on the verdict.
    gate = cli(platform, team, tmp_path / "home", "launch", "health", "-w", team.ws, "-m", team.mp, launch["id"])
    assert gate.returncode == ExitCode.UNHEALTHY == 8, gate.stderr
    assert "failing: crash-free sessions 70.00% are below" in gate.stdout and "released  1.0.0: 30 sessions" in gate.stdout

    # Halted, it is still the launch in progress on this app; a person may cancel it.
    other = create_launch(team.developer, team, new_version(team, "2.0.1"), app)
    assert team.developer.post(launch_path(team, other["id"], "submit")).status_code == 409
    assert team.developer.post(launch_path(team, launch["id"], "cancel")).json()["status"] == "canceled"
    assert team.developer.post(launch_path(team, other["id"], "submit")).status_code == 200


def test_a_healthy_grayscale_is_not_halted(team, platform, tmp_path):
    app = new_app(team)
    key_id = host_app(team, app).key_id
    released_launch(team, new_version(team, "1.0.0"), app)
    launch = approved_launch(team, new_version(team, "2.0.0"), app)
    plan(team, launch["id"], [(30, 8), (100, 0)], GUARD | {"max_drop_from_baseline": 0.05})
    ingest_sessions(platform, team, key_id, "1.0.0", 30, 1)
    ingest_sessions(platform, team, key_id, "2.0.0", 25, 1)
    sentry_sessions(platform, team, key_id, "2.0.0", 10, 0)
    eventually(lambda: health(team.admin, team, launch["id"])["version"]["sessions"] == 35, timeout=60)
    assert health(team.admin, team, launch["id"])["verdict"] == "healthy"
    gate = cli(platform, team, tmp_path / "home", "launch", "health", "-w", team.ws, "-m", team.mp, launch["id"], "--json")
    assert gate.returncode == ExitCode.OK, gate.stderr
    assert json.loads(gate.stdout)["verdict"] == "healthy"
    done = eventually(lambda: [found for found in [launch_of(team, launch["id"])] if found["status"] != "grayscale"], timeout=HOPS)[0]
    assert done["status"] == "released" and "halted" not in [step["status"] for step in done["history"]]


# -- host versions -----------------------------------------------------------------------------------


def test_a_host_too_old_for_the_newest_release_keeps_the_newest_it_can_run(team):
    app = new_app(team)
    phones = host_app(team, app)
    released_launch(team, new_version(team, "1.0.0"), app)
    body = {"version_id": new_version(team, "2.0.0"), "app_id": app, "min_host_version": "8.0.0"}
    created = team.developer.post(f"{team.base}/miniprograms/{team.mp}/launches", json=body)
    assert created.status_code == 201, created.text
    newer = created.json()
    assert newer["min_host_version"] == "8.0.0"
    assert team.developer.post(launch_path(team, newer["id"], "submit")).status_code == 200
    approval = approval_for(team.reviewer, team.ws, newer["id"])
    assert decide(team.reviewer, team.ws, approval["id"], "approve").status_code == 200
    eventually(lambda: launch_status(team, newer["id"]) == "ready", timeout=HOPS)
    assert team.developer.post(launch_path(team, newer["id"], "publish"), json={"percentage": 100}).status_code == 200

    def delivered(host_version: str | None) -> list[str]:
        query = {"user_id": "ada"} | ({"host_version": host_version} if host_version else {})
        answer = phones.get("/client/v1/miniprograms", query)
        assert answer.status_code == 200, answer.text
        return [item["version"] for item in answer.json()["items"]]

    assert delivered(None) == delivered("8.0.0") == delivered("9.1.0") == ["2.0.0"]
    assert delivered("7.9.3") == ["1.0.0"]
    old = phones.get("/client/v1/miniprograms", {"user_id": "ada", "host_version": "7.9.3"}).json()["items"][0]
    assert phones.get(old["package_url"]).status_code == 200
    assert phones.get("/client/v1/miniprograms", {"user_id": "ada", "host_version": "seven"}).status_code == 422
