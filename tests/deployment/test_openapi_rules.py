"""docs/openapi.json (the platform's own document: tests/integration/test_openapi_document.py
keeps it so) says all that a generated client needs: a unique name, a summary, tags and security
for every operation, every body and success answer, the problems in one shape, and which answer
fields are always there."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DOCUMENT = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
METHODS = ("get", "put", "post", "patch", "delete")
OPERATIONS = [
    (f"{method.upper()} {path}", operation)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    if method in METHODS
]
SCHEMAS = DOCUMENT["components"]["schemas"]


def _refs(value) -> set[str]:
    return set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(value)))


def _reachable(names: set[str]) -> set[str]:
    found, pending = set(), list(names)
    while pending:
        name = pending.pop()
        if name not in found:
            found.add(name)
            pending.extend(_refs(SCHEMAS[name]))
    return found


def test_every_operation_has_a_unique_id_of_its_resource_and_verb():
    ids = [operation["operationId"] for _name, operation in OPERATIONS]
    assert len(ids) == len(set(ids)), sorted(name for name in ids if ids.count(name) > 1)
    tags = {tag["name"] for tag in DOCUMENT["tags"]}
    for name, operation in OPERATIONS:
        assert operation["tags"] and set(operation["tags"]) <= tags, name
        assert operation["operationId"].startswith(operation["tags"][0] + "_"), name


@pytest.mark.parametrize("name, operation", OPERATIONS, ids=[name for name, _ in OPERATIONS])
def test_every_operation_says_what_it_does_takes_and_answers(name, operation):
    assert operation.get("summary", "").strip() and "\n" not in operation["summary"], "a one-line summary"
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert all(scheme in schemes for requirement in operation["security"] for scheme in requirement)
    successes = {status: answer for status, answer in operation["responses"].items() if status.startswith("2")}
    assert successes, "a success answer"
    for status, answer in successes.items():
        assert status == "204" or answer.get("content"), f"{status} without a body"
    if "requestBody" in operation:
        assert all("schema" in media for media in operation["requestBody"]["content"].values())
    for status, answer in operation["responses"].items():
        if status[0] in "45" or status == "default":  # a problem document, or no body at all (a 412)
            assert answer.get("$ref", "").startswith("#/components/responses/") or "content" not in answer, status


def test_every_security_scheme_is_used_by_an_operation():
    used = {scheme for _name, operation in OPERATIONS for requirement in operation["security"] for scheme in requirement}
    assert used == set(DOCUMENT["components"]["securitySchemes"])


def test_problems_have_one_shape_and_one_vocabulary():
    for name, response in DOCUMENT["components"]["responses"].items():
        assert response["content"] == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, name
    assert SCHEMAS["Problem"]["properties"]["type"]["pattern"] == "^urn:mpdp:problem:[a-z0-9-]+$"


def test_every_answer_lists_the_fields_it_always_has():
    answered = _reachable({ref for _name, operation in OPERATIONS for ref in _refs(operation["responses"])})
    assert answered and all(SCHEMAS[name].get("required") for name in answered), sorted(
        n for n in answered if not SCHEMAS[n].get("required")
    )


def test_a_nullable_object_is_that_object_or_null():
    # not the `anyOf: [{type: object, nullable: true}, {$ref}]` that takes any object
    assert '"anyOf"' not in json.dumps(DOCUMENT)
