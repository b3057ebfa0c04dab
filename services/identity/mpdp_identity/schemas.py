from __future__ import annotations

from marshmallow import Schema, fields, validate

from mpdp_common.schemas import ROLES, ResponseSchema, Role, Timestamp

#: a membership's status in a list (removed ones are not listed)
MEMBER_STATUSES = ["active", "blocked"]
Email = lambda **kwargs: fields.Email(validate=validate.Length(max=254), **kwargs)  # noqa: E731


class AccountCreateSchema(Schema):
    email = Email(required=True)
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=1024))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class AccountSchema(ResponseSchema):
    id = fields.String()
    email = fields.String()
    name = fields.String()
    created_at = Timestamp()


class CredentialsSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))


class TokenPairSchema(ResponseSchema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String(validate=validate.OneOf(["Bearer"]))
    expires_in = fields.Integer(metadata={"description": "seconds the access token is valid for"})


class MembershipSummarySchema(ResponseSchema):
    workspace_id = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))
    status = fields.String(validate=validate.OneOf(MEMBER_STATUSES))


class MeSchema(AccountSchema):
    memberships = fields.List(fields.Nested(MembershipSummarySchema))


class MemberSchema(ResponseSchema):
    account_id = fields.String()
    email = fields.String()
    name = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))
    status = fields.String(validate=validate.OneOf(MEMBER_STATUSES))
    joined_at = Timestamp()


class MemberPatchSchema(Schema):
    role = Role(required=True)


class InvitationCreateSchema(Schema):
    email = Email(required=True)
    role = Role(required=True)
    miniprogram_ids = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)), load_default=list, validate=validate.Length(max=200)
    )


class InvitationSchema(ResponseSchema):
    id = fields.String()
    workspace_id = fields.String()
    email = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))
    miniprogram_ids = fields.List(fields.String())
    status = fields.String(validate=validate.OneOf(["pending", "accepted", "withdrawn", "expired"]))
    expires_at = Timestamp()
    created_at = Timestamp()


class InvitationCreatedSchema(InvitationSchema):
    token = fields.String(metadata={"description": "Shown once; the invitee accepts with it."})


class AcceptedSchema(ResponseSchema):
    workspace_id = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))


class JwksSchema(ResponseSchema):
    keys = fields.List(fields.Dict(), metadata={"description": "RFC 7517 JSON Web Keys"})
