"""The release steps a CI pipeline needs: list mini programs and versions, create and submit a
launch, publish it once approved or hand it to a rollout plan with a guard, gate on its health,
and show its status and history. `--json` prints what the API answered, for scripts; otherwise
a short text for people."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable
from typing import Any

import requests

from . import credentials
from .failures import CliError, ExitCode, refused

#: a launch in these statuses can be published
PUBLISHABLE = ("pilot", "ready", "grayscale", "halted")
#: and from these it never will be
DEAD_ENDS = ("rejected", "canceled", "archived", "rollback", "released", "offline")


class Api:
    def __init__(self, args: argparse.Namespace, session: requests.Session):
        self.url, self.session = args.url, session
        self.headers = {"Authorization": f"Bearer {credentials.bearer(session, args.url)}"}

    def call(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> dict:
        response = self.session.request(method, f"{self.url}/api/v1{path}", headers=self.headers, timeout=30, **kwargs)
        if response.status_code != expected:
            raise refused(response)
        return response.json()

    def every(self, path: str) -> list[dict]:
        items, cursor = [], None
        while True:
            page = self.call("GET", path, params={"limit": 200, **({"cursor": cursor} if cursor else {})})
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items


def _miniprogram_path(args: argparse.Namespace) -> str:
    return f"/workspaces/{args.workspace}/miniprograms/{args.miniprogram}"


def _print(args: argparse.Namespace, answer: dict | list[dict], lines: Iterable[str]) -> int:
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        for line in lines:
            print(line)
    return 0


def _launch_lines(launch: dict) -> list[str]:
    share = f" at {launch['percentage']}%" if launch.get("status") in ("grayscale", "halted") else ""
    lines = [f"launch {launch['id']}: {launch['status']}{share} (version {launch.get('version')}, app {launch['app_id']})"]
    for step in launch.get("history", []):
        reason = f": {step['reason']}" if step.get("reason") else ""
        lines.append(f"  {step['at']}  {step['status']:<13} by {step['by']}{reason}")
    if launch.get("rollout"):
        lines.append(_rollout_line(launch["rollout"]))
    return lines


def _rollout_line(rollout: dict) -> str:
    shares = ", ".join(f"{step['percentage']}%" for step in rollout["steps"])
    step = f"step {rollout['current_step'] + 1} of {len(rollout['steps'])} ({shares})"
    following = f", next step at {rollout['next_step_at']}" if rollout.get("next_step_at") else ""
    return f"  rollout {rollout['state']}: {step}{following}{_guard_text(rollout.get('guard'))}"


GUARD_FIELDS = (
    ("min_crash_free_sessions", "crash-free sessions at least {:.2%}"),
    ("min_crash_free_users", "crash-free users at least {:.2%}"),
    ("max_drop_from_baseline", "at most {:.2%} below the release"),
)


def _guard_text(guard: dict | None) -> str:
    if not guard:
        return ""
    floors = [text.format(guard[name]) for name, text in GUARD_FIELDS if guard.get(name) is not None]
    return f"; guard: {', '.join(floors)} once {guard['min_sessions']} sessions"


def cmd_miniprograms(args: argparse.Namespace, session: requests.Session) -> int:
    items = Api(args, session).every(f"/workspaces/{args.workspace}/miniprograms")
    return _print(args, items, [f"{item['id']}  {item['status']:<10} {item['name']}" for item in items])


def cmd_versions(args: argparse.Namespace, session: requests.Session) -> int:
    items = Api(args, session).every(f"{_miniprogram_path(args)}/versions")
    return _print(args, items, [f"{item['id']}  {item['version']:<14} {item['created_at']}  {item['sha256'][:12]}" for item in items])


def _version_id(api: Api, args: argparse.Namespace) -> str:
    """The id of `--version` (a version number or an id) among the mini program's versions."""
    for item in api.every(f"{_miniprogram_path(args)}/versions"):
        if args.version in (item["id"], item["version"]):
            return item["id"]
    raise CliError(f"mini program {args.miniprogram} has no version {args.version}", ExitCode.NOT_FOUND)


def cmd_launch_create(args: argparse.Namespace, session: requests.Session) -> int:
    api = Api(args, session)
    body = {"version_id": _version_id(api, args), "app_id": args.app}
    launch = api.call("POST", f"{_miniprogram_path(args)}/launches", 201, json=body)
    if args.submit:
        launch = api.call("POST", f"{_miniprogram_path(args)}/launches/{launch['id']}/submit")
    return _print(args, launch, _launch_lines(launch))


def _launch_action(args: argparse.Namespace, session: requests.Session, action: str, **kwargs: Any) -> int:
    launch = Api(args, session).call("POST", f"{_miniprogram_path(args)}/launches/{args.launch}/{action}", **kwargs)
    return _print(args, launch, _launch_lines(launch))


def cmd_launch_submit(args: argparse.Namespace, session: requests.Session) -> int:
    return _launch_action(args, session, "submit")


def cmd_launch_cancel(args: argparse.Namespace, session: requests.Session) -> int:
    return _launch_action(args, session, "cancel")


def cmd_launch_publish(args: argparse.Namespace, session: requests.Session) -> int:
    """With --wait, first wait (up to that many seconds) for the approval."""
    api = Api(args, session)
    path = f"{_miniprogram_path(args)}/launches/{args.launch}"
    deadline = time.monotonic() + args.wait
    while True:
        status = api.call("GET", path)["status"]
        if status in PUBLISHABLE or status in DEAD_ENDS or time.monotonic() >= deadline:
            break
        time.sleep(min(args.poll, max(0.0, deadline - time.monotonic())))
    if status not in PUBLISHABLE:
        raise CliError(
            f"launch {args.launch} is {status}; it can be published once approved (pilot or ready) or in grayscale", ExitCode.CONFLICT
        )
    return _launch_action(args, session, "publish", json={"percentage": args.percentage})


def _steps(values: list[str]) -> list[dict]:
    steps = []
    for value in values:
        share, _, hold = value.partition(":")
        try:
            steps.append({"percentage": int(share), "hold_seconds": int(hold)})
        except ValueError:
            raise CliError(f"--step takes PERCENTAGE:HOLD_SECONDS, like 10:3600, not {value!r}", ExitCode.USAGE) from None
    return steps


def _guard(args: argparse.Namespace) -> dict | None:
    guard = {name: getattr(args, name) for name in ("min_crash_free_sessions", "min_crash_free_users", "max_drop_from_baseline")}
    guard = {name: value for name, value in guard.items() if value is not None}
    if not guard:
        return None
    return guard | ({"min_sessions": args.min_sessions} if args.min_sessions is not None else {})


def cmd_launch_rollout(args: argparse.Namespace, session: requests.Session) -> int:
    """A plan of steps (or a preset) with a guard; its first step is published at once."""
    if bool(args.preset) == bool(args.step):
        raise CliError("give either --preset or --step (one or more)", ExitCode.USAGE)
    body: dict = {"preset": args.preset} if args.preset else {"steps": _steps(args.step)}
    guard = _guard(args)
    if guard is None and args.min_sessions is not None:
        raise CliError("--min-sessions goes with a floor: --min-crash-free-sessions, --min-crash-free-users or --max-drop", ExitCode.USAGE)
    if guard is not None:
        body["guard"] = guard
    launch = Api(args, session).call("PUT", f"{_miniprogram_path(args)}/launches/{args.launch}/rollout", json=body)
    return _print(args, launch, _launch_lines(launch))


def cmd_launch_pause(args: argparse.Namespace, session: requests.Session) -> int:
    return _launch_action(args, session, "pause")


def cmd_launch_resume(args: argparse.Namespace, session: requests.Session) -> int:
    return _launch_action(args, session, "resume")


def _figures_line(name: str, version: str | None, figures: dict | None) -> str:
    if figures is None:
        return f"  {name:<9} none released on this app"

    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.2%}"

    return (
        f"  {name:<9} {version}: {figures['sessions']} sessions, {share(figures['crash_free_sessions'])} crash-free; "
        f"{figures['users']} users, {share(figures['crash_free_users'])} crash-free; {figures['error_count']} errors"
    )


def cmd_launch_health(args: argparse.Namespace, session: requests.Session) -> int:
    """The verdict, with an exit code to gate on: 0 healthy, 8 failing, 9 no verdict yet (--wait waits for one)."""
    api = Api(args, session)
    path = f"{_miniprogram_path(args)}/launches/{args.launch}/health"
    params = {name: getattr(args, name) for name, _text in GUARD_FIELDS if getattr(args, name) is not None}
    if args.min_sessions is not None:
        params["min_sessions"] = args.min_sessions
    deadline = time.monotonic() + args.wait
    while True:
        health = api.call("GET", path, params=params)
        if health["verdict"] != "insufficient_data" or time.monotonic() >= deadline:
            break
        time.sleep(min(args.poll, max(0.0, deadline - time.monotonic())))
    reason = f": {health['reason']}" if health.get("reason") else ""
    lines = [
        f"launch {args.launch}: {health['verdict']}{reason}",
        _figures_line("version", health["versions"]["version"], health["version"]),
        _figures_line("released", health["versions"]["baseline"], health["baseline"]),
        f"  since {health['from']}{_guard_text(health['guard'])}",
    ]
    _print(args, health, lines)
    return {"healthy": ExitCode.OK, "failing": ExitCode.UNHEALTHY}.get(health["verdict"], ExitCode.NO_VERDICT)


def cmd_launch_show(args: argparse.Namespace, session: requests.Session) -> int:
    launch = Api(args, session).call("GET", f"{_miniprogram_path(args)}/launches/{args.launch}")
    return _print(args, launch, _launch_lines(launch))


def cmd_launch_list(args: argparse.Namespace, session: requests.Session) -> int:
    items = Api(args, session).every(f"{_miniprogram_path(args)}/launches")
    return _print(args, items, [_launch_lines(item)[0] for item in items])


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the release subcommands to the parser's subcommands."""

    def target(parser: argparse.ArgumentParser, miniprogram: bool = True) -> argparse.ArgumentParser:
        parser.add_argument("--workspace", "-w", required=True)
        if miniprogram:
            parser.add_argument("--miniprogram", "-m", required=True)
        parser.add_argument("--json", action="store_true", help="print the API's answer as JSON")
        return parser

    target(commands.add_parser("miniprograms", help="list the mini programs you see"), miniprogram=False).set_defaults(run=cmd_miniprograms)
    target(commands.add_parser("versions", help="list a mini program's versions")).set_defaults(run=cmd_versions)
    launch = commands.add_parser("launch", help="release a version to a host app").add_subparsers(dest="action", required=True)
    create = target(launch.add_parser("create", help="create a launch of a version on a host app"))
    create.add_argument("--version", "-v", required=True, help="the version number (1.2.0) or its id")
    create.add_argument("--app", "-a", required=True, help="the host app's id")
    create.add_argument("--submit", action="store_true", help="submit it for approval at once")
    create.set_defaults(run=cmd_launch_create)
    for name, run, text in (
        ("submit", cmd_launch_submit, "submit a launch for approval"),
        ("show", cmd_launch_show, "show a launch's status and history"),
        ("cancel", cmd_launch_cancel, "cancel a launch"),
    ):
        parser = target(launch.add_parser(name, help=text))
        parser.add_argument("launch", help="the launch's id")
        parser.set_defaults(run=run)
    publish = target(launch.add_parser("publish", help="publish an approved launch to a share of users"))
    publish.add_argument("launch", help="the launch's id")
    publish.add_argument("--percentage", "-p", type=int, required=True, choices=range(1, 101), metavar="1..100")
    publish.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait this long for the approval first")
    publish.add_argument("--poll", type=float, default=5, metavar="SECONDS", help=argparse.SUPPRESS)
    publish.set_defaults(run=cmd_launch_publish)
    target(launch.add_parser("list", help="list a mini program's launches")).set_defaults(run=cmd_launch_list)

    def guard_options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--min-crash-free-sessions", type=float, metavar="SHARE", help="the floor, 0 to 1 (0.99 is 99 %%)")
        parser.add_argument("--min-crash-free-users", type=float, metavar="SHARE")
        parser.add_argument("--max-drop", dest="max_drop_from_baseline", type=float, metavar="SHARE", help="below the released version")
        parser.add_argument("--min-sessions", type=int, metavar="N", help="no verdict before (the platform's default: 100)")

    rollout = target(launch.add_parser("rollout", help="publish an approved launch step by step, guarded by its health"))
    rollout.add_argument("launch", help="the launch's id")
    rollout.add_argument("--preset", choices=["phased_7_days"], help="1, 2, 5, 10, 20, 50, 100 %%, a day each")
    rollout.add_argument("--step", action="append", metavar="PERCENTAGE:HOLD_SECONDS", help="a step (repeat it, rising to 100)")
    guard_options(rollout)
    rollout.set_defaults(run=cmd_launch_rollout)
    for name, run, text in (
        ("pause", cmd_launch_pause, "pause a launch's rollout: it keeps its share"),
        ("resume", cmd_launch_resume, "resume a paused rollout: the rest of the hold, then the next step"),
    ):
        parser = target(launch.add_parser(name, help=text))
        parser.add_argument("launch", help="the launch's id")
        parser.set_defaults(run=run)
    health = target(launch.add_parser("health", help="a launch's health beside the release; the exit code is the verdict"))
    health.add_argument("launch", help="the launch's id")
    health.add_argument("--wait", type=float, default=0, metavar="SECONDS", help="wait this long for enough sessions to judge")
    health.add_argument("--poll", type=float, default=30, metavar="SECONDS", help=argparse.SUPPRESS)
    guard_options(health)
    health.set_defaults(run=cmd_launch_health)
