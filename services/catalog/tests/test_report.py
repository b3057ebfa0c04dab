"""The package report: JSAPI calls found by a real parser, bounded work on hostile code, source
maps kept as blobs and announced by reference, the submit refused while a JSAPI is not granted,
and the workspace's package size limit."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from pathlib import Path

from mpdp_catalog.report import ReportLimits, analyze, jsapi_calls, nesting_depth

from .conftest import APP, WS

FIXTURE = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "minified"
BASE = f"/api/v1/workspaces/{WS}"
CODE = b"""// my.chooseImage() is a comment, and so is /* my.scan() */
var label = "my.tradePay()", other = 'my.openCard()', regex = /my.startRecord()/;
var template = `my.notACall() ${my.getSystemInfo()}`;
my.getLocation({ type: 1 });
my["makePhoneCall"]({ number: "110" });
notMy.getLocation();
function load() { return my.request({ url: "https://example.com" }) }
"""


def make_package(files: dict[str, bytes | str], pages: tuple[str, ...] = ("pages/index/index",)) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app.json", json.dumps({"pages": list(pages)}))
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def fixture_package() -> bytes:
    return make_package(
        {
            "pages/index/index.js": (FIXTURE / "pages/index/index.js").read_bytes(),
            "pages/index/index.js.map": (FIXTURE / "pages/index/index.js.map").read_bytes(),
            "pages/index/index.axml": "<view>{{cart}}</view>",
        }
    )


def write(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "package.zip"
    path.write_bytes(data)
    return str(path)


def test_calls_are_found_by_parsing_not_in_comments_strings_or_regexes():
    names, has_errors = jsapi_calls(CODE, time.monotonic() + 5)
    assert names == {"getSystemInfo", "getLocation", "makePhoneCall", "request"} and not has_errors


def test_the_report_names_pages_sizes_calls_maps_and_warnings(tmp_path):
    data = make_package(
        {
            "pages/index/index.js": CODE,
            "pages/index/index.json": "{}",
            "pages/about/about.js": "Page({ onLoad() { my.scan() } }); var = ;",  # a syntax error: what parses still counts
            "lib/orphan.js.map": '{"version": 3, "mappings": ""}',
            "lib/broken.js": "x()",
            "lib/broken.js.map": "not json",
        },
        pages=("pages/index/index", "pages/about/about"),
    )
    report = analyze(write(tmp_path, data), ["pages/index/index", "pages/about/about"], len(data))
    assert report.size == len(data) and report.files == 7
    assert report.pages == [
        {"page": "pages/index/index", "size": len(CODE) + 2},
        {"page": "pages/about/about", "size": len("Page({ onLoad() { my.scan() } }); var = ;")},
    ]
    assert report.jsapis_used == ["getLocation", "getSystemInfo", "makePhoneCall", "request", "scan"]
    assert report.sourcemaps == []
    assert any("lib/orphan.js.map maps lib/orphan.js, which the package does not hold" in text for text in report.warnings)
    assert any("lib/broken.js.map is not JSON" in text for text in report.warnings)
    assert any("pages/about/about.js has syntax errors" in text for text in report.warnings)


def test_a_hostile_package_costs_bounded_work(tmp_path):
    deep = b"(" * 4000 + b"my.scan" + b")" * 4000
    big = b"my.tradePay();" * 1000
    data = make_package({"pages/index/index.js": b"my.getLocation()", "deep.js": deep, "big.js": big})
    limits = ReportLimits(max_js_file_bytes=10_000, max_nesting=100)
    report = analyze(write(tmp_path, data), ["pages/index/index"], len(data), limits)
    assert report.jsapis_used == ["getLocation"]
    assert any(text.startswith("big.js is 14000 bytes, over the 10000 bytes") for text in report.warnings)
    assert any(text.startswith("deep.js nests 4000 levels of brackets") for text in report.warnings)
    assert nesting_depth(b"{[()]}()") == 3

    out_of_time = analyze(write(tmp_path, data), ["pages/index/index"], len(data), ReportLimits(max_seconds=0))
    assert out_of_time.jsapis_used == []
    assert any(
        "took more than 0 s to parse; these files were not: big.js, deep.js, pages/index/index.js" in text for text in out_of_time.warnings
    )


def test_a_minified_bundle_and_its_map(tmp_path):
    data = fixture_package()
    report = analyze(write(tmp_path, data), ["pages/index/index"], len(data))
    # terser keeps the call and the string; the comment's chooseImage is gone, the string's scan is no call
    assert report.jsapis_used == ["getLocation"]
    assert report.sourcemaps == ["pages/index/index.js.map"] and report.warnings == []


# -- through the API ------------------------------------------------------------------------------


def upload(catalog, version: str, data: bytes, account: str = "ada"):
    form = {"version": version, "package": (io.BytesIO(data), "app.zip")}
    return catalog.call("POST", f"{BASE}/miniprograms/mp1/versions", account, data=form, content_type="multipart/form-data")


def restrict(catalog, *names: str, activation: str = "direct") -> str:
    """JSAPIs in a feature: restricted. Returns the feature's id."""
    ids = []
    for name in names:
        answer = catalog.call("POST", f"{BASE}/jsapis", "ada", json={"name": name, "description": "", "platforms": ["ios"]})
        assert answer.status_code == 201, answer.get_json()
        ids.append(answer.get_json()["id"])
    body = {"name": f"Feature of {'/'.join(names)}", "description": "", "activation": activation, "jsapi_ids": ids}
    answer = catalog.call("POST", f"{BASE}/features", "ada", json=body)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["id"]


def test_the_submit_is_refused_while_a_restricted_jsapi_is_not_granted(catalog):
    feature = restrict(catalog, "getLocation")
    restrict(catalog, "my.scan")  # named with its object: the same as scan; called only in a string
    answer = upload(catalog, "3.0.0", fixture_package())
    assert answer.status_code == 201, answer.get_json()
    version = answer.get_json()
    assert version["report"]["jsapis_used"] == ["getLocation"] and version["report"]["jsapis_not_granted"] == ["getLocation"]
    assert version["report"]["sourcemaps"] == ["pages/index/index.js.map"]
    assert catalog.call("GET", f"{BASE}/miniprograms/mp1/versions/{version['id']}", "dev").status_code == 404  # not assigned
    assert catalog.call("GET", f"{BASE}/miniprograms/mp1/versions/{version['id']}", "ada").get_json()["report"] == version["report"]

    launch = catalog.call("POST", f"{BASE}/miniprograms/mp1/launches", "ada", json={"version_id": version["id"], "app_id": APP})
    submit = f"{BASE}/miniprograms/mp1/launches/{launch.get_json()['id']}/submit"
    refused = catalog.call("POST", submit, "ada")
    assert refused.status_code == 409 and refused.headers["Content-Type"] == "application/problem+json"
    problem = refused.get_json()
    assert problem["type"] == "urn:mpdp:problem:jsapis-not-granted" and problem["jsapis"] == ["getLocation"]
    assert catalog.published("catalog.launch.submitted") == []

    granted = catalog.call("POST", f"{BASE}/miniprograms/mp1/features", "ada", json={"feature_id": feature})
    assert granted.get_json()["status"] == "active"
    assert catalog.call("POST", submit, "ada").status_code == 200  # checked against the grants at submit time


def test_source_maps_are_blobs_announced_by_reference(catalog):
    assert upload(catalog, "3.0.0", fixture_package()).status_code == 201
    [added] = catalog.published("catalog.version.sourcemaps_added")
    [blob] = added["payload"]["sourcemaps"]
    assert added["payload"]["version"] == "3.0.0" and blob["js_path"] == "pages/index/index.js"
    store = catalog.app.extensions["catalog_blobs"]
    assert b"".join(store.open(blob["sha256"]).chunks) == (FIXTURE / "pages/index/index.js.map").read_bytes()
    assert b"".join(store.open(blob["source_sha256"]).chunks) == (FIXTURE / "pages/index/index.js").read_bytes()

    without = upload(catalog, "3.0.1", make_package({"pages/index/index.js": (FIXTURE / "pages/index/index.js").read_bytes()}))
    assert without.get_json()["report"]["sourcemaps"] == []
    path = f"{BASE}/miniprograms/mp1/versions/{without.get_json()['id']}/sourcemaps"

    def send(*files: tuple[str, bytes], account: str = "ada"):
        form = {"files": [(io.BytesIO(content), name) for name, content in files]}
        return catalog.call("POST", path, account, data=form, content_type="multipart/form-data")

    the_map = (FIXTURE / "pages/index/index.js.map").read_bytes()
    assert send(("index.js.map", the_map), account="rex").status_code == 403
    refused = send(("pages/other.js.map", the_map), ("pages/index/index.js.map", b"{}"))
    assert refused.status_code == 422 and len(refused.get_json()["errors"]["files"]) == 2
    added = send(("index.js.map", the_map))  # a bare name maps the one index.js
    assert added.status_code == 201, added.get_json()
    assert added.get_json() == {"sourcemaps": ["pages/index/index.js.map"]}
    assert catalog.call("GET", path.rsplit("/", 1)[0], "ada").get_json()["report"]["sourcemaps"] == ["pages/index/index.js.map"]
    assert len(catalog.published("catalog.version.sourcemaps_added")) == 2


def test_the_workspace_limits_the_package_size(catalog):
    data = make_package({"pages/index/index.js": "Page({})", "assets/noise.bin": os.urandom(256 * 1024)})
    assert upload(catalog, "3.0.0", data).status_code == 201  # 256 KiB, under the default 8 MiB
    settings = {
        "workspace_id": WS,
        "revision": 1,
        "logo_url": None,
        "favicon_url": None,
        "service_email": None,
        "domains": {"primary": None, "alternatives": []},
        "tester_whitelist_enabled": False,
        "about_us_url": None,
        "terms_of_service_url": None,
        "package_size_limit_bytes": 100_000,
    }
    catalog.deliver("workspace.settings.updated", settings, WS)
    refused = upload(catalog, "3.0.1", data)
    assert refused.status_code == 413
    problem = refused.get_json()
    assert problem["size"] == len(data) and problem["limit"] == 100_000
    assert f"{len(data)} bytes" in problem["detail"] and "100000" in problem["detail"]
