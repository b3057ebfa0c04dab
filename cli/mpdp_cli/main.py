"""mpdp: the MPDP developer command line.

    mpdp login [--email E]                 sign in (password asked, or from MPDP_PASSWORD)
    mpdp logout
    mpdp upload PATH --workspace W --miniprogram M --version V [--notes N]
                                           upload a folder or a zip as a new version
    mpdp miniprograms -w W                 list the mini programs you see
    mpdp versions -w W -m M                list a mini program's versions
    mpdp launch create -w W -m M --version V --app APP [--submit]
                                           create a launch (and submit it for approval)
    mpdp launch submit|show|cancel -w W -m M LAUNCH
    mpdp launch publish -w W -m M LAUNCH --percentage P [--wait SECONDS]
                                           publish once approved: grayscale under 100, released at 100
    mpdp launch rollout -w W -m M LAUNCH --preset phased_7_days | --step 10:3600 ... [--min-crash-free-sessions 0.99]
                                           publish step by step; the guard halts it if its health fails
    mpdp launch pause|resume -w W -m M LAUNCH
    mpdp launch health -w W -m M LAUNCH [--wait SECONDS]
                                           the verdict on its health; exit 0 healthy, 8 failing, 9 not enough data
    mpdp launch list -w W -m M             (listings and launch commands take --json, for scripts)

Environment: MPDP_URL (default http://127.0.0.1:8080), MPDP_API_KEY (a workspace API key, for CI:
no login needed), MPDP_PASSWORD (for a login without a terminal).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

import requests

from . import credentials, release
from .failures import EXIT_CODES, CliError, ExitCode, refused
from .upload import MultipartBody, Progress, package_file

DEFAULT_URL = "http://127.0.0.1:8080"


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["User-Agent"] = "mpdp-cli/0.1"
    return session


def cmd_login(args: argparse.Namespace, session: requests.Session) -> int:
    # Without a terminal there is no one to ask: getpass would read stdin, warn and meet its end.
    asking = sys.stdin.isatty()
    if not args.email and not asking:
        raise CliError("no terminal to ask for the email: pass --email", ExitCode.USAGE)
    email = args.email or input("Email: ").strip()
    password = os.environ.get("MPDP_PASSWORD")
    if not password and not asking:
        raise CliError("no terminal to ask for the password: set MPDP_PASSWORD to sign in without one", ExitCode.AUTH)
    password = password or getpass.getpass("Password: ")
    credentials.login(session, args.url, email, password)
    print(f"signed in to {args.url} as {email}", file=sys.stderr)
    return 0


def cmd_logout(args: argparse.Namespace, session: requests.Session) -> int:
    signed_out = credentials.logout(session, args.url)
    print(f"signed out of {args.url}" if signed_out else f"not signed in to {args.url}", file=sys.stderr)
    return 0


def cmd_upload(args: argparse.Namespace, session: requests.Session) -> int:
    token = credentials.bearer(session, args.url)
    try:
        path, temporary = package_file(args.path)
    except FileNotFoundError:
        raise CliError(f"no such file or folder: {args.path}", ExitCode.USAGE) from None
    except OSError as error:
        raise CliError(f"cannot package {args.path}: {error}", ExitCode.USAGE) from None
    try:
        fields = {"version": args.version}
        if args.notes:
            fields["notes"] = args.notes
        progress = Progress() if not args.quiet else None
        body = MultipartBody(fields, "package", path, os.path.basename(path) if not temporary else "package.zip", progress)
        response = session.post(
            f"{args.url}/api/v1/workspaces/{args.workspace}/miniprograms/{args.miniprogram}/versions",
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": body.content_type},
            timeout=(10, 600),
        )
    finally:
        if temporary:
            os.unlink(path)
    if response.status_code != 201:
        raise refused(response, "upload refused: ")
    version = response.json()
    if args.sourcemaps:
        version = _send_sourcemaps(args, session, token, version)
    report = version.get("report") or {}
    for warning in report.get("warnings") or []:
        print(f"warning: {warning}", file=sys.stderr)
    if report.get("jsapis_not_granted"):
        names = ", ".join(report["jsapis_not_granted"])
        print(
            f"warning: JSAPIs not granted to this mini program: {names}; a launch's submit is refused until a feature grants them",
            file=sys.stderr,
        )
    print(json.dumps(version, indent=2))
    return 0


def _send_sourcemaps(args: argparse.Namespace, session: requests.Session, token: str, version: dict) -> dict:
    """POST the `*.js.map` files under `--sourcemaps DIR`, each named by its path in that folder
    (which is the path of the `.js` file it maps in the package); the version as it is then."""
    found = []
    for root, folders, files in os.walk(args.sourcemaps):
        folders.sort()
        found += [os.path.join(root, name) for name in sorted(files) if name.endswith(".js.map")]
    if not found:
        raise CliError(f"no *.js.map files under {args.sourcemaps}", ExitCode.USAGE)
    path = f"{args.url}/api/v1/workspaces/{args.workspace}/miniprograms/{args.miniprogram}/versions/{version['id']}"
    parts = []
    for file in found:
        with open(file, "rb") as stream:
            name = os.path.relpath(file, args.sourcemaps).replace(os.sep, "/")
            parts.append(("files", (name, stream.read(), "application/json")))
    added = session.post(f"{path}/sourcemaps", files=parts, headers={"Authorization": f"Bearer {token}"}, timeout=(10, 600))
    if added.status_code != 201:
        raise refused(added, "source maps refused: ")
    print(f"source maps: {', '.join(added.json()['sourcemaps'])}", file=sys.stderr)
    again = session.get(path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return again.json() if again.status_code == 200 else version


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="mpdp", description=__doc__, epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    root.add_argument("--url", default=os.environ.get("MPDP_URL", DEFAULT_URL), help="the platform (MPDP_URL)")
    commands = root.add_subparsers(dest="command", required=True)
    login = commands.add_parser("login", help="sign in and keep the session")
    login.add_argument("--email")
    login.set_defaults(run=cmd_login)
    commands.add_parser("logout", help="end the stored session").set_defaults(run=cmd_logout)
    upload = commands.add_parser("upload", help="upload a folder or zip as a new version")
    upload.add_argument("path", help="the mini program's folder (zipped on the fly) or a zip")
    upload.add_argument("--workspace", "-w", required=True)
    upload.add_argument("--miniprogram", "-m", required=True)
    upload.add_argument("--version", "-v", required=True, help="a semantic version, like 1.2.0")
    upload.add_argument("--notes", default="")
    upload.add_argument("--quiet", "-q", action="store_true", help="no progress display")
    upload.add_argument(
        "--sourcemaps",
        metavar="DIR",
        help="also send the *.js.map files under DIR, named by their paths in it (maps beside the bundle in a folder go with the package)",
    )
    upload.set_defaults(run=cmd_upload)
    release.add_commands(commands)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)  # exits with 2 (ExitCode.USAGE) on bad arguments
    args.url = args.url.rstrip("/")
    try:
        code = args.run(args, _session())
    except CliError as error:
        print(f"mpdp: {error}", file=sys.stderr)
        code = error.code
    except requests.RequestException as error:
        print(f"mpdp: cannot reach {args.url}: {error.__class__.__name__}", file=sys.stderr)
        code = ExitCode.UNAVAILABLE
    except EOFError:
        print("mpdp: the input ended before the answer", file=sys.stderr)
        code = ExitCode.USAGE
    except KeyboardInterrupt:
        code = ExitCode.INTERRUPTED
    sys.exit(int(code))
