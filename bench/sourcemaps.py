"""Resolving crashes through source maps: what it costs per event, in the telemetry service's own
code on its embedded storage (SQLite), against a crash of the same shape recorded without maps.

- `record_*_us_per_event`: one error event grouped into its issue and committed
  (`crashes.record_event`): with no resolution step at all (as before maps existed), of a mini
  program that has no maps (nothing is read), of a version without maps of one that has some, and
  of a version whose maps are cached;
- `lookup_without_maps_us_per_event`: what resolution adds for a version without maps (one
  indexed read); `no_frames_us_per_event` for an event without stack frames (nothing is read);
- `resolve_with_maps_us_per_event`: the read and the resolution of the crash's 3 frames (2 of them
  mapped, with context lines), maps cached; `resolve_frames_us_per_event` the resolution alone;
- `parse_<size>_ms`: reading and parsing a map and its minified file the first time (a cold
  cache), for the small page of tests/fixtures and for a map of `--lines` lines.

    .venv/bin/python bench/sourcemaps.py [--events 2000] [--lines 200000] [--short]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from _platform import arguments, figures

from mpdp_common.blobs import Spool, blob_store_for, spool_directory
from mpdp_common.testing import Harness
from mpdp_telemetry import crashes, sourcemaps
from mpdp_telemetry.models import MiniProgram
from mpdp_telemetry.service import service

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "minified" / "pages" / "index"


def crash(event_id: str, release: str = "shop@1.0.0") -> dict:
    """The crash that the fixture's minified page throws, as a JavaScript SDK reports it."""
    frames = [
        {"filename": "app:///lib/vendor.js", "function": "run", "lineno": 3, "colno": 9, "in_app": False},
        {"abs_path": "app:///pages/index/index.js", "function": "Object.onCheckout", "lineno": 1, "colno": 325, "in_app": True},
        {"abs_path": "app:///pages/index/index.js", "function": "e", "lineno": 1, "colno": 158, "in_app": True},
    ]
    exception = {"type": "Error", "value": "Over budget: 0.00 CNY", "stacktrace": {"frames": frames}}
    return {"event_id": event_id, "release": release, "platform": "javascript", "exception": {"values": [exception]}}


def put(settings, data: bytes) -> str:
    spool = Spool(spool_directory(settings), len(data))
    spool.write(data)
    blob_store_for(settings).put(spool)
    return spool.sha256


def big_map(lines: int) -> tuple[bytes, bytes]:
    """A map of `lines` generated lines, each mapped to the next line of one source (`AACA`: the
    same column, one line down), with its sourcesContent, and the minified file it maps."""
    source = "\n".join(f"  total += cart.items[{number}].price; // line {number}" for number in range(lines))
    document = {
        "version": 3,
        "sources": ["src/big.js"],
        "names": [],
        "mappings": "AAAA" + ";AACA" * (lines - 1),
        "sourcesContent": [source],
    }
    return json.dumps(document).encode(), "\n".join("t+=c.i[0].p;" for _ in range(lines)).encode()


def timed(call, rounds: int) -> float:
    """Microseconds per call, the median of 5 runs of `rounds` calls."""
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(rounds):
            call()
        runs.append((time.perf_counter() - started) / rounds * 1e6)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=200_000)
    args = arguments(parser, events=200, lines=20_000)

    harness = Harness(service, tempfile.mkdtemp(prefix="mpdp-bench-sourcemaps-"))
    settings = harness.settings
    with harness.sessions() as session:
        miniprogram = MiniProgram(id=secrets.token_hex(8), workspace_id="ws", telemetry_id=1, user_count=0, name="Bench")
        plain = MiniProgram(id=secrets.token_hex(8), workspace_id="ws", telemetry_id=2, user_count=0, name="Plain")
        session.add_all([miniprogram, plain])
        session.commit()
        the_map, minified = (FIXTURE / "index.js.map").read_bytes(), (FIXTURE / "index.js").read_bytes()
        ref = {
            "sha256": put(settings, the_map),
            "source_sha256": put(settings, minified),
            "size": len(the_map),
            "source_size": len(minified),
        }
        harness.deliver(
            "catalog.version.sourcemaps_added",
            {
                "version_id": "v1",
                "miniprogram_id": miniprogram.id,
                "workspace_id": "ws",
                "version": "1.0.0",
                "sourcemaps": [{"js_path": "pages/index/index.js", "map_path": "pages/index/index.js.map", **ref}],
            },
        )

        session.refresh(miniprogram)  # has_sourcemaps, as the handler left it

        def record(target: MiniProgram, release: str, with_settings: bool):
            def one() -> None:
                event = crash(secrets.token_hex(16), release=release)
                crashes.record_event(session, target, event, settings if with_settings else None)
                session.commit()

            return one

        kinds = {
            "record_before_maps": (plain, "shop@0.9.0", False),
            "record_no_maps_at_all": (plain, "shop@0.9.0", True),
            "record_version_without_maps": (miniprogram, "shop@0.9.0", True),
            "record_with_maps": (miniprogram, "shop@1.0.0", True),
        }
        for target, release, with_settings in kinds.values():
            record(target, release, with_settings)()  # warm: the issue exists, the map is parsed
        runs: dict[str, list[float]] = {label: [] for label in kinds}
        for _ in range(3):  # interleaved, so that a growing database weighs on each alike
            for label, (target, release, with_settings) in kinds.items():
                runs[label].append(timed(record(target, release, with_settings), max(args.events // 20, 1)))
        results = {f"{label}_us_per_event": statistics.median(values) for label, values in runs.items()}

        rounds = max(args.events // 5, 1)
        results["lookup_without_maps_us_per_event"] = timed(
            lambda: sourcemaps.resolve(session, settings, miniprogram.id, "0.9.0", crash("x")), rounds
        )
        results["resolve_with_maps_us_per_event"] = timed(
            lambda: sourcemaps.resolve(session, settings, miniprogram.id, "1.0.0", crash("x")), rounds
        )
        refs = sourcemaps.maps_of(session, miniprogram.id, "1.0.0")
        cache = sourcemaps.map_cache(settings)
        results["resolve_frames_us_per_event"] = timed(lambda: sourcemaps.resolve_event(crash("x"), refs, cache), rounds)
        results["no_frames_us_per_event"] = timed(
            lambda: sourcemaps.resolve(session, settings, miniprogram.id, "1.0.0", {"message": "m"}), rounds
        )

    big, big_source = big_map(args.lines)
    cold = sourcemaps.MapCache(blob_store_for(settings))
    sizes = {"fixture": (the_map, minified), "big": (big, big_source)}
    for label, (data, source) in sizes.items():
        started = time.perf_counter()
        parsed = cold.get(sourcemaps.MapRef("x.js", "x.js.map", put(settings, data), put(settings, source), len(data) + len(source)))
        results[f"parse_{label}_ms"] = (time.perf_counter() - started) * 1000
        assert parsed is not None
    results["big_map_mb"] = len(big) / 1e6
    results["load_average"] = os.getloadavg()[0]
    harness.close()

    for name, value in results.items():
        print(f"{name:42} {value:10.1f}")
    print(
        f"a crash of a version without maps costs {results['lookup_without_maps_us_per_event']:.0f} µs more (one indexed read); "
        f"with its maps cached, resolving its frames {results['resolve_frames_us_per_event']:.0f} µs"
    )
    figures("sourcemaps", **{name: round(value, 2) for name, value in results.items()})


if __name__ == "__main__":
    main()
