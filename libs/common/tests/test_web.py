"""The app factory's promises, on a small service of the test's own: problems for every error,
request ids, readiness naming what is down, secrets kept out of the access log."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mpdp_common.auth import public
from mpdp_common.logs import redact_path
from mpdp_common.request_db import db_session
from mpdp_common.service import Service
from mpdp_common.testing import Harness


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = "things"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)


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
    return response.status_code == status and response.headers["Content-Type"] == "application/problem+json"


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
    down = service.create_app(unreachable).test_client().get("/readyz")
    assert is_problem(down, 503) and "database" in down.get_json()["detail"]
    assert down.get_json()["checks"]["database"].startswith("unavailable")


def test_invitation_tokens_are_masked_in_logged_paths():
    assert redact_path("/api/v1/invitations/s3cr3t-token/accept") == "/api/v1/invitations/***/accept"
    assert redact_path("/api/v1/workspaces/w1/invitations/abc") == "/api/v1/workspaces/w1/invitations/abc"
