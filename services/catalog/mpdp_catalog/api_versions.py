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
from functools import cached_property
from typing import IO, Any, cast

from flask import Flask, Request, Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from mpdp_common.config import Settings
from mpdp_common.db import on_postgresql
from mpdp_common.errors import Problem, conflict, not_found, validation_failed
from mpdp_common.openapi import problems
from mpdp_common.pagination import PageQuery, page_schema, paginate
from mpdp_common.request_db import db_session
from mpdp_common.web import accepts, current_settings

from . import schemas
from .access import miniprogram_for
from .blobs import BlobStore, Spool, spool_directory
from .events import events
from .models import Version
from .packages import PackageInvalid, PackageLimits, validate_package

log = logging.getLogger(__name__)

versions = Blueprint("versions", __name__, url_prefix="/api/v1", description="Versions of mini programs and their packages")

PATH = "/workspaces/<ws>/miniprograms/<mp>/versions"
#: room for the multipart boundaries and the small form fields around the package
FORM_OVERHEAD = 64 * 1024
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

    #: the largest file part, once the view has asked for spooling; None: Werkzeug's own handling
    spool_limit: int | None = None

    def spooled_form(self, limit: int) -> tuple[MultiDict, MultiDict]:
        """The form fields and the files of this request, each file spooled, none over `limit` bytes."""
        self.max_content_length = limit + FORM_OVERHEAD
        self.spool_limit = limit
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


def _read_upload(limit: int) -> tuple[dict, Spool]:
    if (request.content_length or 0) > limit + FORM_OVERHEAD:
        raise RequestEntityTooLarge(f"The package is over the limit of {limit} bytes.")
    form, files = cast(CatalogRequest, request).spooled_form(limit)
    fields = {name: form.get(name) for name in form}
    errors: dict[str, list[str]] = {}
    try:
        fields = schemas.VersionUploadSchema().load(fields)
    except ValidationError as error:
        errors.update(cast(dict[str, list[str]], error.messages))  # a schema's messages are per field
    package = files.get("package")
    spool = package.stream if package is not None else None
    if not isinstance(spool, Spool):
        errors["package"] = ["Attach the package (a zip) as the file part named package."]
    if errors or spool is None:
        raise validation_failed(errors)
    return fields, spool


def _lock_blob(session: Session, sha256: str) -> None:
    """Serialize, per blob, "store it and commit a version" against "no version has it: delete it",
    so that a failed upload never deletes bytes that a concurrent identical upload is committing.
    The lock ends with the transaction. (The embedded mode's SQLite has one writer at a time.)"""
    if on_postgresql(session):
        session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(sha256, 0))))


def _forget_blob(sha256: str) -> None:
    """Remove a blob this request stored, unless a committed version has the same bytes."""
    session = db_session()
    session.rollback()
    _lock_blob(session, sha256)
    try:
        if session.scalar(select(Version.id).where(Version.sha256 == sha256).limit(1)) is None:
            blob_store().delete(sha256)
    except Exception:
        log.exception("could not delete the blob %s of a failed upload", sha256)
    finally:
        session.rollback()


@versions.route(PATH, methods=["POST"])
@versions.doc(requestBody={"required": True, "content": {"multipart/form-data": {"schema": schemas.VersionUploadFormSchema}}})
@versions.response(201, schemas.VersionSchema)
@accepts("multipart/form-data")
@problems(409, 422)
def upload(ws: str, mp: str) -> Version:
    """Upload a version's package

    A multipart form with `version` (semver, never reused: 409), `notes` and the `package` zip,
    checked (422 for a bad zip) and kept by its SHA-256; by an admin or an assigned developer. A
    package over the size limit is a 413."""
    member, miniprogram = miniprogram_for(ws, mp, "admin", "developer")
    fields, spool = _read_upload(current_settings().max_package_bytes)
    session = db_session()
    if session.scalar(select(Version.id).where(Version.miniprogram_id == mp, Version.version == fields["version"])):
        raise conflict(f"Version {fields['version']} of this mini program exists; a version number is never reused.")
    spool.flush()
    try:
        manifest = validate_package(spool.path, current_app.extensions["catalog_package_limits"])
    except PackageInvalid as error:
        raise validation_failed({"package": [str(error)]}, "The package is not valid.") from None

    _lock_blob(session, spool.sha256)
    stored = blob_store().put(spool)
    try:
        version = Version(
            miniprogram_id=mp,
            workspace_id=ws,
            version=fields["version"],
            notes=fields["notes"],
            size=spool.size,
            sha256=spool.sha256,
            entry_page=manifest.entry_page,
            pages=manifest.pages,
            uploaded_by=member.account_id,
        )
        session.add(version)
        session.flush()
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
        session.commit()
    except IntegrityError:
        if stored:
            _forget_blob(spool.sha256)
        raise conflict(f"Version {fields['version']} of this mini program exists; a version number is never reused.") from None
    except BaseException:
        if stored:
            _forget_blob(spool.sha256)
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
