"""The gateway serves the built console: assets cached for a year, every page path answering
index.html with the headers that keep console pages from being framed or injected into, and the
build's compressed copies to browsers that accept them."""

from __future__ import annotations

import gzip
from dataclasses import replace

import pytest

from mpdp_common.config import Settings
from mpdp_common.web import create_app
from mpdp_gateway.service import service


@pytest.fixture
def built_console(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<!doctype html><div id="root"></div><script src="/assets/index-abc123.js"></script>')
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('console')")
    (tmp_path / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return tmp_path


SCRIPT = b"console.log('the console, compressed at build time');" * 20


@pytest.fixture
def compressed_console(built_console):
    """A build with a script that has its gzip and Brotli copies beside it, as `npm run build` writes them."""
    script = built_console / "assets" / "index-def456.js"
    script.write_bytes(SCRIPT)
    (built_console / "assets" / "index-def456.js.gz").write_bytes(gzip.compress(SCRIPT))
    # Brotli stands for itself here: the gateway sends the copy as it is, never decoding it
    (built_console / "assets" / "index-def456.js.br").write_bytes(b"brotli copy")
    index = (built_console / "index.html").read_bytes()
    (built_console / "index.html.gz").write_bytes(gzip.compress(index))
    return built_console


def gateway(console_dir):
    return create_app(service, replace(Settings.from_env("gateway"), console_dir=str(console_dir))).test_client()


@pytest.mark.parametrize("path", ["/", "/sign-in", "/workspaces/ws1/miniprograms/mp1/versions"])
def test_every_page_path_answers_index_html_with_strict_headers(built_console, path):
    response = gateway(built_console).get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert b'<div id="root">' in response.data
    assert response.headers["Cache-Control"] == "no-cache"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_fingerprinted_assets_are_cached_for_a_year(built_console):
    client = gateway(built_console)
    response = client.get("/assets/index-abc123.js")
    assert response.status_code == 200 and response.data == b"console.log('console')"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get("/assets/index-missing.js").status_code == 404
    assert client.get("/assets/../index.html").status_code == 404


def test_top_level_files_are_themselves(built_console):
    response = gateway(built_console).get("/favicon.svg")
    assert response.status_code == 200 and b"<svg" in response.data


def test_api_paths_never_fall_back_to_the_console(built_console):
    client = gateway(built_console)
    for path in ("/api/v1/nothing-here", "/api", "/.well-known/nothing"):
        response = client.get(path)
        assert response.status_code in (404, 502, 503, 504) and response.mimetype == "application/problem+json", path


def test_an_unbuilt_console_is_a_clear_503(tmp_path):
    response = gateway(tmp_path / "missing").get("/")
    assert response.status_code == 503
    assert "make run" in response.get_json()["detail"]


@pytest.mark.parametrize(
    ("accept_encoding", "coding"),
    [
        ("gzip", "gzip"),
        ("GZip;q=0.8", "gzip"),
        ("gzip, deflate, br, zstd", "br"),
        ("br;q=0.5, gzip", "gzip"),
        ("br;q=0, *", "gzip"),
        ("*;q=0, gzip;q=0.1", "gzip"),
        ("gzip;q=0", None),
        ("br;q=0, gzip;q=0", None),
        ("identity", None),
        ("deflate", None),
        ("gzip;q=0.5, identity", None),
        (None, None),
    ],
)
def test_an_asset_comes_in_the_best_coding_the_browser_accepts(compressed_console, accept_encoding, coding):
    headers = {"Accept-Encoding": accept_encoding} if accept_encoding else {}
    response = gateway(compressed_console).get("/assets/index-def456.js", headers=headers)
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == coding
    expected = {None: SCRIPT, "gzip": (compressed_console / "assets" / "index-def456.js.gz").read_bytes(), "br": b"brotli copy"}[coding]
    assert response.data == expected and response.headers["Content-Length"] == str(len(expected))
    # the same type, caching and policy whatever the coding; caches keep one copy per coding
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Accept-Encoding" in response.vary
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_gzipped_asset_decompresses_to_the_built_file(compressed_console):
    response = gateway(compressed_console).get("/assets/index-def456.js", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.data) == SCRIPT


def test_index_html_comes_gzipped_and_still_revalidated(compressed_console):
    for path in ("/", "/sign-in"):
        response = gateway(compressed_console).get(path, headers={"Accept-Encoding": "gzip, br"})
        assert response.headers["Content-Encoding"] == "gzip", path
        assert b'<div id="root">' in gzip.decompress(response.data)
        assert response.mimetype == "text/html" and response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Frame-Options"] == "DENY" and "Accept-Encoding" in response.vary


def test_a_file_without_compressed_copies_does_not_vary(compressed_console):
    response = gateway(compressed_console).get("/assets/index-abc123.js", headers={"Accept-Encoding": "gzip"})
    assert response.data == b"console.log('console')"
    assert "Content-Encoding" not in response.headers and "Accept-Encoding" not in response.vary


def test_each_coding_has_its_own_etag_and_byte_ranges(compressed_console):
    client = gateway(compressed_console)
    plain = client.get("/assets/index-def456.js")
    gzipped = client.get("/assets/index-def456.js", headers={"Accept-Encoding": "gzip"})
    assert plain.headers["ETag"] != gzipped.headers["ETag"]

    revalidated = client.get("/assets/index-def456.js", headers={"Accept-Encoding": "gzip", "If-None-Match": gzipped.headers["ETag"]})
    assert revalidated.status_code == 304 and "Accept-Encoding" in revalidated.vary
    # the gzip copy a cache holds is no answer for a browser that does not accept gzip
    other = client.get("/assets/index-def456.js", headers={"If-None-Match": gzipped.headers["ETag"]})
    assert other.status_code == 200 and other.data == SCRIPT

    part = client.get("/assets/index-def456.js", headers={"Accept-Encoding": "gzip", "Range": "bytes=0-9"})
    assert part.status_code == 206 and part.headers["Content-Encoding"] == "gzip"
    assert part.data == gzipped.data[:10] and part.headers["Content-Range"] == f"bytes 0-9/{len(gzipped.data)}"
