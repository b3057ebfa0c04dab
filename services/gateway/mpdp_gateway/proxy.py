"""Forwarding one request to the owning service and its answer back, streamed both ways."""

from __future__ import annotations

import logging
import threading
from urllib.parse import quote

import requests
from flask import Response, current_app, g, request, stream_with_context
from werkzeug.exceptions import RequestEntityTooLarge

from mpdp_common.apikeys import is_api_key
from mpdp_common.auth import bearer_token
from mpdp_common.errors import Problem

from .routes import service_for

log = logging.getLogger(__name__)

# RFC 9110 section 7.6.1: these describe one connection and are never forwarded.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-connection",
}
CHUNK = 64 * 1024
#: Bodies that may be large (packages, crash reports); any other body is capped like a JSON document.
STREAMED_TYPES = {"multipart/form-data", "application/zip", "application/octet-stream", "application/x-sentry-envelope"}
_sessions = threading.local()


def _session() -> requests.Session:
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = requests.Session()
        session.trust_env = False
    return session


class _RequestBody:
    """The client's body as a stream of known length, so that it is forwarded without buffering."""

    def __init__(self, stream, length: int):
        self.stream, self.length = stream, length

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = CHUNK) -> bytes:
        return self.stream.read(size)


def _chunks(stream):
    while chunk := stream.read(CHUNK):
        yield chunk


def _forwarded_headers() -> dict[str, str]:
    named_by_connection = {name.strip().lower() for name in request.headers.get("Connection", "").split(",") if name.strip()}
    headers = {
        name: value
        for name, value in request.headers.items()
        if name.lower() not in HOP_BY_HOP | named_by_connection | {"host", "content-length", "x-request-id"}
    }
    headers["X-Request-Id"] = g.request_id
    headers["X-Forwarded-For"] = ", ".join(filter(None, [request.headers.get("X-Forwarded-For"), request.remote_addr]))
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Host"] = request.host
    return headers


def _body(max_body_bytes: int):
    if request.content_length:
        return _RequestBody(request.stream, request.content_length)
    if request.headers.get("Transfer-Encoding", "").lower() != "chunked":
        return None
    if request.mimetype in STREAMED_TYPES:
        return _chunks(request.stream)
    # A chunked JSON body is capped like one of known length: read up to the cap, refuse beyond it.
    body = b""
    while len(body) <= max_body_bytes and (chunk := request.stream.read(CHUNK)):
        body += chunk
    if len(body) > max_body_bytes:
        raise RequestEntityTooLarge(f"The body is over the limit of {max_body_bytes} bytes.")
    return body


def upstream_target() -> str:
    """The path and query to ask the service for, encoded again: werkzeug decodes the path, and a
    decoded "%3F" or "%23" would otherwise cut it short upstream."""
    target = quote(request.path, safe="/:@!$&'()*+,;=~")
    return f"{target}?{request.query_string.decode('latin-1')}" if request.query_string else target


def verify_at_edge() -> None:
    """Reject a bad token here, before it costs a service anything; services verify again."""
    token = bearer_token()
    # Workspace API keys are checked by the services, which keep their read model.
    if token is not None and request.path.startswith("/api/") and not is_api_key(token):
        current_app.extensions["mpdp"].verifier.verify(token)


def forward(path: str = "") -> Response:
    if request.method == "OPTIONS" and request.headers.get("Access-Control-Request-Method"):
        return Response(status=200)  # a CORS preflight: flask-cors answers it at the edge
    service = service_for(request.path)
    if service is None:
        raise Problem(404, "No such endpoint.")
    settings = current_app.extensions["mpdp"].settings
    if request.mimetype not in STREAMED_TYPES and (request.content_length or 0) > settings.max_body_bytes:
        raise RequestEntityTooLarge(f"The body is over the limit of {settings.max_body_bytes} bytes.")
    verify_at_edge()
    body = _body(settings.max_body_bytes)
    url = settings.service_urls[service] + upstream_target()
    try:
        upstream = _session().request(
            request.method,
            url,
            headers=_forwarded_headers(),
            data=body,
            stream=True,
            allow_redirects=False,
            timeout=(settings.upstream_connect_timeout, settings.upstream_read_timeout),
        )
    except requests.ConnectTimeout:
        raise Problem(503, f"The {service} service is not answering; try again shortly.", headers={"Retry-After": "5"}) from None
    except requests.ReadTimeout:
        raise Problem(504, f"The {service} service took too long to answer.") from None
    except requests.ConnectionError as error:
        log.warning("%s unreachable: %s", service, error.__class__.__name__)
        raise Problem(503, f"The {service} service is unavailable; try again shortly.", headers={"Retry-After": "5"}) from None

    headers = [(name, value) for name, value in upstream.raw.headers.items() if name.lower() not in HOP_BY_HOP]

    def relay_body():
        try:
            yield from upstream.raw.stream(CHUNK, decode_content=False)
        except Exception as error:  # the service died mid-answer: the client sees a cut response
            log.warning("%s answer interrupted: %r", service, error)
        finally:
            upstream.close()

    response = Response(stream_with_context(relay_body()), status=upstream.status_code, headers=headers)
    # The service's request id is ours: it was sent along.
    response.headers.pop("X-Request-Id", None)
    return response
