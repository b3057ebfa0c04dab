"""The gateway serves the built console: assets cached for a year, every page path answering
index.html with the headers that keep console pages from being framed or injected into."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mpdp_common.config import Settings
from mpdp_gateway.service import service


@pytest.fixture
def built_console(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<!doctype html><div id="root"></div><script src="/assets/index-abc123.js"></script>')
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('console')")
    (tmp_path / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return tmp_path


def gateway(console_dir):
    return service.create_app(replace(Settings.from_env("gateway"), console_dir=str(console_dir))).test_client()


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
