"""Packages checked when they are uploaded and crashes developers can read, on the real processes
through the gateway: a page minified by terser (tests/fixtures/minified) with its source map, a
crash sent through Sentry's envelope endpoint whose frames come back in the original source,
maps added after the crash, the package report's JSAPIs (none counted from comments or strings),
the submit refused while a restricted JSAPI is not granted, and the workspace's size limit."""

from __future__ import annotations

import io
import json
import os
import secrets
import zipfile
from pathlib import Path

import requests

from .conftest import eventually
from .test_catalog import new_feature, new_jsapi, upload
from .test_telemetry import shop  # noqa: F401 - the fixture

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "minified"
MINIFIED = (FIXTURE / "pages/index/index.js").read_bytes()
MAP = (FIXTURE / "pages/index/index.js.map").read_bytes()
ABOUT = b"""// my.chooseImage() is only named in this comment
Page({
  onLoad() {
    const hint = "call my.scan() to scan"; /* my.tradePay() */
    my.showToast({ content: hint });
  },
});
"""


def package(with_map: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.json", json.dumps({"pages": ["pages/index/index", "pages/about/about"]}))
        archive.writestr("pages/index/index.js", MINIFIED)
        archive.writestr("pages/index/index.axml", "<view>{{cart}}</view>")
        archive.writestr("pages/about/about.js", ABOUT)
        if with_map:
            archive.writestr("pages/index/index.js.map", MAP)
    return buffer.getvalue()


def crash(release: str, colno: int = 158) -> dict:
    """The crash that the minified page throws, as the Sentry JavaScript SDKs report it."""
    frames = [
        {"abs_path": "app:///pages/index/index.js", "function": "Object.onCheckout", "lineno": 1, "colno": 325, "in_app": True},
        {"abs_path": "app:///pages/index/index.js", "function": "e", "lineno": 1, "colno": colno, "in_app": True},
    ]
    return {
        "event_id": secrets.token_hex(16),
        "release": release,
        "platform": "javascript",
        "level": "error",
        "user": {"id": "anna"},
        "exception": {"values": [{"type": "Error", "value": "Over budget: 0.00 CNY", "stacktrace": {"frames": frames}}]},
    }


def send_crash(platform, shop, event: dict) -> None:
    body = b"{}\n" + json.dumps({"type": "event"}).encode() + b"\n" + json.dumps(event).encode() + b"\n"
    answer = requests.post(
        f"{platform.gateway}/ingest/sentry/api/{shop.mp['telemetry_id']}/envelope/",
        data=body,
        headers={"X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={shop.key_id}", "Content-Type": "application/x-sentry-envelope"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def issues(shop) -> list[dict]:
    listed = shop.admin.get(f"{shop.base}/quality/issues", params={"miniprogram_id": shop.mp["id"]})
    assert listed.status_code == 200, listed.text
    return [shop.admin.get(f"{shop.base}/quality/issues/{item['id']}").json() for item in listed.json()["items"]]


def thrower(issue: dict) -> dict:
    return issue["latest_event"]["exception"]["values"][0]["stacktrace"]["frames"][-1]


def resolved_issue(shop, where: str = "checkout") -> dict | None:
    return next((issue for issue in issues(shop) if thrower(issue).get("function") == where), None)


def test_a_crash_of_a_minified_bundle_comes_back_in_its_original_source(platform, shop):
    uploaded = upload(shop.admin, shop.ws, shop.mp["id"], "1.0.0", package())
    assert uploaded.status_code == 201, uploaded.text
    report = uploaded.json()["report"]
    assert report["sourcemaps"] == ["pages/index/index.js.map"]
    # terser kept the call and the string; the string's my.scan() and the comments' calls are not counted
    assert report["jsapis_used"] == ["getLocation", "showToast"]

    send_crash(platform, shop, crash("shop@1.0.0"))
    issue = eventually(lambda: resolved_issue(shop), timeout=60, interval=0.5)
    frame = thrower(issue)
    assert (frame["filename"], frame["lineno"], frame["colno"]) == ("src/pages/index/index.js", 12, 11)
    assert frame["context_line"].strip() == 'throw new Error("Over budget: " + formatPrice(total));'
    assert len(frame["pre_context"]) == 5 and frame["post_context"]
    assert frame["raw"]["function"] == "e" and frame["raw"]["colno"] == 158

    # Once telemetry has the maps, crashes are resolved as they come and grouped by the resolved
    # frames: the same bug from another position is the same issue.
    send_crash(platform, shop, crash("shop@1.0.0"))
    send_crash(platform, shop, crash("shop@1.0.0", colno=160))

    def grouped() -> dict | None:
        found = [issue for issue in issues(shop) if thrower(issue).get("function") == "checkout"]
        return next((issue for issue in found if issue["count"] >= 2), None)

    assert eventually(grouped, timeout=60, interval=0.5)["culprit"] == "src/pages/index/index.js in checkout"


def test_maps_added_after_a_crash_resolve_it(platform, shop):
    uploaded = upload(shop.admin, shop.ws, shop.mp["id"], "2.0.0", package(with_map=False))
    assert uploaded.status_code == 201 and uploaded.json()["report"]["sourcemaps"] == []
    send_crash(platform, shop, crash("shop@2.0.0"))
    [before] = eventually(lambda: issues(shop) or None, timeout=60, interval=0.5)
    assert thrower(before)["function"] == "e" and "raw" not in thrower(before)

    path = f"{shop.base}/miniprograms/{shop.mp['id']}/versions/{uploaded.json()['id']}/sourcemaps"
    refused = shop.reviewer.post(path, files=[("files", ("index.js.map", MAP, "application/json"))])
    assert refused.status_code == 403
    added = shop.admin.post(path, files=[("files", ("pages/index/index.js.map", MAP, "application/json"))])
    assert added.status_code == 201, added.text
    assert added.json() == {"sourcemaps": ["pages/index/index.js.map"]}

    after = eventually(lambda: resolved_issue(shop), timeout=60, interval=0.5)
    assert after["id"] == before["id"] and thrower(after)["lineno"] == 12
    version = shop.admin.get(f"{shop.base}/miniprograms/{shop.mp['id']}/versions/{uploaded.json()['id']}").json()
    assert version["report"]["sourcemaps"] == ["pages/index/index.js.map"]


def test_a_submit_waits_for_the_jsapis_the_version_uses(platform, shop):
    location = new_jsapi(shop.admin, shop.ws, name="getLocation")
    scan = new_jsapi(shop.admin, shop.ws, name="my.scan")  # called only inside a string
    feature = new_feature(shop.admin, shop.ws, jsapi_ids=[location["id"]])
    new_feature(shop.admin, shop.ws, jsapi_ids=[scan["id"]])

    uploaded = upload(shop.admin, shop.ws, shop.mp["id"], "3.0.0", package())
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["report"]["jsapis_not_granted"] == ["getLocation"]
    launch = shop.admin.post(
        f"{shop.base}/miniprograms/{shop.mp['id']}/launches", json={"version_id": uploaded.json()["id"], "app_id": shop.app_id}
    )
    assert launch.status_code == 201, launch.text
    submit = f"{shop.base}/miniprograms/{shop.mp['id']}/launches/{launch.json()['id']}/submit"
    refused = shop.admin.post(submit)
    assert refused.status_code == 409 and refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:mpdp:problem:jsapis-not-granted" and refused.json()["jsapis"] == ["getLocation"]

    granted = shop.admin.post(f"{shop.base}/miniprograms/{shop.mp['id']}/features", json={"feature_id": feature["id"]})
    assert granted.status_code == 201 and granted.json()["status"] == "active"
    submitted = shop.admin.post(submit)
    assert submitted.status_code == 200 and submitted.json()["status"] == "under_review"


def test_the_workspace_limits_the_size_of_a_package(platform, shop):
    settings = shop.admin.get(f"{shop.base}/settings").json()
    assert settings["package_size_limit_bytes"] == 8 * 1024 * 1024
    changed = shop.admin.put(f"{shop.base}/settings", json={"package_size_limit_bytes": 100_000})
    assert changed.status_code == 200 and changed.json()["package_size_limit_bytes"] == 100_000
    assert shop.admin.put(f"{shop.base}/settings", json={"package_size_limit_bytes": 10**12}).status_code == 422
    assert shop.admin.put(f"{shop.base}/settings", json={"package_size_limit_bytes": "big"}).status_code == 422
    assert shop.developer.put(f"{shop.base}/settings", json={"package_size_limit_bytes": 10**9}).status_code == 403

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.json", json.dumps({"pages": ["pages/index/index"]}))
        archive.writestr("pages/index/index.js", "Page({})")
        archive.writestr("assets/photo.bin", os.urandom(200_000))
    big = buffer.getvalue()

    def refused() -> list[requests.Response]:  # a 413 Response is false: it is not ok
        answer = upload(shop.admin, shop.ws, shop.mp["id"], "4.0.0", big)
        return [answer] if answer.status_code == 413 else []

    [answer] = eventually(refused, timeout=20, interval=0.3)
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["size"] == len(big) and answer.json()["limit"] == 100_000
    assert shop.admin.get(f"{shop.base}/miniprograms/{shop.mp['id']}/versions").json()["items"] == []


def test_the_cli_sends_the_maps_and_prints_the_reports_warnings(platform, shop, tmp_path):
    from .test_catalog import api_key
    from .test_cli import mpdp

    location = new_jsapi(shop.admin, shop.ws, name="getLocation")
    new_feature(shop.admin, shop.ws, jsapi_ids=[location["id"]])
    developers = f"{shop.base}/miniprograms/{shop.mp['id']}/developers"
    assert shop.admin.put(developers, json={"account_ids": [shop.developer.account["id"]]}).status_code == 200
    key = api_key(platform, shop.ws, "developer", shop.developer.account["id"])
    bundle = tmp_path / "build.zip"
    bundle.write_bytes(package(with_map=False))
    maps = tmp_path / "maps" / "pages" / "index"
    maps.mkdir(parents=True)
    (maps / "index.js.map").write_bytes(MAP)
    home = tmp_path / "home"
    home.mkdir()
    arguments = ("upload", str(bundle), "-w", shop.ws, "-m", shop.mp["id"], "-v", "5.0.0", "--sourcemaps", str(tmp_path / "maps"), "-q")
    for _attempt in range(50):  # the catalog learns of the key by an event
        uploaded = mpdp(platform, home, *arguments, MPDP_API_KEY=key)
        if uploaded.returncode == 0 or "401" not in uploaded.stderr:
            break
    assert uploaded.returncode == 0, uploaded.stderr
    assert json.loads(uploaded.stdout)["report"]["sourcemaps"] == ["pages/index/index.js.map"]
    assert "source maps: pages/index/index.js.map" in uploaded.stderr
    assert "warning: JSAPIs not granted to this mini program: getLocation" in uploaded.stderr
