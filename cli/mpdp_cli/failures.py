"""How a command fails: one line on stderr, and an exit code that tells a pipeline what kind of
failure it was (a version that already exists is not an outage)."""

from __future__ import annotations

from enum import IntEnum

import requests


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    CONFLICT = 5
    INVALID = 6
    UNAVAILABLE = 7
    UNHEALTHY = 8
    NO_VERDICT = 9
    INTERRUPTED = 130


EXIT_CODES = """\
exit codes:
  0    done
  1    unexpected failure (the platform failed, or answered what the command did not expect)
  2    usage: bad arguments, or a file or folder that cannot be read
  3    not signed in, sign-in refused, session ended, or not allowed (401, 403)
  4    not found: no such workspace, mini program, version or launch (404)
  5    conflict: the version already exists, or the launch is not in a state for this (409)
  6    refused as invalid: a bad package, version number or value (400, 413, 415, 422)
  7    the platform cannot be reached, is unavailable or busy: try again later (429, 502-504)
  8    unhealthy: the launch's version fails its guard (mpdp launch health)
  9    no verdict yet: the launch's version has fewer sessions than its guard needs (mpdp launch health)
  130  interrupted
"""


class CliError(Exception):
    """A failure to report in one line, without a traceback, and to exit with `code`."""

    def __init__(self, message: str, code: ExitCode = ExitCode.UNEXPECTED):
        super().__init__(message)
        self.code = code


def exit_code_for(status: int) -> ExitCode:
    """The exit code of a command that the platform answered with `status`."""
    if status in (401, 403):
        return ExitCode.AUTH
    if status == 404:
        return ExitCode.NOT_FOUND
    if status in (409, 412):
        return ExitCode.CONFLICT
    if status in (408, 429, 502, 503, 504):
        return ExitCode.UNAVAILABLE
    if 400 <= status < 500:
        return ExitCode.INVALID
    return ExitCode.UNEXPECTED


def refused(response: requests.Response, what: str = "") -> CliError:
    """The failure of a request the platform did not answer as expected, with its problem's detail."""
    return CliError(f"{what}{problem_text(response)}", exit_code_for(response.status_code))


def problem_text(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):  # not a problem document: a proxy's page, say
        return f"HTTP {response.status_code}: {response.text[:200]}"
    text = f"{response.status_code} {body.get('title', '')}: {body.get('detail', '')}".strip()
    for field, messages in (body.get("errors") or {}).items():
        text += f"\n  {field}: {' '.join(messages) if isinstance(messages, list) else messages}"
    return text
