from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from mpdp_common.pagination import PageQuery
from mpdp_common.schemas import ResponseSchema, Timestamp

from .models import STATUSES, TYPES


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Cannot be blank.")


class ApprovalQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(STATUSES))
    type = fields.String(validate=validate.OneOf(TYPES))
    mine = fields.Boolean(load_default=False, metadata={"description": "only the caller's own requests (My Applications)"})


class SubjectSchema(ResponseSchema):
    kind = fields.String(metadata={"description": "what the approval decides on: launch, feature_activation, developer_workspace"})
    id = fields.String()


class AuditEntrySchema(ResponseSchema):
    action = fields.String(validate=validate.OneOf(["opened", "approved", "rejected", "withdrawn"]))
    by = fields.String(attribute="actor_id")
    at = Timestamp()
    comment = fields.String(allow_none=True)


class ApprovalSchema(ResponseSchema):
    id = fields.String()
    workspace_id = fields.String()
    type = fields.String(validate=validate.OneOf(TYPES))
    status = fields.String(validate=validate.OneOf(STATUSES))
    title = fields.String()
    subject = fields.Nested(SubjectSchema)
    details = fields.Dict(metadata={"description": "what the request carries beyond the common fields, by type"})
    applicant_id = fields.String()
    created_at = Timestamp()
    decided_at = Timestamp(allow_none=True)
    decided_by = fields.String(allow_none=True)
    comment = fields.String(allow_none=True)


class ApprovalDetailSchema(ApprovalSchema):
    trail = fields.List(fields.Nested(AuditEntrySchema), metadata={"description": "every step, oldest first"})


class ApproveSchema(Schema):
    comment = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))


class RejectSchema(Schema):
    comment = fields.String(required=True, validate=[validate.Length(min=1, max=4000), _not_blank])
