"""Field validation that the API relies on: semantic versions and JSON Schemas."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError
from sqlalchemy import inspect

from mpdp_catalog import schemas
from mpdp_common.db import make_engine
from mpdp_common.migrations import upgrade


@pytest.mark.parametrize("version", ["0.0.1", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-beta.11", "1.0.0-rc.1+build.5"])
def test_semantic_versions(version):
    assert schemas.VersionUploadSchema().load({"version": version})["version"] == version


@pytest.mark.parametrize("version", ["1", "1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0 ", "1.0.0-01", "x" * 65])
def test_not_semantic_versions(version):
    with pytest.raises(ValidationError) as caught:
        schemas.VersionUploadSchema().load({"version": version})
    assert "version" in caught.value.messages


def test_jsapi_parameters_must_be_a_json_schema():
    good = {"name": "scan", "platforms": ["ios"], "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}}}
    assert schemas.JsapiCreateSchema().load(good)["parameters"]["type"] == "object"
    assert schemas.JsapiCreateSchema().load({"name": "scan", "platforms": ["ios"]})["parameters"] is None
    odd_dialects = ({"$schema": 5}, {"$schema": []}, {"$schema": {"a": 1}}, {"$schema": "http://[::1"})
    for parameters in ({"type": "banana"}, {"properties": {"n": {"minimum": "zero"}}}, [1, 2], "object", *odd_dialects):
        with pytest.raises(ValidationError) as caught:
            schemas.JsapiCreateSchema().load(good | {"parameters": parameters})
        assert "parameters" in caught.value.messages


@pytest.mark.parametrize("wrap", [lambda inner: {"not": inner}, lambda inner: {"type": "object", "properties": {"a": inner}}])
def test_a_jsapi_parameters_schema_nested_hundreds_deep_is_refused(wrap):
    parameters: dict = {"type": "string"}
    for _ in range(300):
        parameters = wrap(parameters)
    with pytest.raises(ValidationError) as caught:
        schemas.JsapiCreateSchema().load({"name": "scan", "platforms": ["ios"], "parameters": parameters})
    assert "nested" in caught.value.messages["parameters"][0]


def test_the_migration_builds_the_models_tables_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path}/catalog.db"
    upgrade("mpdp_catalog", url)
    tables = set(inspect(make_engine(url)).get_table_names())
    assert {"miniprograms", "versions", "assignments", "testers", "jsapis", "features", "feature_revisions"} <= tables
    assert {"feature_activations", "workspaces", "members", "api_keys", "outbox", "inbox"} <= tables


def test_names_and_tester_ids_cannot_be_blank():
    for schema, body in (
        (schemas.MiniProgramCreateSchema, {"name": "   "}),
        (schemas.MiniProgramPatchSchema, {"name": " "}),
        (schemas.FeatureCreateSchema, {"name": "\t", "activation": "direct"}),
        (schemas.TestersSchema, {"user_ids": ["u1", "  "]}),
    ):
        with pytest.raises(ValidationError):
            schema().load(body)
