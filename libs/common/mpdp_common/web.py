"""The Flask app factory every service goes through: errors, request ids, logs, metrics,
health, OpenAPI, database sessions and authentication are set up here once."""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from flask import Flask, Response, current_app, g, jsonify, request
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from . import logs, tracing
from .auth import TokenVerifier, authenticate_request, public
from .config import Settings
from .db import make_engine
from .errors import (
    DRAIN_LIMIT,
    PROBLEM_JSON,
    Problem,
    ProblemSchema,
    drain,
    http_exception_response,
    problem_response,
    register_error_handlers,
)
from .events import actors
from .events.brokers import BrokerUnavailable, broker_for
from .metrics import LATENCY, REQUESTS
from .openapi import BEARER, SECURITY_SCHEMES, OperationConventions, nullable_reference
from .request_db import close_request_session
from .service import Service

log = logging.getLogger("mpdp.access")


REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
JSON_METHODS = {"POST", "PUT", "PATCH"}
INFRA_ENDPOINTS = {"healthz", "readyz", "metrics", "api-docs.openapi_json"}

View = TypeVar("View", bound=Callable[..., object])


@dataclass
class Runtime:
    """What a running app holds: its service, settings, database and token verifier."""

    service: Service
    settings: Settings
    engine: Engine | None
    session_factory: sessionmaker[Session] | None
    verifier: TokenVerifier


def current_settings() -> Settings:
    """The settings of the service that answers the current request."""
    return current_app.extensions["mpdp"].settings


def accepts(*mimetypes: str) -> Callable[[View], View]:
    """Mark a view that takes a body other than JSON (a multipart upload)."""

    def decorate(view: View) -> View:
        view._mpdp_accepts = set(mimetypes)  # type: ignore[attr-defined]  # a function takes attributes, a Callable type does not say so
        return view

    return decorate


class ProblemApi(Api):
    """flask-smorest's Api, answering its errors as problem documents."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_exception_response(error)

    def _register_responses(self) -> None:
        """flask-smorest's error responses (one per status, and the default), documented as the
        problem documents that they are on the wire."""
        for status in HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def _register_pagination_header(self) -> None:
        """Nothing: lists page by cursor (pagination.py), not with flask-smorest's pagination header,
        whose schema would otherwise stand in every document."""


def create_app(service: Service, settings: Settings) -> Flask:
    logs.configure_logging(service.name, settings.log_level)
    tracing.configure(service.name)
    app = Flask(f"mpdp_{service.name}")
    # Behind the gateway, a path is served as the client sent it or not at all: werkzeug would
    # otherwise answer `//x` (or `/x` for a rule `/x/`) with a redirect to this service's own
    # address, which is not the client's to know, and would serve `//metrics` as `/metrics`.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.config.update(
        API_TITLE=f"MPDP {service.name}",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
    )
    # one connection per request thread
    engine = make_engine(settings.database_url, settings.web_threads) if service.has_database else None
    verifier = TokenVerifier(
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        jwks_url=settings.jwks_url,
        key_for=service.key_source(settings) if service.key_source else None,
    )
    app.extensions["mpdp"] = Runtime(
        service=service,
        settings=settings,
        engine=engine,
        session_factory=sessionmaker(engine, expire_on_commit=False) if engine is not None else None,
        verifier=verifier,
    )

    api = ProblemApi(app, spec_kwargs={"extra_plugins": [OperationConventions(app)]})
    api.ma_plugin.converter.add_attribute_function(nullable_reference)
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    api.spec.options["security"] = BEARER
    register_error_handlers(app)
    for blueprint in service.blueprints:
        api.register_blueprint(blueprint)

    app.before_request(_begin_request)
    app.before_request(_check_request_body_and_path)
    app.before_request(authenticate_request)
    app.after_request(_finish_request)
    app.after_request(_read_what_the_view_left)
    app.teardown_appcontext(close_request_session)
    _add_operational_endpoints(app)
    if service.setup:
        service.setup(app, settings)
    app.wsgi_app = _ProblemOnEscape(app.wsgi_app)  # type: ignore[method-assign]  # Flask's documented way to wrap it
    return app


class _ProblemOnEscape:
    """The last line: an error that escapes Flask's handlers (a teardown closing a session on a
    database that just went away, say) is answered as a problem document, not the server's HTML page."""

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            return self.wsgi_app(environ, start_response)
        except Exception as error:
            log.exception("request failed outside the error handlers")
            if isinstance(error, OperationalError):
                answer = problem_response(503, "The database is unavailable; try again shortly.", headers={"Retry-After": "5"})
            else:
                answer = problem_response(500, "The server could not complete the request.")
            return answer(environ, start_response)


def _begin_request() -> None:
    incoming = request.headers.get("X-Request-Id", "")
    g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()
    g.log_tokens = (logs.request_id.set(g.request_id), logs.service_name.set(current_app.extensions["mpdp"].service.name))
    # What the request publishes belongs to its trace (a child of its span, when tracing); its
    # caller is set once known (authenticate_request).
    traceparent = actors.incoming_traceparent(request.headers.get("traceparent"))
    if tracing.enabled():
        g.span, traced = tracing.start(f"{request.method} {request.url_rule or request.path}", "server", traceparent)
        traceparent = traced or traceparent
    g.event_context = (actors.current_actor.set(None), actors.current_traceparent.set(traceparent))


def _check_request_body_and_path() -> None:
    """Refuse, before any view runs, what no view could take: a NUL in the path, a body of the
    wrong media type, JSON that does not parse."""
    if "\x00" in request.path:
        raise Problem(404, "No such resource.")
    if request.routing_exception is not None:
        return  # Flask answers it (404, or 405 naming the methods the route takes)
    view = current_app.view_functions.get(request.endpoint or "")
    if request.method not in JSON_METHODS:
        return
    if not (request.content_length or request.headers.get("Transfer-Encoding")):
        if _needs_a_json_body(view):
            raise Problem(400, "This endpoint needs a JSON body (send {} when there is nothing to set).")
        return
    allowed = getattr(view, "_mpdp_accepts", {"application/json"})
    if "*/*" in allowed:
        return
    mimetype = request.mimetype
    if mimetype not in allowed and not (mimetype.endswith("+json") and "application/json" in allowed):
        raise Problem(415, f"Send the body as {' or '.join(sorted(allowed))}, not {mimetype or 'no content type'}.")
    if request.is_json:
        # Parsed once here (and cached for the schemas), so that a body nested thousands deep is a
        # clear 400 rather than a RecursionError.
        _refuse_chunked_body_over_the_limit()
        try:
            body = request.get_json()
        except RecursionError:
            raise Problem(400, "The request body is nested too deeply.") from None
        except RequestEntityTooLarge:
            raise
        except HTTPException:
            raise Problem(400, "The request body is not valid JSON.") from None
        if holds_lone_surrogate(body):
            raise Problem(400, "The request body holds a lone surrogate escape (like \\ud800), which is no Unicode character.")


def _needs_a_json_body(view: Callable[..., object] | None) -> bool:
    """As the OpenAPI document says: flask-smorest marks a JSON body that a view takes as required."""
    parameters = (getattr(view, "_apidoc", None) or {}).get("arguments", {}).get("parameters", [])
    return any(parameter["in"] == "json" and parameter.get("required", True) for parameter in parameters)


def _refuse_chunked_body_over_the_limit() -> None:
    """A chunked body has no Content-Length to refuse up front, and werkzeug silently cuts it at
    the limit (which then reads as broken JSON): it is over when one more byte follows."""
    limit = request.max_content_length
    if request.content_length is not None or limit is None:
        return
    if len(request.get_data()) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()


def holds_lone_surrogate(document: Any) -> bool:
    """JSON lets `\\ud800` stand alone; Python parses it, but no UTF-8 text (nor database) can hold it."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def _read_what_the_view_left(response: Response) -> Response:
    """Read the rest of a body that the view did not read (one it refused first, say): after the
    answer, gunicorn reads at most 64 KiB of it and otherwise closes the connection, though the
    answer said keep-alive, and the gateway's next request on that connection would fail."""
    if request.content_length or request.headers.get("Transfer-Encoding"):
        try:
            drain(request.stream, DRAIN_LIMIT)
        except RequestEntityTooLarge:
            pass  # answered as a 413, which read what it could
    return response


def _finish_request(response: Response) -> Response:
    response.headers["X-Request-Id"] = g.get("request_id", "")
    runtime = current_app.extensions["mpdp"]
    endpoint = request.endpoint or "unmatched"
    started = g.get("request_started")
    if started is not None and endpoint not in INFRA_ENDPOINTS:
        elapsed = time.perf_counter() - started
        REQUESTS.labels(runtime.service.name, request.method, endpoint, str(response.status_code)).inc()
        LATENCY.labels(runtime.service.name, endpoint).observe(elapsed)
        path = logs.redact_path(request.path)
        log.info(
            "%s %s %s",
            request.method,
            path,
            response.status_code,
            extra={"status": response.status_code, "duration_ms": round(elapsed * 1000, 2), "method": request.method, "path": path},
        )
    tokens = g.pop("log_tokens", None)
    if tokens:
        logs.request_id.reset(tokens[0])
        logs.service_name.reset(tokens[1])
    event_context = g.pop("event_context", None)
    if event_context:
        actors.current_actor.reset(event_context[0])
        actors.current_traceparent.reset(event_context[1])
    tracing.finish(g.pop("span", None), **{"http.response.status_code": response.status_code, "mpdp.request_id": g.get("request_id", "")})
    return response


def _add_operational_endpoints(app: Flask) -> None:
    @app.get("/healthz")
    @public
    def healthz() -> Response:
        return jsonify(status="ok")

    @app.get("/readyz")
    @public
    def readyz() -> Response:
        runtime: Runtime = current_app.extensions["mpdp"]
        checks: dict[str, Any] = {}
        if runtime.engine is not None:
            try:
                with runtime.engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                checks["database"] = "ok"
            except Exception as error:
                checks["database"] = f"unavailable: {error.__class__.__name__}"
        if runtime.service.events is not None:
            try:
                broker_for(runtime.settings).ping()
                checks["broker"] = "ok"
            except BrokerUnavailable as error:
                checks["broker"] = f"unavailable: {error}"
        down = [name for name, state in checks.items() if state != "ok"]
        if down:
            return problem_response(503, f"Not ready: {', '.join(down)} unavailable.", checks=checks)
        return jsonify(status="ready", checks=checks)

    @app.get("/metrics")
    @public
    def metrics() -> Response:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
        return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)
