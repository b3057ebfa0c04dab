"""The release steps a CI pipeline needs: list mini programs and versions, create and submit a
launch, publish it once approved, and show its status and history. `--json` prints what the
API answered, for scripts; otherwise a short text for people."""

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
PUBLISHABLE = ("pilot", "ready", "grayscale")
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
    share = f" at {launch['percentage']}%" if launch.get("status") == "grayscale" else ""
    lines = [f"launch {launch['id']}: {launch['status']}{share} (version {launch.get('version')}, app {launch['app_id']})"]
    lines += [f"  {step['at']}  {step['status']:<13} by {step['by']}" for step in launch.get("history", [])]
    return lines


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
