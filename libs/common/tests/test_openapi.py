"""What every service's OpenAPI document says by convention (mpdp_common.openapi): operation ids,
security, the problems each kind of operation answers, required answer fields, nullable objects."""

from __future__ import annotations

import pytest
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy.orm import DeclarativeBase

from mpdp_common.appkeys import KEY_HEADER
from mpdp_common.auth import public
from mpdp_common.idempotency import idempotent
from mpdp_common.openapi import APP_KEY, operation_id, problems
from mpdp_common.schemas import ResponseSchema
from mpdp_common.service import Service
from mpdp_common.testing import Harness


class Base(DeclarativeBase):
    pass


class ColorSchema(ResponseSchema):
    name = fields.String()


class GadgetSchema(ResponseSchema):
    id = fields.String()
    color = fields.Nested(ColorSchema, allow_none=True)
    note = fields.String(metadata={"optional": True})


class GadgetCreateSchema(Schema):
    name = fields.String(required=True)
    note = fields.String()


gadgets = Blueprint("gadgets", __name__, url_prefix="/api/v1")


@gadgets.route("/workspaces/<ws>/gadgets", methods=["POST"])
@idempotent
@gadgets.arguments(GadgetCreateSchema)
@gadgets.response(201, GadgetSchema)
def create_gadget(body, ws):
    """Create a gadget"""


@gadgets.route("/workspaces/<ws>/gadgets/<gadget_id>", methods=["PATCH"])
@gadgets.arguments(GadgetCreateSchema)
@gadgets.response(200, GadgetSchema)
@problems(409)
def patch_gadget(body, ws, gadget_id):
    """Change a gadget"""


@gadgets.route("/gadgets/<gadget_id>/ping", methods=["POST"])
@public
@gadgets.response(204)
@gadgets.doc(security=APP_KEY)
def ping(gadget_id):
    """Ping a gadget with a host app's key"""


@gadgets.route("/gadget-catalog", methods=["GET"])
@gadgets.response(200, GadgetSchema(many=True))
@public
def gadget_catalog():
    """Every gadget there is"""


@pytest.fixture
def document(tmp_path):
    harness = Harness(Service(name="demo", package="mpdp_common", blueprints=[gadgets], metadata=Base.metadata), tmp_path)
    yield harness.app.test_client().get("/openapi.json").get_json()
    harness.close()


def test_an_operation_id_is_the_resource_and_the_verb_of_its_view():
    assert operation_id("launches.get_launch") == "launches_get"
    assert operation_id("launches.list_launches") == "launches_list"
    assert operation_id("launches.publish") == "launches_publish"
    assert operation_id("miniprograms.patch_miniprogram") == "miniprograms_update"
    assert operation_id("miniprograms.put_testers") == "miniprograms_replace_testers"
    assert operation_id("miniprograms.list_miniprogram_features") == "miniprograms_list_features"
    assert operation_id("api_keys.revoke_api_key") == "api_keys_revoke"
    assert operation_id("members.change_role") == "members_change_role"


def test_every_operation_has_an_id_a_summary_and_its_security(document):
    operations = {
        (path, method): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
    }
    assert {key: operation["operationId"] for key, operation in operations.items()} == {
        ("/api/v1/workspaces/{ws}/gadgets", "post"): "gadgets_create",
        ("/api/v1/workspaces/{ws}/gadgets/{gadget_id}", "patch"): "gadgets_update",
        ("/api/v1/gadgets/{gadget_id}/ping", "post"): "gadgets_ping",
        ("/api/v1/gadget-catalog", "get"): "gadgets_catalog",
    }
    assert operations[("/api/v1/workspaces/{ws}/gadgets", "post")]["summary"] == "Create a gadget"
    security = {path: operation["security"] for (path, _method), operation in operations.items()}
    assert security == {
        "/api/v1/workspaces/{ws}/gadgets": [{"bearerAuth": []}],
        "/api/v1/workspaces/{ws}/gadgets/{gadget_id}": [{"bearerAuth": []}],
        "/api/v1/gadgets/{gadget_id}/ping": [{"appKey": []}],
        "/api/v1/gadget-catalog": [],
    }
    app_key = document["components"]["securitySchemes"]["appKey"]
    assert (app_key["type"], app_key["in"], app_key["name"]) == ("apiKey", "header", KEY_HEADER)


def test_each_kind_of_operation_documents_the_problems_it_answers(document):
    def problems_of(path, method):
        return sorted(status for status in document["paths"][path][method]["responses"] if status[0] in "45")

    # a create in a workspace: a body, a token, a membership, an Idempotency-Key
    assert problems_of("/api/v1/workspaces/{ws}/gadgets", "post") == ["400", "401", "403", "404", "409", "413", "415", "422"]
    assert problems_of("/api/v1/workspaces/{ws}/gadgets/{gadget_id}", "patch") == ["400", "401", "403", "404", "409", "413", "415", "422"]
    assert problems_of("/api/v1/gadgets/{gadget_id}/ping", "post") == ["401", "404"]
    assert problems_of("/api/v1/gadget-catalog", "get") == []
    conflict = document["paths"]["/api/v1/workspaces/{ws}/gadgets/{gadget_id}"]["patch"]["responses"]["409"]
    assert conflict == {"$ref": "#/components/responses/CONFLICT"}
    problem = document["components"]["responses"]["CONFLICT"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert sorted(document["components"]["schemas"]["Problem"]["required"]) == ["detail", "status", "title", "type"]
    create = document["paths"]["/api/v1/workspaces/{ws}/gadgets"]["post"]
    assert [parameter["name"] for parameter in create["parameters"]] == ["Idempotency-Key"]


def test_an_answer_lists_every_field_it_always_has_as_required(document):
    schemas = document["components"]["schemas"]
    assert schemas["Gadget"]["required"] == ["color", "id"]  # `note` may be left out
    assert schemas["GadgetCreate"]["required"] == ["name"]  # a request says what it needs


def test_a_nested_object_that_may_be_null_takes_that_object_or_null_only(document):
    color = document["components"]["schemas"]["Gadget"]["properties"]["color"]
    assert color == {"allOf": [{"$ref": "#/components/schemas/Color"}], "nullable": True}
