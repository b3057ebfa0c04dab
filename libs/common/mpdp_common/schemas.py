"""marshmallow pieces every service's schemas use."""

from __future__ import annotations

from datetime import UTC

from marshmallow import Schema, fields, validate

RFC3339 = "%Y-%m-%dT%H:%M:%SZ"
#: a member's or an API key's role in a workspace
ROLES = ("admin", "reviewer", "developer")


class Timestamp(fields.DateTime):
    """An RFC 3339 UTC time as the API writes it (`2026-11-24T10:00:00Z`)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime(RFC3339)


def Role(**kwargs) -> fields.String:  # noqa: N802
    return fields.String(validate=validate.OneOf(ROLES), **kwargs)


class ProblemSchema(Schema):
    """RFC 9457 problem details, the body of every error answer."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
