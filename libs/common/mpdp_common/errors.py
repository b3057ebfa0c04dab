"""RFC 9457 problem details: the only shape an MPDP error takes on the wire."""

from __future__ import annotations

import errno
import json as stdlib_json
import logging
import re
from http import HTTPStatus
from typing import Any
from wsgiref.types import InputStream

from flask import Flask, Response, json, request
from marshmallow import INCLUDE, fields, validate
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from .schemas import ResponseSchema

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)

#: How much of a refused body is read and thrown away so that the client gets to see the 413.
DRAIN_LIMIT = 256 * 1024 * 1024

#: Every problem's `type` is `urn:mpdp:problem:<name>`: a problem with a meaning of its own has a
#: name of its own, any other is named for its status, here: RFC 9110's reason phrase (written
#: out, as Python's phrases changed between versions), and `validation` for 422.
PROBLEM_TYPE_PREFIX = "urn:mpdp:problem:"
STATUS_PROBLEM_NAMES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    408: "request-timeout",
    409: "conflict",
    411: "length-required",
    412: "precondition-failed",
    413: "content-too-large",
    414: "uri-too-long",
    415: "unsupported-media-type",
    416: "range-not-satisfiable",
    422: "validation",
    429: "too-many-requests",
    431: "request-header-fields-too-large",
    500: "internal-server-error",
    502: "bad-gateway",
    503: "service-unavailable",
    504: "gateway-timeout",
    507: "insufficient-storage",
}


def problem_type(status: int) -> str:
    """The `type` of a problem that has no meaning beyond its status."""
    name = STATUS_PROBLEM_NAMES.get(status) or re.sub(r"[^a-z0-9]+", "-", HTTPStatus(status).phrase.lower()).strip("-")
    return PROBLEM_TYPE_PREFIX + name


class ProblemSchema(ResponseSchema):
    """RFC 9457 problem details, the body of every error answer."""

    class Meta:
        unknown = INCLUDE  # a problem may carry members of its own (RFC 9457, section 3.2)

    type = fields.String(
        validate=validate.Regexp(f"^{PROBLEM_TYPE_PREFIX}[a-z0-9-]+$"),
        metadata={
            "description": f"`{PROBLEM_TYPE_PREFIX}<name>`; a problem with no meaning beyond its status is named for it: "
            + ", ".join(f"{status} `{name}`" for status, name in STATUS_PROBLEM_NAMES.items())
            + "."
        },
    )
    title = fields.String()
    status = fields.Integer(validate=validate.Range(min=400, max=599))
    detail = fields.String()
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        metadata={"optional": True, "description": "With 422: per field, its messages; a nested object's fields nest the same way."},
    )


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        title: str | None = None,
        type: str | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ):
        super().__init__(detail or title or HTTPStatus(status).phrase)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type or problem_type(status)
        self.errors = errors
        self.headers = headers or {}
        #: members of the problem's own (RFC 9457 section 3.2), such as the JSAPIs a submit lacks
        self.extensions = extensions or {}


def problem_document(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    type: str | None = None,
    errors: dict[str, Any] | None = None,
    **extensions: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": type or problem_type(status),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or HTTPStatus(status).description,
    }
    if errors:
        body["errors"] = _with_text_keys(errors)
    body.update(extensions)
    return body


def _with_text_keys(messages: Any) -> Any:
    """marshmallow keys a list's messages by index: as JSON keys they are text anyway, and an int
    beside a text key (`{1: [...], "_schema": [...]}`) could not even be sorted for the answer."""
    if isinstance(messages, dict):
        return {str(key): _with_text_keys(value) for key, value in messages.items()}
    return messages


def problem_bytes(status: int, detail: str) -> bytes:
    """A problem document's body, for answers made outside Flask (the HTTP server's own)."""
    return stdlib_json.dumps(problem_document(status, detail)).encode()


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    title: str | None = None,
    type: str | None = None,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem document; `extensions` become extra members (RFC 9457 section 3.2)."""
    body = problem_document(status, detail, title=title, type=type, errors=errors, **extensions)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def not_found(what: str = "resource") -> Problem:
    return Problem(404, f"No such {what}.")


def conflict(detail: str) -> Problem:
    return Problem(409, detail)


def forbidden(detail: str = "Your role does not allow this.") -> Problem:
    return Problem(403, detail)


def validation_failed(errors: dict[str, list[str]], detail: str = "Some fields are not valid.") -> Problem:
    return Problem(422, detail, errors=errors)


def _flatten_webargs_messages(messages: Any) -> dict[str, Any]:
    """webargs nests errors by location ({"json": {"name": [...]}}); clients want fields."""
    if not isinstance(messages, dict):
        return {"_body": messages if isinstance(messages, list) else [str(messages)]}
    flat: dict[str, Any] = {}
    for location, found in messages.items():
        if isinstance(found, dict):
            flat.update(found)
        else:
            flat[location] = found
    return flat


def http_exception_response(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    headers = dict(data.get("headers") or {})
    # The exception's own headers (Allow, Content-Range, Retry-After...) belong to the answer; its
    # Content-Type is for the HTML page the problem document replaces.
    headers.update((name, value) for name, value in error.get_headers() if name.lower() != "content-type")
    messages = data.get("messages")
    if status == 422 and messages is not None:
        return problem_response(
            422,
            "Some fields are not valid.",
            errors=_flatten_webargs_messages(messages),
            headers=headers,
        )
    detail = data.get("message") or error.description
    if status == 400 and messages is not None:
        detail = "The request body is not valid JSON."
    return problem_response(status, detail, headers=headers)


def drain(stream: InputStream | None, remaining: int) -> None:
    """Read and throw away a refused body: most HTTP clients send the whole body before reading
    the answer; if the server closes the connection first, they report a broken connection
    instead of the 413."""
    remaining = min(remaining, DRAIN_LIMIT)
    try:
        while remaining > 0 and stream is not None and (chunk := stream.read(min(remaining, 1024 * 1024))):
            remaining -= len(chunk)
    except Exception:  # a timeout, or the server's own "client went away"
        pass


def _drain_refused_body() -> None:
    chunked = request.content_length is None and request.headers.get("Transfer-Encoding", "").lower() == "chunked"
    drain(request.environ.get("wsgi.input"), DRAIN_LIMIT if chunked else request.content_length or 0)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error: RequestEntityTooLarge) -> Response:
        _drain_refused_body()
        if error.description == RequestEntityTooLarge.description and app.config.get("MAX_CONTENT_LENGTH"):
            return problem_response(413, f"The body is over the limit of {app.config['MAX_CONTENT_LENGTH']} bytes.")
        return problem_response(413, error.description)

    @app.errorhandler(Problem)
    def _problem(error: Problem) -> Response:
        if error.status == 413:
            _drain_refused_body()
        return problem_response(
            error.status,
            error.detail,
            title=error.title,
            type=error.type,
            errors=error.errors,
            headers=error.headers,
            **error.extensions,
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        return http_exception_response(error)

    @app.errorhandler(OperationalError)
    def _database_down(error: DBAPIError) -> Response:
        log.error("database unavailable: %s", error.orig.__class__.__name__ if error.orig else error)
        return problem_response(503, "The database is unavailable; try again shortly.", headers={"Retry-After": "5"})

    @app.errorhandler(DataError)
    def _unstorable_value(error: DataError) -> Response:
        # Input that passed validation but that the database cannot hold (a NUL character, say).
        log.info("database refused a value: %s", error.orig.__class__.__name__ if error.orig else error)
        return problem_response(422, "A value in the request cannot be stored (it may hold a NUL character).")

    @app.errorhandler(IntegrityError)
    def _concurrent_change(error: IntegrityError) -> Response:
        # The checks before a write passed, but a concurrent request wrote first.
        log.warning("integrity error: %s", error.orig.__class__.__name__ if error.orig else error)
        return problem_response(409, "The request conflicts with a change made at the same time; try again.")

    @app.errorhandler(DBAPIError)
    def _database_error(error: DBAPIError) -> Response:
        if error.connection_invalidated:
            return _database_down(error)
        log.exception("database error")
        return problem_response(500, "An unexpected error occurred; it has been logged.")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            # The request was fine; the disk is not. What was half written is discarded at teardown.
            _drain_refused_body()
            log.error("no space left to store a request's data: %s", error)
            return problem_response(507, "The server has no space left to store this; try again later.")
        log.exception("unhandled error")
        return problem_response(500, "An unexpected error occurred; it has been logged.")
