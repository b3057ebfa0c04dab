"""Crashes resolved through their version's source maps, with Sentry's `symbolic`.

The catalog keeps each map, and the minified file it maps, as blobs of the package store under
their SHA-256, and says so in `catalog.version.sourcemaps_added`; telemetry keeps those references
(`SourceMap`) and reads the blobs from the same store when a crash needs them. The event carries
a reference, not megabytes; a blob never changes under its key, so a reference never goes stale;
no service reads another's tables and no crash waits on a call to the catalog.

A frame belongs to the package file whose path its `abs_path` (or `filename`) ends with
(`app:///pages/index/index.js` is `pages/index/index.js`). A resolved frame names the original
file, line, column and function, with lines of source around it where the map has
`sourcesContent`, and keeps the minified frame as `raw`. Parsed maps are kept in a cache bounded
by their bytes, shared by the threads of a process. A crash of a mini program that never had
maps, or without stack frames, reads nothing more; one of a version without maps, one indexed read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from symbolic.sourcemap import SourceMapView, SourceView

from mpdp_common.blobs import BlobStore, blob_store_for, read_blob
from mpdp_common.config import Settings
from mpdp_common.db import utcnow
from mpdp_common.events import Event

from .models import MiniProgram, SourceMap

log = logging.getLogger(__name__)

#: lines of original source kept before and after a resolved frame's line, and the length of each
CONTEXT_LINES = 5
MAX_LINE = 200
#: frames of one event that get context lines (all of them are resolved)
MAX_FRAMES_WITH_CONTEXT = 50
#: the largest map or minified file read from the store
MAX_BLOB_BYTES = 64 * 1024 * 1024
#: the bytes of maps and minified files a process keeps parsed
CACHE_BYTES = 256 * 1024 * 1024
#: how long a map that could not be read is not tried again
RETRY_SECONDS = 60.0


@dataclass
class ParsedMap:
    view: SourceMapView
    source: SourceView
    size: int
    #: the original sources' lines by source index, split once (symbolic answers a line per call)
    lines: dict[int, list[str]] = field(default_factory=dict)

    def source_lines(self, index: int) -> list[str]:
        found = self.lines.get(index)
        if found is None:
            content = self.view.get_source_contents(index)
            found = self.lines[index] = content.splitlines() if content else []
        return found


@dataclass(frozen=True)
class MapRef:
    js_path: str
    map_path: str
    sha256: str
    source_sha256: str
    size: int


class MapCache:
    """Parsed maps by (map SHA-256, minified file SHA-256), the least recently used dropped first
    once their bytes pass `limit`; a map that failed to load is remembered for `RETRY_SECONDS`."""

    def __init__(self, store: BlobStore, limit: int = CACHE_BYTES):
        self.store = store
        self.limit = limit
        self.size = 0
        self._maps: OrderedDict[tuple[str, str], ParsedMap] = OrderedDict()
        self._failed: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, ref: MapRef) -> ParsedMap | None:
        key = (ref.sha256, ref.source_sha256)
        with self._lock:
            found = self._maps.get(key)
            if found is not None:
                self._maps.move_to_end(key)
                return found
            if self._failed.get(key, 0.0) > time.monotonic():
                return None
        parsed = self._load(ref)  # outside the lock: other threads keep resolving with what is cached
        with self._lock:
            if parsed is None:
                self._failed[key] = time.monotonic() + RETRY_SECONDS
                return None
            if key not in self._maps:
                self._maps[key] = parsed
                self.size += parsed.size
            while self.size > self.limit and len(self._maps) > 1:
                _key, dropped = self._maps.popitem(last=False)
                self.size -= dropped.size
            return self._maps.get(key, parsed)

    def _load(self, ref: MapRef) -> ParsedMap | None:
        try:
            data = read_blob(self.store, ref.sha256, MAX_BLOB_BYTES)
            source = read_blob(self.store, ref.source_sha256, MAX_BLOB_BYTES)
            self.loads += 1
            return ParsedMap(view=SourceMapView.from_json_bytes(data), source=SourceView.from_bytes(source), size=len(data) + len(source))
        except Exception:
            log.warning("the source map %s of %s cannot be read", ref.map_path, ref.js_path, exc_info=True)
            return None


@cache
def _caches(blob_store: str, data_dir: str, bucket: str, endpoint: str) -> MapCache:
    settings = Settings(blob_store=blob_store, data_dir=data_dir, s3_bucket=bucket, s3_endpoint_url=endpoint)
    return MapCache(blob_store_for(settings))


def map_cache(settings: Settings) -> MapCache:
    """This process's cache of parsed maps for the store that `settings` name."""
    return _caches(settings.blob_store, settings.data_dir, settings.s3_bucket, settings.s3_endpoint_url)


def frame_path(frame: dict) -> str:
    """The path of a frame's file, without scheme, host, query or fragment."""
    where = frame.get("abs_path") or frame.get("filename")
    if not isinstance(where, str):
        return ""
    return urlsplit(where).path if "://" in where else where.split("?", 1)[0].split("#", 1)[0]


def map_for(frame: dict, refs: list[MapRef]) -> MapRef | None:
    """The map of the package file whose path the frame's path ends with (the longest such)."""
    path = frame_path(frame)
    if not path:
        return None
    found = [ref for ref in refs if path == ref.js_path or path.endswith("/" + ref.js_path)]
    return max(found, key=lambda ref: len(ref.js_path)) if found else None


def _line(text: str) -> str:
    return text[:MAX_LINE]


def resolve_frame(frame: dict, ref: MapRef, parsed: ParsedMap, with_context: bool) -> dict | None:
    """The frame in the original source, keeping the minified one as `raw`; None where the map says nothing."""
    line, column = frame.get("lineno"), frame.get("colno")
    if not isinstance(line, int) or not isinstance(column, int) or isinstance(line, bool) or line < 1 or column < 1:
        return None
    function = frame.get("function") if isinstance(frame.get("function"), str) else None
    token = parsed.view.lookup(line - 1, column - 1, function, parsed.source) if function else parsed.view.lookup(line - 1, column - 1)
    if token is None or not token.src:
        return None
    resolved = {key: value for key, value in frame.items() if key not in ("module", "pre_context", "context_line", "post_context", "vars")}
    resolved |= {
        "filename": token.src,
        "abs_path": token.src,
        "lineno": token.src_line + 1,
        "colno": token.src_col + 1,
        "function": token.function_name or function or "?",
        "data": {"sourcemap": ref.map_path},
        "raw": frame,
    }
    sources = parsed.source_lines(token.src_id) if with_context and token.src_id is not None else []
    if token.src_line < len(sources):
        resolved["pre_context"] = [_line(text) for text in sources[max(token.src_line - CONTEXT_LINES, 0) : token.src_line]]
        resolved["context_line"] = _line(sources[token.src_line])
        resolved["post_context"] = [_line(text) for text in sources[token.src_line + 1 : token.src_line + 1 + CONTEXT_LINES]]
    return resolved


def _stacktraces(event: dict) -> Iterator[dict]:
    """The stack traces of an event's exceptions and threads, and its own, as dicts that can be changed."""
    for part in ("exception", "threads"):
        values = event.get(part)
        values = values.get("values") if isinstance(values, dict) else None
        for value in values if isinstance(values, list) else []:
            if isinstance(value, dict) and isinstance(value.get("stacktrace"), dict):
                yield value["stacktrace"]
    if isinstance(event.get("stacktrace"), dict):
        yield event["stacktrace"]


def has_frames(event: dict) -> bool:
    return any(isinstance(trace.get("frames"), list) and trace["frames"] for trace in _stacktraces(event))


def maps_of(session: Session, miniprogram_id: str, version: str) -> list[MapRef]:
    rows = session.execute(
        select(
            SourceMap.js_path, SourceMap.map_path, SourceMap.sha256, SourceMap.source_sha256, SourceMap.size + SourceMap.source_size
        ).where(SourceMap.miniprogram_id == miniprogram_id, SourceMap.version == version)
    )
    return [MapRef(*row) for row in rows]


def resolve_event(event: dict, refs: list[MapRef], cache_: MapCache) -> bool:
    """Resolve the event's frames in place, each from its minified frame (`raw`) where it was
    resolved before; True if any frame changed."""
    changed = False
    with_context = MAX_FRAMES_WITH_CONTEXT
    for trace in _stacktraces(event):
        frames = trace.get("frames")
        if not isinstance(frames, list):
            continue
        resolved_frames = []
        # the innermost frames (the end of the list) get the context lines first
        for frame in reversed(frames):
            resolved = None
            if isinstance(frame, dict):
                minified = frame["raw"] if isinstance(frame.get("raw"), dict) else frame
                ref = map_for(minified, refs)
                parsed = cache_.get(ref) if ref is not None else None
                if ref is not None and parsed is not None:
                    resolved = resolve_frame(minified, ref, parsed, with_context > 0)
            if resolved is not None:
                with_context -= 1
                changed = changed or resolved != frame
            resolved_frames.append(resolved or frame)
        trace["frames"] = resolved_frames[::-1]
    return changed


def resolve(session: Session, settings: Settings, miniprogram_id: str, version: str, event: dict) -> dict:
    """The event with its frames resolved through its version's maps, or as it came when it has none."""
    if not has_frames(event):
        return event
    refs = maps_of(session, miniprogram_id, version)
    if refs:
        resolve_event(event, refs, map_cache(settings))
    return event


def learn(session: Session, event: Event) -> list[MapRef]:
    """Keep the references of the maps a version got (a map for a file replaces the one it had)."""
    payload = event.payload
    miniprogram = session.get(MiniProgram, payload["miniprogram_id"], with_for_update=True)
    if miniprogram is not None:  # else its `created` event, when it comes, sees the maps
        miniprogram.has_sourcemaps = True
    refs = []
    for item in payload["sourcemaps"]:
        row = session.get(SourceMap, (payload["miniprogram_id"], payload["version"], item["js_path"]), with_for_update=True)
        if row is None:
            row = SourceMap(miniprogram_id=payload["miniprogram_id"], version=payload["version"], js_path=item["js_path"])
            session.add(row)
        row.map_path, row.sha256, row.size = item["map_path"], item["sha256"], item["size"]
        row.source_sha256, row.source_size, row.learned_at = item["source_sha256"], item["source_size"], utcnow()
        refs.append(MapRef(item["js_path"], item["map_path"], item["sha256"], item["source_sha256"], item["size"] + item["source_size"]))
    return refs
