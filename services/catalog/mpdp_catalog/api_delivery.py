"""Delivery to host apps: what a user may run, and its package, for requests signed with an app key.

This is the hottest path of the platform (every app start of every user): one read of the app's
rows in the delivery read model (delivery.py), with the app key, and the HMAC check, no marshmallow, and an ETag
so that an app whose answer has not changed gets a 304.
"""

from __future__ import annotations

import hashlib
import json

from flask import Response, request
from flask_smorest import Blueprint
from sqlalchemy import select

from mpdp_common.appkeys import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signed_request
from mpdp_common.auth import public
from mpdp_common.crypto import secret_box
from mpdp_common.errors import not_found, validation_failed
from mpdp_common.openapi import APP_KEY, problems
from mpdp_common.request_db import db_session
from mpdp_common.web import current_settings

from . import delivery, schemas
from .api_versions import PACKAGE_DOC, package_response
from .models import AppKey, Deliverable
from .schemas import SEMVER

client = Blueprint("client", __name__, url_prefix="/client/v1", description="Delivery to host apps, signed with an app key")

#: the signature beside the app key (`appKey`, `X-MPDP-Key`); 401 when it is missing or wrong
SIGNATURE_PARAMETERS = [
    {
        "in": "header",
        "name": TIMESTAMP_HEADER,
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
        "description": "unix seconds, within 5 minutes of the server's clock",
    },
    {
        "in": "header",
        "name": SIGNATURE_HEADER,
        "required": True,
        "schema": {"type": "string"},
        "description": 'hex(HMAC-SHA256(secret, "{timestamp}\\n{method}\\n{path}\\n{query}"))',
    },
]


def signed_app_key() -> AppKey:
    return verify_signed_request(
        db_session(),
        AppKey,
        secret_box(current_settings()),
        headers=request.headers,
        method=request.method,
        path=request.path,
        query=request.query_string.decode("latin-1"),
    )


@client.route("/miniprograms", methods=["GET"])
@public
@client.response(200, schemas.DeliverablesSchema, headers={"ETag": {"schema": {"type": "string"}}})
@client.doc(
    security=APP_KEY,
    operationId="client_list_miniprograms",
    parameters=[
        *SIGNATURE_PARAMETERS,
        {"in": "query", "name": "user_id", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 128}},
        {
            "in": "query",
            "name": "host_version",
            "required": False,
            "schema": {"type": "string", "maxLength": 64},
            "description": "the host app's version (semver): a launch that needs a newer host is not offered, the newest "
            "earlier release it runs is",
        },
        {
            "in": "header",
            "name": "If-None-Match",
            "required": False,
            "schema": {"type": "string"},
            "description": "the ETag answered before",
        },
    ],
    responses={
        "304": {"description": "Not modified: If-None-Match named the answer's ETag", "headers": {"ETag": {"schema": {"type": "string"}}}}
    },
)
@problems(422)
def deliverable_miniprograms() -> Response:
    """The mini programs this app may run for one user

    For each mini program, the version the user gets: the released one, a grayscale one for the
    share of users its percentage says (stable per user), a pilot one for whitelisted testers."""
    user_id = request.args.get("user_id", "")
    if not 0 < len(user_id) <= 128:
        raise validation_failed({"user_id": ["Name the host app's user (1 to 128 characters)."]})
    host_version = request.args.get("host_version")
    if host_version is not None and (len(host_version) > 64 or not SEMVER.match(host_version)):
        raise validation_failed({"host_version": ["The host app's version, a semantic version like 8.2.0."]})
    # One read: the key with its app's rows. The key lands in the session, where the signature
    # check finds it; the rows are used only once the signature holds.
    key_id = (request.headers.get(KEY_HEADER) or "").strip()
    found = (
        db_session()
        .execute(select(AppKey, Deliverable).outerjoin(Deliverable, Deliverable.app_id == AppKey.app_id).where(AppKey.key_id == key_id))
        .all()
    )  # holding the key: the session keeps it only while something refers to it
    signed_app_key()
    rows = [row for _key, row in found if row is not None]
    body = json.dumps({"items": delivery.choose(rows, user_id, host_version)}, separators=(",", ":"))
    etag = hashlib.sha256(body.encode()).hexdigest()[:32]
    if request.if_none_match.contains(etag):
        return Response(status=304, headers={"ETag": f'"{etag}"', "Cache-Control": "no-cache"})
    return Response(body, mimetype="application/json", headers={"ETag": f'"{etag}"', "Cache-Control": "no-cache"})


@client.route("/miniprograms/<mp>/versions/<version_id>/package", methods=["GET"])
@public
@client.doc(
    security=APP_KEY,
    operationId="client_download_package",
    parameters=SIGNATURE_PARAMETERS + PACKAGE_DOC["parameters"],
    responses=PACKAGE_DOC["responses"],
)
@problems(416)
def deliverable_package(mp: str, version_id: str) -> Response:
    """Download a package this app delivers: the exact bytes, conditional and ranged"""
    key = signed_app_key()
    row = db_session().scalar(
        select(Deliverable).where(Deliverable.app_id == key.app_id, Deliverable.miniprogram_id == mp, Deliverable.version_id == version_id)
    )
    if row is None:
        raise not_found("package for this app")
    return package_response(row.version_id, row.version, row.sha256, row.size)
