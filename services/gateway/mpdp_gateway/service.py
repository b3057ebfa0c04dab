"""The gateway, described like every other service: it has no database and no events.

Its Flask app serves the gateway's own endpoints; the `Edge` in front of it answers every routed
path (see edge.py). It runs under gevent (see server.py), so that a slow client costs a greenlet.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify

from mpdp_common.auth import public
from mpdp_common.config import Settings
from mpdp_common.service import Service

from .console import serve_console
from .edge import Edge
from .openapi import MergedOpenApi


def _setup(app: Flask, settings: Settings) -> None:
    document = MergedOpenApi(settings.service_urls, settings.upstream_connect_timeout + 3)

    @public
    def openapi() -> Response:
        return jsonify(document.get())

    app.add_url_rule("/api/v1/openapi.json", "public_openapi", openapi, methods=["GET"])
    serve_console(app, settings)
    app.wsgi_app = Edge(app.wsgi_app, settings, app.extensions["mpdp"].verifier)  # type: ignore[method-assign]  # Flask's documented way to wrap it


service = Service(name="gateway", package="mpdp_gateway", setup=_setup, web_worker="mpdp_gateway.server.EdgeWorker")
