"""The gateway's front door, in front of its Flask app.

A request for a routed path is answered here, without Flask's request machinery (which would cost
more than the forwarding itself): path safety, rate limits, the edge token check, the request id,
CORS, metrics and the access log, then the proxy. Everything else (the gateway's own endpoints and
the 404 for an unknown path) goes to the Flask app; `/metrics` and `/readyz` only on the internal
listener.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, NamedTuple
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from mpdp_common import logs, tracing
from mpdp_common.apikeys import is_api_key
from mpdp_common.auth import TokenVerifier
from mpdp_common.config import Settings
from mpdp_common.crypto import digest
from mpdp_common.errors import PROBLEM_JSON, Problem, problem_document
from mpdp_common.events.actors import incoming_traceparent
from mpdp_common.metrics import LATENCY, REQUESTS
from mpdp_common.web import REQUEST_ID

from .limits import Limit, RateLimiter
from .proxy import AMBIGUOUS_PATH, Answer, Proxy, client_path
from .routes import service_for

if TYPE_CHECKING:
    from _typeshed import OptExcInfo

log = logging.getLogger("mpdp.access")

#: OPTIONS too: the owning service knows which methods a path takes (its Allow header)
PROXIED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
INTERNAL_PATHS = frozenset({"/metrics", "/readyz"})
#: the console's paths, for the origins in MPDP_CORS_ORIGINS
CORS_PATHS = ("/api/", "/client/")
CORS_ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-Id"
CORS_EXPOSED_HEADERS = "X-Request-Id, Retry-After, Location"
#: ingest, for any origin: its keys are public and can only write. Sentry's browser SDK may send
#: its auth and tracing headers, and reads its rate limits from the answer.
INGEST_PATH = "/ingest/"
INGEST_ALLOWED_HEADERS = "Content-Type, Content-Encoding, X-MPDP-Key, X-Request-Id, X-Sentry-Auth, sentry-trace, baggage"
INGEST_EXPOSED_HEADERS = "X-Request-Id, Retry-After, X-Sentry-Rate-Limits"


class Cors(NamedTuple):
    """The CORS headers of every answer on a path, and those a preflight adds."""

    answer: list[tuple[str, str]]
    preflight: list[tuple[str, str]]


INGEST_CORS = Cors(
    answer=[("Access-Control-Allow-Origin", "*"), ("Access-Control-Expose-Headers", INGEST_EXPOSED_HEADERS)],
    preflight=[
        ("Access-Control-Allow-Methods", "POST"),
        ("Access-Control-Allow-Headers", INGEST_ALLOWED_HEADERS),
        ("Access-Control-Max-Age", "600"),
    ],
)


class Edge:
    def __init__(self, app: WSGIApplication, settings: Settings, verifier: TokenVerifier):
        self.app = app
        self.proxy = Proxy(settings)
        self.limiter = RateLimiter(settings.rate_limit_storage_uri, settings.event_prefix)
        self.per_client = Limit.parse("client", settings.rate_limit_per_client)
        self.per_token = Limit.parse("token", settings.rate_limit_per_token)
        self.verifier = verifier
        self.origins = frozenset(settings.cors_origins)
        self.internal_port = str(settings.internal_port)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        raw_path = client_path(environ)
        refused = AMBIGUOUS_PATH.search(raw_path) or (
            _without_extra_slashes(environ.get("PATH_INFO", "")) in INTERNAL_PATHS and environ.get("SERVER_PORT") != self.internal_port
        )
        cors = self._cors(environ, raw_path)
        if cors is not None and environ["REQUEST_METHOD"] == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            return self._preflight(start_response, cors)
        service = None if refused else service_for(raw_path)
        if service is None and not refused:
            return self.app(environ, _adding(cors.answer, start_response) if cors else start_response)
        return self._forward(environ, start_response, service, raw_path, cors)

    def _forward(
        self, environ: WSGIEnvironment, start_response: StartResponse, service: str | None, raw_path: str, cors: Cors | None
    ) -> Iterable[bytes]:
        started = time.perf_counter()
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        method = environ["REQUEST_METHOD"]
        token = _bearer_token(environ)
        # Ingest is limited per app key by telemetry: the phones of a whole carrier may share one address.
        counted = [] if raw_path.startswith("/ingest/") else [(self.per_client, environ.get("REMOTE_ADDR", ""))]
        if token is not None:
            counted.append((self.per_token, digest(token)))
        verdict = self.limiter.hit(*counted) if counted else None
        try:
            if service is None:
                raise Problem(404, "No such endpoint.")
            if verdict is not None and not verdict.allowed:
                raise Problem(429, "Too many requests; try again after the number of seconds in Retry-After.")
            if method not in PROXIED_METHODS:
                raise Problem(405, f"{method} is not allowed here.", headers={"Allow": ", ".join(PROXIED_METHODS)})
            # A bad token is refused here, before it costs a service anything (services verify
            # again); workspace API keys are checked by the services, which keep their read model.
            if token is not None and raw_path.startswith("/api/") and not is_api_key(token):
                self.verifier.verify(token)
            span, environ["mpdp.traceparent"] = tracing.start(
                f"{method} {service}", "server", incoming_traceparent(environ.get("HTTP_TRACEPARENT")), {"mpdp.request_id": request_id}
            )
            try:
                answer = self.proxy.forward(environ, service, raw_path, request_id)
            finally:
                tracing.finish(span)
        except Problem as problem:
            answer = _problem_answer(problem)
        answer.headers.append(("X-Request-Id", request_id))
        if verdict is not None:
            answer.headers.extend(verdict.headers())
        if cors:
            answer.headers.extend(cors.answer)
        start_response(answer.status, answer.headers)
        self._record(method, raw_path, service, answer.status, started, request_id)
        return answer.body

    def _record(self, method: str, raw_path: str, service: str | None, status: str, started: float, request_id: str) -> None:
        elapsed = time.perf_counter() - started
        endpoint = f"proxy_{service}" if service else "unmatched"
        code = status[:3]
        REQUESTS.labels("gateway", method, endpoint, code).inc()
        LATENCY.labels("gateway", endpoint).observe(elapsed)
        if log.isEnabledFor(logging.INFO):
            path = logs.redact_path(raw_path)
            context = logs.request_id.set(request_id)
            try:
                extra = {"status": int(code), "duration_ms": round(elapsed * 1000, 2), "method": method, "path": path}
                log.info("%s %s %s", method, path, code, extra=extra)
            finally:
                logs.request_id.reset(context)

    def _cors(self, environ: WSGIEnvironment, raw_path: str) -> Cors | None:
        """The CORS of a request from a browser: ingest's for any origin, the public API's for
        the console's origins (only `Vary` for any other); None where CORS does not apply."""
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:
            return None
        if raw_path.startswith(INGEST_PATH):
            return INGEST_CORS
        if not raw_path.startswith(CORS_PATHS):
            return None
        if origin not in self.origins:
            return Cors([("Vary", "Origin")], [])
        return Cors(
            [("Access-Control-Allow-Origin", origin), ("Access-Control-Expose-Headers", CORS_EXPOSED_HEADERS), ("Vary", "Origin")],
            [
                ("Access-Control-Allow-Methods", ", ".join(PROXIED_METHODS)),
                ("Access-Control-Allow-Headers", CORS_ALLOWED_HEADERS),
                ("Access-Control-Max-Age", "600"),
            ],
        )

    def _preflight(self, start_response: StartResponse, cors: Cors) -> Iterable[bytes]:
        """A CORS preflight is answered here; any other OPTIONS goes to the service, which knows
        the methods of its paths."""
        start_response("204 No Content", [*cors.answer, *cors.preflight])
        return [b""]


def _adding(headers: list[tuple[str, str]], start_response: StartResponse) -> StartResponse:
    def start(status: str, response_headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None) -> Callable[[bytes], object]:
        return start_response(status, [*response_headers, *headers], exc_info)

    return start


def _without_extra_slashes(path: str) -> str:
    """`//metrics/` as `/metrics`: what a router that merges slashes would serve for it."""
    return re.sub("/{2,}", "/", path).rstrip("/") or "/"


def _bearer_token(environ: WSGIEnvironment) -> str | None:
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _problem_answer(problem: Problem) -> Answer:
    document = problem_document(problem.status, problem.detail, title=problem.title, type=problem.type, errors=problem.errors)
    body = json.dumps(document).encode()
    headers = [("Content-Type", PROBLEM_JSON), ("Content-Length", str(len(body))), *problem.headers.items()]
    return Answer(f"{problem.status} {HTTPStatus(problem.status).phrase}", headers, [body])
