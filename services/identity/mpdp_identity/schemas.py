from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from mpdp_common.schemas import ROLES, ResponseSchema, Role, StrictBoolean, Timestamp

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
    email_verified = fields.Boolean(metadata={"description": "whether its owner followed the link mailed at sign-up"})


class TokenSchema(Schema):
    token = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))


class VerifiedSchema(ResponseSchema):
    id = fields.String()
    email = fields.String()
    email_verified = fields.Boolean()


class CredentialsSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


Password = lambda **kwargs: fields.String(load_only=True, validate=validate.Length(min=10, max=1024), **kwargs)  # noqa: E731


class PasswordResetSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(max=254))


class MailQueuedSchema(ResponseSchema):
    detail = fields.String(metadata={"description": "what happens next, for people to read"})


class PasswordResetConfirmSchema(Schema):
    token = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))
    password = Password(required=True)


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))
    new_password = Password(required=True)


class SessionSchema(ResponseSchema):
    id = fields.String(metadata={"description": "the sign-in: one refresh chain"})
    created_at = Timestamp(metadata={"description": "when it signed in"})
    last_used_at = Timestamp(metadata={"description": "when its tokens were last refreshed (or made)"})
    user_agent = fields.String(allow_none=True)
    ip = fields.String(allow_none=True, metadata={"description": "the client's address as the gateway saw it"})
    current = fields.Boolean(metadata={"description": "whether the access token of this request came from it"})


class SessionListSchema(ResponseSchema):
    items = fields.List(fields.Nested(SessionSchema))


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=200))


class TokenPairSchema(ResponseSchema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String(validate=validate.OneOf(["Bearer"]))
    expires_in = fields.Integer(metadata={"description": "seconds the access token is valid for"})


class SignInSchema(TokenPairSchema):
    """The token pair, or, for an account with TOTP on, what the second step needs."""

    mfa_required = fields.Boolean(metadata={"description": "true: no tokens yet; send a code with mfa_token to /auth/token/mfa"})
    mfa_token = fields.String(metadata={"description": "for POST /api/v1/auth/token/mfa, valid for expires_in seconds"})


Code = lambda **kwargs: fields.String(validate=validate.Regexp(r"^\d{6}$", error="A code is 6 digits."), **kwargs)  # noqa: E731
RecoveryCode = lambda **kwargs: fields.String(validate=validate.Length(min=1, max=40), load_only=True, **kwargs)  # noqa: E731


class MfaSignInSchema(Schema):
    mfa_token = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=2000))
    code = Code(load_only=True)
    recovery_code = RecoveryCode()

    @validates_schema
    def one_of_them(self, data: dict, **_kwargs: object) -> None:
        if ("code" in data) == ("recovery_code" in data):
            raise ValidationError("Give either code or recovery_code.", field_name="code")


class TotpSetupSchema(ResponseSchema):
    secret = fields.String(metadata={"description": "base32, for apps that take it typed in"})
    otpauth_uri = fields.String(metadata={"description": "otpauth://totp/... (SHA-1, 6 digits, 30 s), for a QR code"})


class TotpConfirmSchema(Schema):
    code = Code(required=True, load_only=True)


class RecoveryCodesSchema(ResponseSchema):
    recovery_codes = fields.List(fields.String(), metadata={"description": "ten single-use codes, shown once"})


class EraseAccountSchema(Schema):
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))


class MfaRemoveSchema(Schema):
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=1024))
    code = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "a TOTP code or an unused recovery code"},
    )


class MembershipSummarySchema(ResponseSchema):
    workspace_id = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))
    status = fields.String(validate=validate.OneOf(MEMBER_STATUSES))


class MeSchema(AccountSchema):
    mfa_enabled = fields.Boolean(metadata={"description": "whether sign-in asks for a TOTP code"})
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


class InvitationPreviewSchema(ResponseSchema):
    workspace_id = fields.String()
    workspace_name = fields.String(allow_none=True, metadata={"description": "null until identity has heard the workspace's name"})
    role = fields.String(validate=validate.OneOf(ROLES))
    email = fields.String(metadata={"description": "the address invited: only an account with it may accept"})
    invited_by = fields.String(allow_none=True, metadata={"description": "the name of the admin who invited"})
    status = fields.String(validate=validate.OneOf(["pending", "accepted", "withdrawn", "expired"]))
    expires_at = Timestamp()


class AcceptedSchema(ResponseSchema):
    workspace_id = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))


class JwksSchema(ResponseSchema):
    keys = fields.List(fields.Dict(), metadata={"description": "RFC 7517 JSON Web Keys"})


# -- notifications --------------------------------------------------------------------------------


class NotificationChoicesSchema(Schema):
    """What the caller is mailed about in one workspace; each left out is on."""

    approvals = StrictBoolean(load_default=True, metadata={"description": "approvals waiting for you, and the decisions on yours"})
    releases = StrictBoolean(load_default=True, metadata={"description": "launches halted or released (admins, assigned developers)"})
    quality = StrictBoolean(
        load_default=True, metadata={"description": "new and regressed crash issues, fired alert rules (admins, assigned developers)"}
    )


class NotificationChoicesAnswerSchema(ResponseSchema):
    approvals = fields.Boolean()
    releases = fields.Boolean()
    quality = fields.Boolean()
