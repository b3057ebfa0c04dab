"""gunicorn as every service runs it. gunicorn answers what it cannot parse (a malformed request
line, a URL or header over its limits) itself, before any application code runs, with an HTML
page; this worker answers those as problem documents, like every other MPDP error."""

from __future__ import annotations

import socket
from http import HTTPStatus
from ssl import SSLError
from typing import Any

from gunicorn import util
from gunicorn.http import errors as http_errors
from gunicorn.http.message import Request
from gunicorn.workers.gthread import ThreadWorker

from .errors import PROBLEM_JSON, problem_bytes

#: the longest request line and header field gunicorn can take; longer is 414 and 431
LIMIT_REQUEST_LINE = 8190
LIMIT_REQUEST_FIELD_SIZE = 8190

_STATUS: list[tuple[type[Exception], int, str]] = [
    (http_errors.InvalidResponseHeader, 500, "The service made an invalid response header; it has been logged."),
    (http_errors.InvalidResponseHeaderName, 500, "The service made an invalid response header; it has been logged."),
    (http_errors.LimitRequestLine, 414, f"The request line is over {LIMIT_REQUEST_LINE} bytes; shorten the URL."),
    (http_errors.LimitRequestHeaders, 431, f"A request header is over {LIMIT_REQUEST_FIELD_SIZE} bytes, or there are too many."),
    (http_errors.ForbiddenProxyRequest, 403, "Proxy requests are not accepted from this address."),
    (http_errors.ExpectationFailed, 417, "Only 'Expect: 100-continue' is understood."),
    (http_errors.UnsupportedTransferCoding, 501, "Only the chunked transfer coding is understood."),
    (http_errors.ConfigurationProblem, 500, "The server is misconfigured; it has been logged."),
    (http_errors.ParseException, 400, "The request is not well-formed HTTP/1.1."),
    (SSLError, 400, "The TLS handshake failed."),
]


def refusal_for(error: Exception) -> tuple[int, str]:
    for kind, status, detail in _STATUS:
        if isinstance(error, kind):
            return status, detail
    return 500, "An unexpected error occurred; it has been logged."


def problem_http_response(status: int, detail: str) -> bytes:
    """A whole HTTP/1.1 answer that closes the connection: the request could not be read, so the
    connection cannot carry another one."""
    body = problem_bytes(status, detail)
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        f"Content-Type: {PROBLEM_JSON}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class ProblemAnswers:
    """A gunicorn worker's own refusals, answered as problem documents (mixed into a worker class,
    which brings the logger)."""

    log: Any

    def handle_error(self, req: Request | None, client: socket.socket, addr: tuple[object, ...] | str, exc: Exception) -> None:
        # `addr` is what accept() gave: (host, port...) over TCP, "" over a UNIX socket
        status, detail = refusal_for(exc)
        if status >= 500:
            self.log.exception("Error handling request")
        else:
            self.log.warning("Invalid request from %s: %s", (addr or ("",))[0], exc)
        try:
            util.write_nonblock(client, problem_http_response(status, detail))
            _linger(client)
        except Exception:
            self.log.debug("Failed to send the error answer.")


def _linger(client: socket.socket) -> None:
    """Closing a socket that still holds unread request bytes resets the connection, and the
    client may lose the answer with it: say that nothing more is sent, then read what is left."""
    client.shutdown(socket.SHUT_WR)
    client.settimeout(1)
    unread = 1024 * 1024
    while unread > 0 and (chunk := client.recv(65536)):
        unread -= len(chunk)


class ProblemWorker(ProblemAnswers, ThreadWorker):
    """gunicorn's threaded worker, answering its own refusals as problem documents."""
