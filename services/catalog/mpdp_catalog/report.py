"""The package report: what an uploaded package holds and which JSAPIs its code calls.

Every `.js` file is parsed with tree-sitter's JavaScript grammar (a real parser: a `my.scan()`
inside a comment, a string or a regular expression is no call), and the calls `my.<name>(...)`
and `my["<name>"](...)` are collected. A hostile package costs bounded work: a file over
`max_js_file_bytes`, or whose brackets nest deeper than `max_nesting`, is skipped with a warning;
all the parsing of one package stops after `max_seconds` (the files not parsed by then are named
in a warning); each source map is read only up to `max_sourcemap_bytes`. A warning never refuses
the upload: the report says what it could not look at.

A JSAPI that belongs to at least one feature of the workspace is restricted, granted to a mini
program only through an active feature that contains it; `not_granted` answers which of the
JSAPIs a version uses are restricted and not granted, at the moment it is asked (at upload for
the report, at submit for the launch).
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import tree_sitter_javascript
from sqlalchemy import select
from sqlalchemy.orm import Session
from tree_sitter import Language, Parser, Query, QueryCursor

from .models import Feature, FeatureActivation, Jsapi

#: how the report names the host's JSAPI object: `my.getLocation(...)`
JSAPI_OBJECT = "my"
SOURCEMAP_SUFFIX = ".js.map"

_CALLS = f"""
(call_expression
  function: (member_expression object: (identifier) @object property: (property_identifier) @name)
  (#eq? @object "{JSAPI_OBJECT}"))
(call_expression
  function: (subscript_expression object: (identifier) @object index: (string (string_fragment) @name))
  (#eq? @object "{JSAPI_OBJECT}"))
"""
_BRACKETS = bytes(range(256)).translate(None, b"()[]{}")


@dataclass(frozen=True)
class ReportLimits:
    max_js_file_bytes: int = 4 * 1024 * 1024
    #: the deepest nesting of brackets a file may have (counted over the text, strings included)
    max_nesting: int = 1000
    #: the time all the parsing of one package may take
    max_seconds: float = 10.0
    max_sourcemap_bytes: int = 32 * 1024 * 1024
    max_warnings: int = 50


@dataclass
class SourceMapEntry:
    """A `<path>.js.map` of the package and the `<path>.js` it maps."""

    map_path: str
    js_path: str


@dataclass
class PackageReport:
    size: int
    files: int
    pages: list[dict[str, Any]]
    jsapis_used: list[str]
    sourcemaps: list[str]
    warnings: list[str]
    js_files: list[str] = field(default_factory=list)
    sourcemap_entries: list[SourceMapEntry] = field(default_factory=list)

    def as_dict(self, not_granted: list[str]) -> dict[str, Any]:
        """The report as a version keeps it."""
        return {
            "size": self.size,
            "files": self.files,
            "pages": self.pages,
            "jsapis_used": self.jsapis_used,
            "jsapis_not_granted": not_granted,
            "sourcemaps": self.sourcemaps,
            "warnings": self.warnings,
        }


@cache
def _language() -> tuple[Language, Query]:
    language = Language(tree_sitter_javascript.language())
    return language, Query(language, _CALLS)


def nesting_depth(source: bytes) -> int:
    """The deepest nesting of (), [] and {} in `source`, brackets in strings and comments counted
    too: an upper bound of the syntax tree's depth that costs one pass in C and one over the brackets."""
    depth = deepest = 0
    for byte in source.translate(None, _BRACKETS):
        if byte in b"([{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth = max(depth - 1, 0)
    return deepest


class ParseTimeout(Exception):
    pass


def jsapi_calls(source: bytes, deadline: float) -> tuple[set[str], bool]:
    """The JSAPIs that `source` calls, and whether it has syntax errors; ParseTimeout past `deadline`."""
    language, query = _language()
    parser = Parser(language)
    try:
        tree = parser.parse(
            lambda offset, _point: source[offset : offset + 65536],
            progress_callback=lambda *_state: time.monotonic() > deadline,
        )
    except ValueError:  # tree-sitter's answer to a parse cancelled by the callback
        raise ParseTimeout() from None
    captures = QueryCursor(query).captures(tree.root_node)
    names = {node.text.decode("utf-8", "replace") for node in captures.get("name", []) if node.text}
    return names, tree.root_node.has_error


def sourcemap_problem(data: bytes) -> str | None:
    """Why these bytes are no usable source map, or None when they are one (version 3, with
    mappings; an index map with `sections` is not taken)."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return "not JSON"
    if not isinstance(document, dict) or document.get("version") != 3 or not isinstance(document.get("mappings"), str):
        return "not a source map (version 3, with mappings)"
    return None


def _sourcemap_problem(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ReportLimits) -> str | None:
    if info.file_size > limits.max_sourcemap_bytes:
        return f"{info.filename} is {info.file_size} bytes, over the {limits.max_sourcemap_bytes} bytes a source map may have"
    problem = sourcemap_problem(archive.read(info))
    return f"{info.filename} is {problem}" if problem else None


def analyze(path: str, pages: list[str], size: int, limits: ReportLimits | None = None) -> PackageReport:
    """The report of a package that `validate_package` accepted, from its file at `path`."""
    limits = limits or ReportLimits()
    warnings: list[str] = []
    used: set[str] = set()
    deadline = time.monotonic() + limits.max_seconds
    not_parsed: list[str] = []
    with zipfile.ZipFile(path) as archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        names = {info.filename for info in infos}
        page_sizes = [
            {"page": page, "size": sum(info.file_size for info in infos if info.filename.startswith(f"{page}."))} for page in pages
        ]
        js_files = sorted(info.filename for info in infos if info.filename.endswith(".js"))
        maps: list[SourceMapEntry] = []
        for info in sorted(infos, key=lambda item: item.filename):
            name = info.filename
            if name.endswith(SOURCEMAP_SUFFIX):
                js_path = name[: -len(".map")]
                problem = (
                    f"{name} maps {js_path}, which the package does not hold" if js_path not in names else None
                ) or _sourcemap_problem(archive, info, limits)
                if problem:
                    warnings.append(f"{problem}; it is not used.")
                else:
                    maps.append(SourceMapEntry(map_path=name, js_path=js_path))
                continue
            if not name.endswith(".js"):
                continue
            if info.file_size > limits.max_js_file_bytes:
                warnings.append(
                    f"{name} is {info.file_size} bytes, over the {limits.max_js_file_bytes} bytes a file may have to be parsed; "
                    "its JSAPI calls are not counted."
                )
                continue
            if not_parsed or time.monotonic() > deadline:
                not_parsed.append(name)
                continue
            source = archive.read(info)
            depth = nesting_depth(source)
            if depth > limits.max_nesting:
                warnings.append(
                    f"{name} nests {depth} levels of brackets, deeper than the {limits.max_nesting} that are parsed; "
                    "its JSAPI calls are not counted."
                )
                continue
            try:
                calls, has_errors = jsapi_calls(source, deadline)
            except ParseTimeout:
                not_parsed.append(name)
                continue
            used |= calls
            if has_errors:
                warnings.append(f"{name} has syntax errors; the JSAPI calls in the parts that parse are counted.")
    if not_parsed:
        warnings.append(
            f"The package's code took more than {limits.max_seconds:g} s to parse; these files were not: "
            + ", ".join(not_parsed[:20])
            + (f" and {len(not_parsed) - 20} more" if len(not_parsed) > 20 else "")
            + "."
        )
    if len(warnings) > limits.max_warnings:
        warnings = [*warnings[: limits.max_warnings], f"... and {len(warnings) - limits.max_warnings} more warnings."]
    return PackageReport(
        size=size,
        files=len(infos),
        pages=page_sizes,
        jsapis_used=sorted(used),
        sourcemaps=[entry.map_path for entry in maps],
        warnings=warnings,
        js_files=js_files,
        sourcemap_entries=maps,
    )


def jsapi_name(name: str) -> str:
    """A JSAPI's name as code calls it: `getLocation` and `my.getLocation` are the call `my.getLocation(...)`."""
    prefix = f"{JSAPI_OBJECT}."
    return name[len(prefix) :] if name.startswith(prefix) else name


def not_granted(session: Session, workspace_id: str, miniprogram_id: str, used: Iterable[str]) -> list[str]:
    """Which of the JSAPIs in `used` are restricted (in at least one feature of the workspace) and
    not granted to the mini program (in none of its active features), as of now."""
    used = set(used)
    if not used:
        return []
    jsapis = {
        jsapi_id: jsapi_name(name)
        for jsapi_id, name in session.execute(select(Jsapi.id, Jsapi.name).where(Jsapi.workspace_id == workspace_id))
    }
    restricted: set[str] = set()
    granted: set[str] = set()
    active = set(
        session.scalars(
            select(FeatureActivation.feature_id).where(
                FeatureActivation.miniprogram_id == miniprogram_id, FeatureActivation.status == "active"
            )
        )
    )
    for feature_id, jsapi_ids in session.execute(select(Feature.id, Feature.jsapi_ids).where(Feature.workspace_id == workspace_id)):
        names = {jsapis[jsapi_id] for jsapi_id in jsapi_ids or [] if jsapi_id in jsapis}
        restricted |= names
        if feature_id in active:
            granted |= names
    return sorted(name for name in used if name in restricted and name not in granted)
