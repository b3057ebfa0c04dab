"""marshmallow pieces every service's schemas use."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, fields, validate

RFC3339 = "%Y-%m-%dT%H:%M:%SZ"
#: a member's or an API key's role in a workspace
ROLES = ("admin", "reviewer", "developer")


class Timestamp(fields.DateTime):
    """An RFC 3339 UTC time as the API writes it (`2026-11-24T10:00:00Z`)."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime(RFC3339)


class StrictBoolean(fields.Boolean):
    """A JSON true or false; not "yes", "1" or 1, which marshmallow's Boolean would take."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class StrictInteger(fields.Integer):
    """A JSON integer; not "5", 5.0 or true, which marshmallow's Integer would take."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


def Role(**kwargs: Any) -> fields.String:  # noqa: N802
    return fields.String(validate=validate.OneOf(ROLES), **kwargs)


class ResponseSchema(Schema):
    """An answer's body, or a part of one: every field is always there (null where it allows
    none), so the OpenAPI document lists them all as required; a field that an answer may leave
    out says so with `metadata={"optional": True}`. It is only ever dumped, never loaded."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        super().on_bind_field(field_name, field_obj)
        if not field_obj.metadata.get("optional"):
            field_obj.required = True
