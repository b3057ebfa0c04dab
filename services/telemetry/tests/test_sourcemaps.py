"""Crashes resolved through the source maps that the catalog announces by reference: frames of a
bundle minified by terser back to their original file, line, column and function with context
lines, the minified frame kept as `raw`; grouping by resolved frames; a crash that came before
its maps resolved when they are added."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from mpdp_common.blobs import Spool, blob_store_for, spool_directory
from mpdp_telemetry import sourcemaps

FIXTURE = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "minified"
MAP = (FIXTURE / "pages/index/index.js.map").read_bytes()
MINIFIED = (FIXTURE / "pages/index/index.js").read_bytes()


def put(harness, data: bytes) -> str:
    spool = Spool(spool_directory(harness.settings), len(data))
    spool.write(data)
    blob_store_for(harness.settings).put(spool)
    return spool.sha256


def announce_maps(harness, ws: str, mp: str, version: str) -> None:
    harness.deliver(
        "catalog.version.sourcemaps_added",
        {
            "version_id": secrets.token_hex(8),
            "miniprogram_id": mp,
            "workspace_id": ws,
            "version": version,
            "sourcemaps": [
                {
                    "js_path": "pages/index/index.js",
                    "map_path": "pages/index/index.js.map",
                    "sha256": put(harness, MAP),
                    "size": len(MAP),
                    "source_sha256": put(harness, MINIFIED),
                    "source_size": len(MINIFIED),
                }
            ],
        },
        ws,
    )


def crash(event_id: str, release: str = "shop@1.0.0", **frame_changes: object) -> dict:
    """The crash that the minified page throws, as a JavaScript SDK reports it (innermost frame last)."""
    return {
        "event_id": event_id,
        "release": release,
        "platform": "javascript",
        "exception": {
            "values": [
                {
                    "type": "Error",
                    "value": "Over budget: 0.00 CNY",
                    "stacktrace": {
                        "frames": [
                            {"filename": "app:///lib/vendor.js", "function": "run", "lineno": 3, "colno": 9, "in_app": False},
                            {
                                "abs_path": "app:///pages/index/index.js",
                                "function": "Object.onCheckout",
                                "lineno": 1,
                                "colno": 325,
                                "in_app": True,
                            },
                            {"abs_path": "app:///pages/index/index.js", "function": "e", "lineno": 1, "colno": 158, "in_app": True}
                            | frame_changes,
                        ]
                    },
                }
            ]
        },
    }


def send(harness, key: str, telemetry_id: int, event: dict) -> None:
    body = b"{}\n" + json.dumps({"type": "event"}).encode() + b"\n" + json.dumps(event).encode() + b"\n"
    answer = harness.http.post(f"/ingest/sentry/api/{telemetry_id}/envelope/?sentry_key={key}", data=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)


def issues(harness, ws: str) -> list[dict]:
    listed = harness.get(f"/api/v1/workspaces/{ws}/quality/issues", "ada").get_json()["items"]
    return [harness.get(f"/api/v1/workspaces/{ws}/quality/issues/{item['id']}", "ada").get_json() for item in listed]


def frames_of(issue: dict) -> list[dict]:
    return issue["latest_event"]["exception"]["values"][0]["stacktrace"]["frames"]


def test_a_crash_of_a_version_with_maps_comes_back_in_the_original_source(harness):
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 7)
    key = harness.app_key(ws)
    announce_maps(harness, ws, mp, "1.0.0")
    send(harness, key, 7, crash("a" * 32))

    [issue] = issues(harness, ws)
    vendor, handler, thrower = frames_of(issue)
    assert vendor == crash("x")["exception"]["values"][0]["stacktrace"]["frames"][0]  # no map: as it came
    assert (thrower["filename"], thrower["lineno"], thrower["colno"], thrower["function"]) == (
        "src/pages/index/index.js",
        12,
        11,
        "checkout",
    )
    assert thrower["context_line"].strip() == 'throw new Error("Over budget: " + formatPrice(total));'
    assert thrower["pre_context"][-1].strip() == "if (total > cart.budget) {" and len(thrower["pre_context"]) == 5
    assert thrower["post_context"][0].strip() == "}"
    assert thrower["raw"] == crash("x")["exception"]["values"][0]["stacktrace"]["frames"][2]
    assert thrower["data"] == {"sourcemap": "pages/index/index.js.map"}
    assert (handler["lineno"], handler["function"]) == (23, "Object.onCheckout")
    assert issue["culprit"] == "src/pages/index/index.js in checkout"

    # The same bug reported from another position of the bundle is the same issue: grouping reads
    # the resolved frames (file and function), never positions.
    rebuilt = crash("b" * 32)
    rebuilt["exception"]["values"][0]["stacktrace"]["frames"][1] |= {"colno": 296}
    send(harness, key, 7, rebuilt)
    [again] = issues(harness, ws)
    assert again["id"] == issue["id"] and again["count"] == 2

    # Another version has no maps: its crash stays minified.
    send(harness, key, 7, crash("c" * 32, release="shop@0.9.0"))
    minified = [item for item in issues(harness, ws) if item["id"] != issue["id"]]
    assert [frames_of(item)[2]["function"] for item in minified] == ["e"]


def test_a_crash_that_came_before_its_maps_is_resolved_when_they_are_added(harness):
    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 8)
    key = harness.app_key(ws)
    send(harness, key, 8, crash("d" * 32, release="2.0.0"))
    [before] = issues(harness, ws)
    assert frames_of(before)[2]["function"] == "e" and "raw" not in frames_of(before)[2]

    announce_maps(harness, ws, mp, "2.0.0")
    [after] = issues(harness, ws)
    assert after["id"] == before["id"]
    assert (frames_of(after)[2]["function"], frames_of(after)[2]["lineno"]) == ("checkout", 12)
    assert after["culprit"] == "src/pages/index/index.js in checkout"
    # The same maps again (the event delivered twice, or replaced by the same): resolved from `raw`, unchanged.
    announce_maps(harness, ws, mp, "2.0.0")
    assert issues(harness, ws) == [after]


def test_frames_belong_to_the_file_their_path_ends_with():
    refs = [
        sourcemaps.MapRef("index.js", "index.js.map", "a", "b", 1),
        sourcemaps.MapRef("pages/index/index.js", "pages/index/index.js.map", "c", "d", 1),
    ]
    match = lambda where: (sourcemaps.map_for({"abs_path": where}, refs) or sourcemaps.MapRef("", "", "", "", 0)).js_path  # noqa: E731
    assert match("app:///pages/index/index.js") == "pages/index/index.js"
    assert match("https://host.example/pkg/pages/index/index.js?v=3#x") == "pages/index/index.js"
    assert match("/index.js") == "index.js"
    assert match("app:///pages/index/notindex.js") == ""
    assert sourcemaps.map_for({"function": "f"}, refs) is None


def test_an_unreadable_map_leaves_the_frames_as_they_came(harness):
    cache = sourcemaps.MapCache(blob_store_for(harness.settings))
    ref = sourcemaps.MapRef("pages/index/index.js", "pages/index/index.js.map", "0" * 64, "1" * 64, 10)
    event = crash("e" * 32)
    assert sourcemaps.resolve_event(event, [ref], cache) is False
    assert event == crash("e" * 32) and cache.get(ref) is None and cache.loads == 0


def test_an_issue_is_answered_resolved_even_when_its_crash_was_recorded_as_its_maps_came(harness, monkeypatch):
    """The consumer resolved the issues it could see; a crash committed just after is resolved when read."""
    from mpdp_telemetry import crashes

    ws = harness.workspace("ada")
    mp = harness.miniprogram(ws, 9)
    key = harness.app_key(ws)
    send(harness, key, 9, crash("f" * 32, release="3.0.0"))
    monkeypatch.setattr(crashes, "resolve_issues", lambda *args: 0)  # as if the crash had not been committed yet
    announce_maps(harness, ws, mp, "3.0.0")
    [issue] = issues(harness, ws)
    assert (frames_of(issue)[2]["function"], frames_of(issue)[2]["raw"]["function"]) == ("checkout", "e")
