"""The gateway, described like every other service: it has no database and no events."""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask_cors import CORS
from flask_limiter import Limiter

from mpdp_common.auth import bearer_token, public
from mpdp_common.config import Settings
from mpdp_common.crypto import digest
from mpdp_common.service import Service
from mpdp_common.web import accepts

from .openapi import merged_openapi
from .proxy import forward

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]


def _client_key() -> str:
    return f"client:{request.remote_addr}"


def _token_key() -> str:
    return "token:" + digest(bearer_token() or "")


def _is_ingest() -> bool:
    return request.path.startswith("/ingest/")


def _setup(app: Flask, settings: Settings) -> None:
    app.config["MAX_CONTENT_LENGTH"] = settings.gateway_max_body_bytes
    CORS(
        app,
        resources={r"/(api|client)/.*": {"origins": list(settings.cors_origins)}},
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Request-Id"],
        expose_headers=["X-Request-Id", "Retry-After", "Location"],
        max_age=600,
    )
    limiter = Limiter(_client_key, app=app, storage_uri=settings.rate_limit_storage_uri, headers_enabled=True)

    @app.after_request
    def _retry_after_only_when_it_means_something(response):
        # flask-limiter adds Retry-After to every answer; it belongs on 429 and 503 alone.
        if response.status_code not in (429, 503):
            response.headers.pop("Retry-After", None)
        return response

    @public
    def openapi():
        return jsonify(merged_openapi(settings.service_urls, settings.upstream_connect_timeout + 3))

    app.add_url_rule("/api/v1/openapi.json", "public_openapi", openapi, methods=["GET"])

    proxied = accepts("*/*")(public(forward))
    # Ingest is limited per app key by telemetry: the phones of a whole carrier may share one address.
    proxied = limiter.limit(settings.rate_limit_per_client, key_func=_client_key, exempt_when=_is_ingest)(proxied)
    proxied = limiter.limit(settings.rate_limit_per_token, key_func=_token_key, exempt_when=lambda: bearer_token() is None)(proxied)
    for prefix in ("/api/", "/client/", "/ingest/", "/.well-known/"):
        app.add_url_rule(f"{prefix}<path:path>", f"proxy_{prefix.strip('/.').replace('-', '_')}", proxied, methods=METHODS)


service = Service(name="gateway", package="mpdp_gateway", setup=_setup)
