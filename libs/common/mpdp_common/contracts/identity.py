"""What the identity service publishes."""

from __future__ import annotations

from marshmallow import fields, validate

from ..schemas import Role
from . import Payload, declare


@declare("identity.account.registered")
class AccountRegistered(Payload):
    account_id = fields.String()
    email = fields.String()
    name = fields.String()


@declare(
    "identity.account.verified",
    "identity.account.password_changed",
    "identity.account.mfa_enabled",
    "identity.account.mfa_disabled",
    "identity.account.erased",
)
class AccountChanged(Payload):
    """Something happened to an account that names nothing but the account (for the audit trail)."""

    account_id = fields.String()


@declare(
    "identity.member.added",
    "identity.member.role_changed",
    "identity.member.blocked",
    "identity.member.unblocked",
    "identity.member.removed",
)
class MemberState(Payload):
    """A member's whole state: read models apply the highest revision, in whatever order events come."""

    workspace_id = fields.String()
    account_id = fields.String()
    role = Role()
    status = fields.String(validate=validate.OneOf(("active", "blocked", "removed")))
    revision = fields.Integer()


@declare("identity.invitation.created")
class InvitationCreated(Payload):
    invitation_id = fields.String()
    email = fields.String()
    role = Role()
    expires_at = fields.DateTime()
    #: for the email that identity's consumer sends; only holders of the platform secret can read it
    token_encrypted = fields.String()


@declare("identity.invitation.accepted")
class InvitationAccepted(Payload):
    invitation_id = fields.String()
    account_id = fields.String()
    role = Role()
    miniprogram_ids = fields.List(fields.String())


@declare("identity.invitation.withdrawn")
class InvitationWithdrawn(Payload):
    """An admin withdrew a pending invitation: its link no longer works."""

    invitation_id = fields.String()
    role = Role()
