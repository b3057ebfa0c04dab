"""What every service's OpenAPI document says by convention, so that no view has to: each
operation's `operationId`, its security requirement, and the problem answers its kind of
operation gives. A view says only what is its own (`@problems(409)`, a docstring whose first line
is its summary, `@blueprint.doc(...)` where the convention names it badly)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from apispec import BasePlugin
from flask import Flask
from marshmallow import fields

from .appkeys import KEY_HEADER

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token (`POST /api/v1/auth/token`), or a workspace API key.",
    },
    "appKey": {
        "type": "apiKey",
        "in": "header",
        "name": KEY_HEADER,
        "description": "A host app's key id. Ingest takes it alone (its keys are public and can only write); delivery "
        "also signs the request with the key's secret (`X-MPDP-Timestamp`, `X-MPDP-Signature`).",
    },
    "sentryKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Sentry-Auth",
        "description": "Sentry's `Sentry sentry_key=<app key id>, ...` (or the same in `Authorization`), as Sentry SDKs send it.",
    },
    "sentryKeyQuery": {
        "type": "apiKey",
        "in": "query",
        "name": "sentry_key",
        "description": "The app key id, as some Sentry SDKs send it.",
    },
}
#: an operation's security requirement: any one of these, each naming schemes all needed
Security = list[dict[str, list[str]]]
BEARER: Security = [{"bearerAuth": []}]
APP_KEY: Security = [{"appKey": []}]
SENTRY_KEY: Security = [{"sentryKey": []}, {"sentryKeyQuery": []}]

#: a view's HTTP verb, said as what it does
VERBS = {"patch": "update", "put": "replace"}


def operation_id(endpoint: str) -> str:
    """`<resource>_<verb>` from a view's endpoint, `<blueprint>.<function>`: the function's name
    without the blueprint's own noun, plural or singular (`launches.get_launch` is `launches_get`,
    `launches.publish` is `launches_publish`, `miniprograms.put_testers` is `miniprograms_replace_testers`)."""
    resource, _, function = endpoint.rpartition(".")
    verb = function
    for noun in (resource, resource[:-1], resource[:-2]):  # launches, launche, launch
        verb = re.sub(rf"(^|_){noun}(?=_|$)", "", verb)
    first, _, rest = (verb.strip("_") or function).partition("_")
    return "_".join([resource, VERBS.get(first, first), *([rest] if rest else [])])


def documents(view: Callable, *, parameters: Iterable[dict] = (), problems: Iterable[int] = ()) -> Callable:
    """Note on a view what its operation adds to the conventions: parameters (a header that a
    decorator reads) and problem answers. Decorators above it carry the note on (functools.wraps)."""
    view._mpdp_parameters = [*getattr(view, "_mpdp_parameters", []), *parameters]  # type: ignore[attr-defined]
    view._mpdp_problems = {*getattr(view, "_mpdp_problems", ()), *problems}  # type: ignore[attr-defined]
    return view


def problems(*statuses: int) -> Callable[[Callable], Callable]:
    """`@problems(409)`: the view answers these problems, beyond those of its kind of operation."""
    return lambda view: documents(view, problems=statuses)


def _conventional_problems(path: str, operation: dict, view: Callable) -> set[int]:
    found = set()
    if operation["security"]:
        found.add(401)  # no credential, or one that is not (or no longer) valid
    if path.startswith("/api/v1/workspaces/{ws}"):
        found.add(403)  # a blocked member, or a role that may not
    if "{" in path:
        found.add(404)  # an unknown resource, or a workspace's to a non-member
    if "requestBody" in operation:
        found |= {400, 413}  # a body that does not parse; one over the size limit
        if "*/*" not in getattr(view, "_mpdp_accepts", ()):
            found.add(415)
    return found


class OperationConventions(BasePlugin):
    """The apispec plugin that completes every operation of a service's views."""

    def __init__(self, app: Flask):
        self.app = app

    def operation_helper(self, path: str | None = None, operations: dict | None = None, **kwargs: Any) -> None:
        rule = kwargs.get("rule")
        if rule is None or path is None or not operations:
            return
        view = self.app.view_functions[rule.endpoint]
        for operation in operations.values():
            operation.setdefault("operationId", operation_id(rule.endpoint))
            operation.setdefault("security", [] if getattr(view, "_mpdp_public", False) else BEARER)
            operation.setdefault("parameters", []).extend(getattr(view, "_mpdp_parameters", []))
            if not operation["parameters"]:
                del operation["parameters"]
            responses = operation.setdefault("responses", {})
            documented = {str(status) for status in responses}
            for status in sorted(_conventional_problems(path, operation, view) | getattr(view, "_mpdp_problems", set())):
                if str(status) not in documented:
                    responses[status] = HTTPStatus(status).name  # the problem response of that name


def nullable_reference(self: Any, field: fields.Field, ret: dict, **kwargs: Any) -> dict:
    """A marshmallow attribute function: apispec writes a nested schema that may be null, for
    OpenAPI 3.0, as `anyOf: [{type: object, nullable: true}, {$ref}]`, which takes any object;
    3.0 says it as `allOf: [{$ref}]` with `nullable: true`."""
    choices = ret.get("anyOf") or []
    loose = {"type": "object", "nullable": True}
    if field.allow_none and loose in choices and len(choices) == 2:
        del ret["anyOf"]
        return {"allOf": [choice for choice in choices if choice != loose], "nullable": True}
    return {}
