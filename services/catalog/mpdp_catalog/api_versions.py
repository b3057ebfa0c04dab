"""Versions: a multipart upload of a package, validated and stored by its SHA-256, and the exact
bytes back.

The package is never held in memory: the multipart parser writes it into a `Spool` (see
`CatalogRequest`), which hashes it on the way; the zip is validated from that file, and the blob
store takes the file over. A refused upload leaves nothing behind: no row, no blob, no spool.
"""

from __future__ import annotations

import logging
import os
import time
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, Any, cast

from flask import Flask, Request, Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from mpdp_common.blobs import BlobStore, Spool, spool_directory
from mpdp_common.config import Settings
from mpdp_common.db import on_postgresql, utcnow
from mpdp_common.errors import Problem, conflict, not_found, validation_failed
from mpdp_common.openapi import problems
from mpdp_common.pagination import PageQuery, page_schema, paginate
from mpdp_common.request_db import db_session
from mpdp_common.web import accepts, current_settings

from . import schemas
from .access import miniprogram_for
from .events import events
from .models import SourceMap, Version, Workspace, WorkspaceSettings
from .packages import PackageInvalid, PackageLimits, validate_package
from .report import SOURCEMAP_SUFFIX, ReportLimits, analyze, not_granted, sourcemap_problem

log = logging.getLogger(__name__)

versions = Blueprint("versions", __name__, url_prefix="/api/v1", description="Versions of mini programs and their packages")

PATH = "/workspaces/<ws>/miniprograms/<mp>/versions"
#: room for the multipart boundaries and the small form fields around the package
FORM_OVERHEAD = 64 * 1024
#: a workspace's package size limit while its settings name none
DEFAULT_PACKAGE_SIZE_LIMIT = 8 * 1024 * 1024
_ZIP = {"application/zip": {"schema": {"type": "string", "format": "binary"}}}
_ETAG = {"ETag": {"description": "the package's SHA-256", "schema": {"type": "string"}}}
#: how `package_response` answers, as the OpenAPI document says it
PACKAGE_DOC: dict[str, Any] = {
    "parameters": [
        {
            "in": "header",
            "name": "Range",
            "required": False,
            "schema": {"type": "string"},
            "description": "one range of bytes, to resume (`bytes=1024-`); several, or one past the end, are a 416",
        },
        {
            "in": "header",
            "name": "If-Range",
            "required": False,
            "schema": {"type": "string"},
            "description": "the ETag: the range only while the package is these bytes, else the whole package",
        },
        {
            "in": "header",
            "name": "If-None-Match",
            "required": False,
            "schema": {"type": "string"},
            "description": "an ETag: 304 when it is the package's",
        },
        {
            "in": "header",
            "name": "If-Match",
            "required": False,
            "schema": {"type": "string"},
            "description": "an ETag: 412 unless it is the package's",
        },
    ],
    "responses": {
        "200": {
            "description": "The exact bytes uploaded",
            "headers": _ETAG | {"Accept-Ranges": {"schema": {"type": "string", "enum": ["bytes"]}}},
            "content": _ZIP,
        },
        "206": {
            "description": "The range asked for",
            "headers": _ETAG | {"Content-Range": {"description": "`bytes <first>-<last>/<size>`", "schema": {"type": "string"}}},
            "content": _ZIP,
        },
        "304": {"description": "Not modified: If-None-Match named the package's ETag", "headers": _ETAG},
        "412": {"description": "If-Match named other bytes", "headers": _ETAG},
    },
}


class CatalogRequest(Request):
    """A request whose upload view can have its file parts spooled to disk through hashing `Spool`s."""

    #: the most bytes a file part keeps, once the view has asked for spooling; None: Werkzeug's own handling
    spool_limit: int | None = None

    def spooled_form(self, part_limit: int, body_limit: int) -> tuple[MultiDict, MultiDict]:
        """The form fields and the files of this request, each file spooled. A part keeps at most
        `part_limit` bytes and counts the rest (`Spool.over_limit`); a body over `body_limit` is a 413."""
        self.max_content_length = body_limit + FORM_OVERHEAD
        self.spool_limit = part_limit
        return self.form, self.files

    def _get_file_stream(
        self, total_content_length: int | None, content_type: str | None, filename: str | None = None, content_length: int | None = None
    ) -> IO[bytes]:
        if self.spool_limit is None:
            return super()._get_file_stream(total_content_length, content_type, filename, content_length)
        spool = Spool(spool_directory(current_settings()), self.spool_limit)
        self.spools.append(spool)
        return cast(IO[bytes], spool)  # a file as werkzeug uses one (write, seek, read), not a whole typing.IO

    @cached_property
    def spools(self) -> list[Spool]:
        return []


def discard_spools(_exc: BaseException | None = None) -> None:
    """teardown_request: whatever an upload spooled and nobody took over is deleted."""
    for spool in cast(CatalogRequest, request).spools:
        spool.discard()


def blob_store() -> BlobStore:
    return current_app.extensions["catalog_blobs"]


def package_too_large(size: int, limit: int, exact: bool = True) -> Problem:
    """413 naming the package's size and the limit (`size` is the body's when the package was not read)."""
    said = f"{size} bytes" if exact else f"about {size} bytes (the request's length)"
    return Problem(
        413,
        f"The package is {said}, over this workspace's limit of {limit} bytes (its setting package_size_limit_bytes).",
        extensions={"size": size, "limit": limit},
    )


def package_size_limit(session: Session, ws: str) -> int:
    """The workspace's `package_size_limit_bytes`, else its tenant's, else the default; never over the
    platform's own ceiling (MPDP_MAX_PACKAGE_BYTES)."""
    ceiling = current_settings().max_package_bytes
    workspace = session.get(Workspace, ws)
    for workspace_id in (ws, workspace.parent_id if workspace else None):
        row = session.get(WorkspaceSettings, workspace_id) if workspace_id else None
        if row is not None and row.package_size_limit_bytes:
            return min(row.package_size_limit_bytes, ceiling)
    return min(DEFAULT_PACKAGE_SIZE_LIMIT, ceiling)


def _read_upload(limit: int) -> tuple[dict, Spool]:
    ceiling = max(limit, current_settings().max_package_bytes)
    if (request.content_length or 0) > ceiling + FORM_OVERHEAD:
        raise package_too_large(request.content_length or 0, limit, exact=False)
    form, files = cast(CatalogRequest, request).spooled_form(limit, ceiling)
    fields = {name: form.get(name) for name in form}
    errors: dict[str, list[str]] = {}
    try:
        fields = schemas.VersionUploadSchema().load(fields)
    except ValidationError as error:
        errors.update(cast(dict[str, list[str]], error.messages))  # a schema's messages are per field
    package = files.get("package")
    spool = package.stream if package is not None else None
    if isinstance(spool, Spool) and spool.over_limit:
        raise package_too_large(spool.size, limit)
    if not isinstance(spool, Spool):
        errors["package"] = ["Attach the package (a zip) as the file part named package."]
    if errors or spool is None:
        raise validation_failed(errors)
    return fields, spool


def _lock_blobs(session: Session, *sha256s: str) -> None:
    """Serialize, per blob, "store it and commit a version" against "no version has it: delete it",
    so that a failed upload never deletes bytes that a concurrent identical upload is committing.
    The locks end with the transaction, taken in one order so that two uploads never wait on each
    other. (The embedded mode's SQLite has one writer at a time.)"""
    if on_postgresql(session):
        for sha256 in sorted(set(sha256s)):
            session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(sha256, 0))))


def _blob_in_use(session: Session, sha256: str) -> bool:
    return any(
        session.scalar(select(column).where(column == sha256).limit(1)) is not None
        for column in (Version.sha256, SourceMap.sha256, SourceMap.source_sha256)
    )


def _forget_blobs(sha256s: list[str]) -> None:
    """Remove the blobs this request stored, unless something committed has the same bytes."""
    if not sha256s:
        return
    session = db_session()
    session.rollback()
    _lock_blobs(session, *sha256s)
    try:
        for sha256 in sha256s:
            if not _blob_in_use(session, sha256):
                blob_store().delete(sha256)
    except Exception:
        log.exception("could not delete the blobs %s of a failed upload", sha256s)
    finally:
        session.rollback()


@dataclass
class _Blobs:
    """The blobs one request put in the store, to take back if it fails."""

    stored: list[str] = field(default_factory=list)

    def put(self, spool: Spool, content_type: str) -> None:
        if blob_store().put(spool, content_type):
            self.stored.append(spool.sha256)


def _spool_bytes(data: bytes) -> Spool:
    spool = Spool(spool_directory(current_settings()), len(data))
    cast(CatalogRequest, request).spools.append(spool)
    spool.write(data)
    spool.flush()
    return spool


def _store_sourcemap(
    session: Session, blobs: _Blobs, version: Version, js_path: str, map_path: str, map_spool: Spool, source: bytes, origin: str, by: str
) -> SourceMap:
    """Put a map and the minified file it maps in the store, and keep them as the version's map of `js_path`."""
    source_spool = _spool_bytes(source)
    _lock_blobs(session, map_spool.sha256, source_spool.sha256)
    map_sha, map_size = map_spool.sha256, map_spool.size
    blobs.put(map_spool, "application/json")
    blobs.put(source_spool, "text/javascript")
    row = session.get(SourceMap, (version.id, js_path)) or SourceMap(version_id=version.id, js_path=js_path)
    row.map_path, row.sha256, row.size = map_path, map_sha, map_size
    row.source_sha256, row.source_size = source_spool.sha256, source_spool.size
    row.origin, row.added_by, row.added_at = origin, by, utcnow()
    session.add(row)
    return row


def _publish_sourcemaps(session: Session, version: Version, rows: list[SourceMap]) -> None:
    """Tell telemetry where the maps are: their blobs' SHA-256, never their bytes (megabytes) in the broker."""
    events.publish(
        session,
        "catalog.version.sourcemaps_added",
        {
            "version_id": version.id,
            "miniprogram_id": version.miniprogram_id,
            "workspace_id": version.workspace_id,
            "version": version.version,
            "sourcemaps": [
                {
                    "js_path": row.js_path,
                    "map_path": row.map_path,
                    "sha256": row.sha256,
                    "size": row.size,
                    "source_sha256": row.source_sha256,
                    "source_size": row.source_size,
                }
                for row in rows
            ],
        },
        workspace_id=version.workspace_id,
        aggregate_id=version.id,
    )


@versions.route(PATH, methods=["POST"])
@versions.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": schemas.VersionUploadFormSchema}}})
@versions.response(201, schemas.VersionSchema)
@accepts("multipart/form-data")
@problems(409, 413, 422)
def upload(ws: str, mp: str) -> Version:
    """Upload a version's package

    A multipart form with `version` (semver, never reused: 409), `notes` and the `package` zip,
    checked (422 for a bad zip) and kept by its SHA-256; by an admin or an assigned developer. A
    package over the workspace's `package_size_limit_bytes` (default 8 MiB) is a 413 that names
    its `size` and the `limit`, refused while it streams in, before it is stored. The version
    keeps a `report`: its pages and their sizes, the JSAPIs its code calls (every `.js` file
    parsed) and those not granted to the mini program, its source maps (`*.js.map`) and warnings."""
    member, miniprogram = miniprogram_for(ws, mp, "admin", "developer")
    session = db_session()
    fields, spool = _read_upload(package_size_limit(session, ws))
    if session.scalar(select(Version.id).where(Version.miniprogram_id == mp, Version.version == fields["version"])):
        raise conflict(f"Version {fields['version']} of this mini program exists; a version number is never reused.")
    spool.flush()
    try:
        manifest = validate_package(spool.path, current_app.extensions["catalog_package_limits"])
    except PackageInvalid as error:
        raise validation_failed({"package": [str(error)]}, "The package is not valid.") from None
    report = analyze(spool.path, manifest.pages, spool.size, current_app.extensions["catalog_report_limits"])
    with zipfile.ZipFile(spool.path) as archive:
        maps = [(entry, archive.read(entry.map_path), archive.read(entry.js_path)) for entry in report.sourcemap_entries]
    package_sha = spool.sha256

    blobs = _Blobs()
    try:
        _lock_blobs(session, package_sha)
        blobs.put(spool, "application/zip")
        version = Version(
            miniprogram_id=mp,
            workspace_id=ws,
            version=fields["version"],
            notes=fields["notes"],
            size=spool.size,
            sha256=package_sha,
            entry_page=manifest.entry_page,
            pages=manifest.pages,
            uploaded_by=member.account_id,
            report=report.as_dict(not_granted(session, ws, mp, report.jsapis_used)),
            js_files=report.js_files,
        )
        session.add(version)
        session.flush()
        rows = [
            _store_sourcemap(
                session, blobs, version, entry.js_path, entry.map_path, _spool_bytes(data), source, "package", member.account_id
            )
            for entry, data, source in maps
        ]
        events.publish(
            session,
            "catalog.version.uploaded",
            {
                "version_id": version.id,
                "miniprogram_id": miniprogram.id,
                "workspace_id": ws,
                "version": version.version,
                "sha256": version.sha256,
                "size": version.size,
                "uploaded_by": version.uploaded_by,
                "uploaded_at": version.created_at.isoformat(),
            },
            workspace_id=ws,
            aggregate_id=version.id,
        )
        if rows:
            _publish_sourcemaps(session, version, rows)
        session.commit()
    except IntegrityError:
        _forget_blobs(blobs.stored)
        raise conflict(f"Version {fields['version']} of this mini program exists; a version number is never reused.") from None
    except BaseException:
        _forget_blobs(blobs.stored)
        raise
    return version


@versions.route(PATH, methods=["GET"])
@versions.arguments(PageQuery, location="query")
@versions.response(200, page_schema(schemas.VersionSchema))
def list_versions(query: dict[str, Any], ws: str, mp: str) -> dict[str, Any]:
    """List a mini program's versions, oldest first"""
    miniprogram_for(ws, mp)
    return paginate(db_session(), select(Version).where(Version.miniprogram_id == mp), query, Version.created_at, Version.id)


def _version(ws: str, mp: str, version_id: str) -> Version:
    miniprogram_for(ws, mp)
    version = db_session().get(Version, version_id)
    if version is None or version.miniprogram_id != mp:
        raise not_found("version")
    return version


@versions.route(f"{PATH}/<version_id>", methods=["GET"])
@versions.response(200, schemas.VersionSchema)
def get_version(ws: str, mp: str, version_id: str) -> Version:
    """One version"""
    return _version(ws, mp, version_id)


def _spooled_package(version: Version) -> Spool:
    """The version's stored package in a spool file of this request (deleted at its end)."""
    spool = Spool(spool_directory(current_settings()), current_settings().max_package_bytes)
    cast(CatalogRequest, request).spools.append(spool)
    try:
        for chunk in blob_store().open(version.sha256).chunks:
            spool.write(chunk)
    except Exception:
        log.exception("the package %s of version %s is missing from the blob store", version.sha256, version.id)
        raise Problem(503, "The package cannot be read from storage right now; try again shortly.") from None
    spool.flush()
    return spool


def _package_sources(version: Version, js_paths: set[str]) -> dict[str, bytes]:
    """The minified files `js_paths` out of the version's stored package."""
    with zipfile.ZipFile(_spooled_package(version).path) as archive:
        held = set(archive.namelist())
        return {path: archive.read(path) for path in sorted(js_paths) if path in held}


def _files_of(version: Version) -> dict[str, tuple[int, int]]:
    """Each file of the version's package with its CRC-32 and size, from the zip's directory alone."""
    with zipfile.ZipFile(_spooled_package(version).path) as archive:
        return {info.filename: (info.CRC, info.file_size) for info in archive.infolist() if not info.is_dir()}


@versions.route(f"{PATH}/<version_id>/changes", methods=["GET"])
@versions.arguments(schemas.VersionChangesQuery, location="query")
@versions.response(200, schemas.VersionChangesSchema)
@problems(404)
def version_changes(query: dict[str, Any], ws: str, mp: str, version_id: str) -> dict[str, Any]:
    """What a version changes from another of the mini program: the files added, removed and changed, and the size

    For a reviewer to see what changes from the version live on a host app (a file is changed
    when its CRC-32 or its size differ)."""
    version, before = _version(ws, mp, version_id), _version(ws, mp, query["base"])
    now, then = _files_of(version), _files_of(before)
    return {
        "version_id": version.id,
        "from_version_id": before.id,
        "files_added": sorted(set(now) - set(then)),
        "files_removed": sorted(set(then) - set(now)),
        "files_changed": sorted(name for name in set(now) & set(then) if now[name] != then[name]),
        "size_change": version.size - before.size,
    }


def _mapped_file(name: str, js_files: list[str] | None) -> str | None:
    """The package's `.js` file that a map named `name` maps: `<path>.js.map` maps `<path>.js`;
    a bare file name (`index.js.map`) maps the one `.js` file of that name, if there is one."""
    if not name.endswith(SOURCEMAP_SUFFIX):
        return None
    js_path = name[: -len(".map")]
    while js_path.startswith("./"):
        js_path = js_path[2:]
    js_path = js_path.lstrip("/")
    if js_files is None or js_path in js_files:
        return js_path
    alike = [path for path in js_files if path.endswith("/" + js_path)]
    return alike[0] if len(alike) == 1 else None


@versions.route(f"{PATH}/<version_id>/sourcemaps", methods=["POST"])
@versions.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": schemas.SourceMapsUploadFormSchema}}})
@versions.response(201, schemas.SourceMapsSchema)
@accepts("multipart/form-data")
@problems(413, 422)
def add_sourcemaps(ws: str, mp: str, version_id: str) -> dict[str, Any]:
    """Add source maps to a version

    Multipart `files`, each a source map named `<path>.js.map` after the package's `<path>.js`
    (a bare `name.js.map` is taken for the one `.js` file of that name); a map for a file that
    has one replaces it. By an admin or an assigned developer. The crashes of that version are
    resolved through them from now on, and its issues' latest events at once. Answers every
    source map of the version."""
    member, _miniprogram = miniprogram_for(ws, mp, "admin", "developer")
    version = _version(ws, mp, version_id)
    limits: ReportLimits = current_app.extensions["catalog_report_limits"]
    _form, files = cast(CatalogRequest, request).spooled_form(limits.max_sourcemap_bytes, current_settings().max_package_bytes)
    parts = files.getlist("files")
    if not parts:
        raise validation_failed({"files": ["Attach one or more source maps as file parts named files."]})
    errors: list[str] = []
    taken: dict[str, tuple[str, Spool]] = {}
    for part in parts:
        name, spool = part.filename or "", part.stream
        js_path = _mapped_file(name, version.js_files)
        if not isinstance(spool, Spool):
            errors.append(f"{name}: not a file.")
        elif js_path is None:
            errors.append(f"{name}: name a map `<path>.js.map` after a .js file of the package.")
        elif spool.over_limit:
            errors.append(f"{name}: {spool.size} bytes, over the {limits.max_sourcemap_bytes} bytes a source map may have.")
        elif problem := sourcemap_problem(_spooled_bytes(spool)):
            errors.append(f"{name}: {problem}.")
        else:
            taken[js_path] = (js_path + ".map", spool)
    if errors:
        raise validation_failed({"files": errors}, "Some source maps cannot be used.")
    sources = _package_sources(version, set(taken))
    missing = sorted(set(taken) - set(sources))  # only where the version's files were not listed at upload
    if missing:
        raise validation_failed(
            {"files": [f"{path}.map: the package holds no {path}." for path in missing]}, "Some source maps cannot be used."
        )
    session = db_session()
    blobs = _Blobs()
    try:
        rows = [
            _store_sourcemap(session, blobs, version, js_path, map_path, spool, sources[js_path], "upload", member.account_id)
            for js_path, (map_path, spool) in sorted(taken.items())
        ]
        session.flush()
        every = sorted(session.scalars(select(SourceMap.map_path).where(SourceMap.version_id == version.id)))
        if version.report is not None:
            version.report = {**version.report, "sourcemaps": every}
        _publish_sourcemaps(session, version, rows)
        session.commit()
    except BaseException:
        _forget_blobs(blobs.stored)
        raise
    return {"sourcemaps": every}


def _spooled_bytes(spool: Spool) -> bytes:
    spool.flush()
    spool.seek(0)
    return spool.read()


@versions.route(f"{PATH}/<version_id>/package", methods=["GET"])
@versions.doc(**PACKAGE_DOC)
@problems(416)
def download(ws: str, mp: str, version_id: str) -> Response:
    """Download a version's package: the exact bytes uploaded, conditional and ranged"""
    version = _version(ws, mp, version_id)
    return package_response(version.id, version.version, version.sha256, version.size)


def package_response(version_id: str, version: str, sha256: str, size: int) -> Response:
    """The package's exact bytes with its SHA-256 as ETag: conditional (If-None-Match) and ranged
    (a single Range, If-Range) so that a client resumes, from whichever blob store keeps it."""
    db_session().close()  # a long download holds no database connection
    response = Response(mimetype="application/zip")
    response.headers.set("Content-Disposition", "attachment", filename=f"{version}.zip")
    response.cache_control.no_cache = True
    response.set_etag(sha256)
    # Werkzeug answers from the ETag and the size alone, as send_file would for a file: 304, 206
    # with its Content-Range, or 416 (so for several ranges too). Only then is the store read, for
    # exactly the bytes answered.
    response.make_conditional(request, accept_ranges=True, complete_length=size)
    if response.status_code not in (200, 206):  # 304, or 412 for an If-Match naming other bytes
        return response
    asked = request.range if response.status_code == 206 else None  # a 200 answers the whole package
    byte_range = asked.range_for_length(size) if asked else None
    try:
        blob = blob_store().open(sha256, byte_range)
    except Exception:
        log.exception("the package %s of version %s is missing from the blob store", sha256, version_id)
        raise Problem(503, "The package cannot be read from storage right now; try again shortly.") from None
    response.response, response.content_length = blob.chunks, blob.size
    return response


#: A spool file this old belongs to no upload in progress: its worker was killed mid-upload.
STALE_SPOOL_SECONDS = 3600


def sweep_stale_spools(directory: str) -> None:
    if not os.path.isdir(directory):
        return
    cutoff = time.time() - STALE_SPOOL_SECONDS
    for entry in os.scandir(directory):
        try:
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
        except OSError:
            pass


def setup_uploads(app: Flask, settings: Settings) -> None:
    sweep_stale_spools(spool_directory(settings))
    app.request_class = CatalogRequest
    app.teardown_request(discard_spools)
    app.extensions["catalog_package_limits"] = PackageLimits()
    app.extensions["catalog_report_limits"] = ReportLimits()
