"""The web console: its built files at `/`, fingerprinted assets cached for a year, and every other
page path answering `index.html` so that the single-page application routes it. Console pages
carry the headers that keep them from being framed or running injected code. The build writes a
Brotli and a gzip copy beside each compressible file; a browser that accepts one gets it."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Flask, Response, request, send_from_directory
from werkzeug.security import safe_join

from mpdp_common.auth import public
from mpdp_common.config import Settings
from mpdp_common.errors import Problem

#: the proxied prefixes: an unknown path below them is the API's 404, never the console
API_PREFIXES = ("api/", "client/", "ingest/", ".well-known/")
ONE_YEAR = 365 * 24 * 3600
#: the suffix of the build's compressed copy of a file in each content coding, most preferred first
PRECOMPRESSED = {"br": ".br", "gzip": ".gz"}

# antd injects its styles at run time, hence 'unsafe-inline' for styles only; scripts come from
# this origin alone, and the console calls no other origin.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
CONSOLE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _secured(response: Response) -> Response:
    response.headers.update(CONSOLE_HEADERS)
    return response


def _send(directory: Path, filename: str, max_age: int) -> Response:
    """The file, or its compressed copy in the best coding the request accepts. Each copy is a file
    of its own, so it has its own length, ETag and byte ranges."""
    plain = safe_join(str(directory), filename)
    codings = [coding for coding, suffix in PRECOMPRESSED.items() if plain and Path(plain + suffix).is_file()]
    # identity competes too: `gzip;q=0.5, identity` asks for the plain file, `identity;q=0` refuses it
    coding = request.accept_encodings.best_match([*codings, "identity"]) if codings else None
    if coding in PRECOMPRESSED:
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        response = send_from_directory(directory, filename + PRECOMPRESSED[coding], max_age=max_age, mimetype=mimetype)
        response.headers["Content-Encoding"] = coding
    else:
        response = send_from_directory(directory, filename, max_age=max_age)
    if codings:
        response.vary.add("Accept-Encoding")
    return response


def serve_console(app: Flask, settings: Settings) -> None:
    root = Path(settings.console_dir).resolve()

    @public
    def asset(filename: str) -> Response:
        response = _send(root / "assets", filename, max_age=ONE_YEAR)
        response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
        return _secured(response)

    @public
    def page(path: str = "") -> Response:
        if f"{path}/".startswith(API_PREFIXES):
            raise Problem(404, "No such resource.")
        if path and "/" not in path and (root / path).is_file():
            # favicon.svg and the like, from the build's top level
            return _secured(_send(root, path, max_age=3600))
        if not (root / "index.html").is_file():
            raise Problem(503, f"The web console is not built in {root}: run `make run`, or `npm ci && npm run build` in console/.")
        response = _send(root, "index.html", max_age=0)
        # index.html names the current fingerprinted assets, so it is always revalidated
        response.headers["Cache-Control"] = "no-cache"
        return _secured(response)

    app.add_url_rule("/", "console_index", page, methods=["GET"])
    app.add_url_rule("/assets/<path:filename>", "console_asset", asset, methods=["GET"])
    app.add_url_rule("/<path:path>", "console_page", page, methods=["GET"])
