"""The app factory's promises, on a small service of the test's own: problems for every error,
request ids, readiness naming what is down, secrets kept out of the access log."""

from __future__ import annotations

import base64
import io
import json
import logging
from dataclasses import replace
from datetime import datetime

import pytest
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mpdp_common.auth import public
from mpdp_common.db import created_at_column
from mpdp_common.logs import redact_path
from mpdp_common.pagination import PageQuery, page_schema, paginate
from mpdp_common.request_db import db_session
from mpdp_common.service import Service
from mpdp_common.testing import Harness
from mpdp_common.web import create_app


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "things"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime] = created_at_column()


class ThingSchema(Schema):
    name = fields.String(required=True)


blueprint = Blueprint("things", __name__, url_prefix="/api/v1")


@blueprint.route("/things", methods=["POST"])
@blueprint.arguments(ThingSchema)
@blueprint.response(201, ThingSchema)
@public
def create(body):
    session = db_session()
    session.add(Thing(name=body["name"]))
    session.commit()
    return body


@blueprint.route("/things", methods=["GET"])
@blueprint.arguments(PageQuery, location="query")
@blueprint.response(200, page_schema(ThingSchema))
@public
def list_things(query):
    return paginate(db_session(), select(Thing), query, Thing.created_at, Thing.name)


@blueprint.route("/boom", methods=["GET"])
@public
def boom():
    raise RuntimeError("secret internals")


@pytest.fixture
def app(tmp_path):
    service = Service(name="demo", package="mpdp_common", blueprints=[blueprint], metadata=Base.metadata)
    harness = Harness(service, tmp_path, max_body_bytes=4096)
    yield harness.app
    harness.close()


def is_problem(response, status):
    """A problem document of that status, its `type` one of the platform's."""
    if response.status_code != status or response.headers["Content-Type"] != "application/problem+json":
        return False
    return response.get_json()["type"].startswith("urn:mpdp:problem:")


def test_errors_are_problems_without_internals(app, caplog):
    client = app.test_client()
    with caplog.at_level(logging.ERROR):
        crashed = client.get("/api/v1/boom")
    assert is_problem(crashed, 500) and "secret internals" not in crashed.get_data(as_text=True)
    assert "secret internals" in caplog.text  # the trace is logged
    assert is_problem(client.get("/api/v1/nothing"), 404)
    assert is_problem(client.delete("/api/v1/things"), 405)
    assert is_problem(client.post("/api/v1/things", data="x" * 8192, content_type="application/json"), 413)
    assert is_problem(client.post("/api/v1/things", data="name=a", content_type="text/plain"), 415)
    assert is_problem(client.post("/api/v1/things", data="{", content_type="application/json"), 400)
    assert is_problem(client.post("/api/v1/things", data="[" * 1500 + "]" * 1500, content_type="application/json"), 400)
    invalid = client.post("/api/v1/things", json={"name": 5, "color": "red"})
    assert is_problem(invalid, 422) and set(invalid.get_json()["errors"]) == {"name", "color"}
    assert invalid.get_json()["type"] == "urn:mpdp:problem:validation"
    assert client.get("/api/v1/nothing").get_json()["type"] == "urn:mpdp:problem:not-found"


def test_a_repeated_create_is_a_conflict_not_a_crash(app):
    client = app.test_client()
    assert client.post("/api/v1/things", json={"name": "a"}).status_code == 201
    assert is_problem(client.post("/api/v1/things", json={"name": "a"}), 409)


def test_request_ids_are_echoed_or_made(app):
    client = app.test_client()
    assert client.get("/healthz", headers={"X-Request-Id": "abc-1"}).headers["X-Request-Id"] == "abc-1"
    made = client.get("/healthz", headers={"X-Request-Id": "not allowed; <script>"}).headers["X-Request-Id"]
    assert made and "<" not in made


def test_readiness_names_the_database_when_it_is_down(app):
    assert app.test_client().get("/readyz").get_json()["checks"] == {"database": "ok"}
    service = app.extensions["mpdp"].service
    unreachable = replace(app.extensions["mpdp"].settings, database_url="postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    down = create_app(service, unreachable).test_client().get("/readyz")
    assert is_problem(down, 503) and "database" in down.get_json()["detail"]
    assert down.get_json()["checks"]["database"].startswith("unavailable")


def test_metrics_are_prometheus_text_with_one_charset(app):
    answer = app.test_client().get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/plain; version=1.0.0; charset=utf-8"


def test_a_path_is_served_as_sent_never_redirected(app):
    """A redirect from a service behind the gateway would name the service's own address."""
    client = app.test_client()
    assert client.post("/api/v1/things", json={"name": "a"}).status_code == 201
    for path in ("/api//v1/things", "/api/v1//things"):
        answer = client.get(path)
        assert is_problem(answer, 404) and "Location" not in answer.headers
    trailing = client.get("/api/v1/things/")
    assert trailing.status_code == 200 and "Location" not in trailing.headers


def test_invitation_tokens_are_masked_in_logged_paths():
    assert redact_path("/api/v1/invitations/s3cr3t-token/accept") == "/api/v1/invitations/***/accept"
    assert redact_path("/api/v1/workspaces/w1/invitations/abc") == "/api/v1/workspaces/w1/invitations/abc"


def test_a_lone_surrogate_in_a_json_string_is_a_bad_request(app):
    client = app.test_client()
    answer = client.post("/api/v1/things", data='{"name": "\\ud800x"}', content_type="application/json")
    assert is_problem(answer, 400) and "surrogate" in answer.get_json()["detail"]
    nested = client.post("/api/v1/things", data='{"name": "a", "x": [{"y": "\\udfff"}]}', content_type="application/json")
    assert is_problem(nested, 400)
    # A surrogate pair that names a real character is fine.
    assert client.post("/api/v1/things", data='{"name": "\\ud83d\\ude00"}', content_type="application/json").status_code == 201


def test_a_cursor_whose_time_is_out_of_range_is_refused(app):
    client = app.test_client()
    for name in ("a", "b", "c"):
        assert client.post("/api/v1/things", json={"name": name}).status_code == 201
    first = client.get("/api/v1/things?limit=2").get_json()
    assert [item["name"] for item in first["items"]] == ["a", "b"]
    assert [item["name"] for item in client.get(f"/api/v1/things?cursor={first['next_cursor']}").get_json()["items"]] == ["c"]
    for moment in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        cursor = base64.urlsafe_b64encode(json.dumps([moment, "a"]).encode()).decode()
        answer = client.get(f"/api/v1/things?cursor={cursor}")
        assert is_problem(answer, 422) and "cursor" in answer.get_json()["errors"]


def test_a_method_a_route_does_not_take_is_405_whatever_the_body(app):
    client = app.test_client()
    for body in ({"data": "name=a", "content_type": "text/plain"}, {"json": {"name": "a"}}, {}):
        answer = client.put("/api/v1/things", **body)
        assert is_problem(answer, 405), answer.status_code
        assert set(answer.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_a_chunked_json_body_over_the_limit_is_413_not_broken_json(app):
    client = app.test_client()

    def chunked(body: bytes):
        return client.post(
            "/api/v1/things",
            input_stream=io.BytesIO(body),
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )

    assert is_problem(chunked(b'{"name": "' + b"n" * 8192 + b'"}'), 413)
    assert chunked(b'{"name": "chunky"}').status_code == 201


def test_the_openapi_document_tells_the_truth_about_errors_tokens_and_bodies(app):
    client = app.test_client()
    document = client.get("/openapi.json").get_json()
    for name, response in document["components"]["responses"].items():
        assert list(response["content"]) == ["application/problem+json"], name
    assert document["paths"]["/api/v1/things"]["post"]["security"] == []  # a public endpoint
    assert document["paths"]["/api/v1/things"]["post"]["requestBody"]["required"] is True
    missing = client.post("/api/v1/things")
    assert is_problem(missing, 400) and "body" in missing.get_json()["detail"]
    assert is_problem(client.post("/api/v1/things", data="", content_type="application/json"), 400)


class TagsSchema(Schema):
    tags = fields.List(fields.String(validate=validate.Length(max=2)))

    @validates("tags")
    def _distinct(self, value, **_kwargs):
        if len(set(value)) != len(value):
            raise ValidationError("Each tag once.")


@blueprint.route("/tags", methods=["PUT"])
@blueprint.arguments(TagsSchema)
@blueprint.response(200, TagsSchema)
@public
def put_tags(body):
    return body


def test_messages_by_list_index_beside_a_field_message_are_a_422(app):
    answer = app.test_client().put("/api/v1/tags", json={"tags": ["a", "long", "a"]})
    assert is_problem(answer, 422)
    assert answer.get_json()["errors"] == {"tags": {"1": ["Longer than maximum length 2."], "_schema": ["Each tag once."]}}
