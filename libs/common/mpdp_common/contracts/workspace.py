"""What the workspace service publishes."""

from __future__ import annotations

from marshmallow import fields, validate

from ..schemas import Role
from . import Payload, declare

KINDS = ("tenant", "developer")


@declare("workspace.workspace.created")
class WorkspaceCreated(Payload):
    """A tenant workspace, or a developer workspace once its application is approved; identity
    makes `created_by` its first admin."""

    workspace_id = fields.String()
    name = fields.String()
    kind = fields.String(validate=validate.OneOf(KINDS))
    parent_id = fields.String(allow_none=True)
    created_by = fields.String()


@declare("workspace.workspace.updated")
class WorkspaceUpdated(Payload):
    workspace_id = fields.String()
    name = fields.String()
    business_address = fields.String(allow_none=True)
    contact_email = fields.String(allow_none=True)
    changed = fields.List(fields.String())


@declare("workspace.workspace.deleted")
class WorkspaceDeleted(Payload):
    workspace_id = fields.String()
    kind = fields.String(validate=validate.OneOf(KINDS))
    parent_id = fields.String(allow_none=True)
    deleted_by = fields.String()


@declare("workspace.developer_workspace.requested")
class DeveloperWorkspaceRequested(Payload):
    """An application for a developer workspace in a tenant (`parent_id`), to be approved there."""

    workspace_id = fields.String()
    parent_id = fields.String()
    name = fields.String()
    business_type = fields.String(validate=validate.OneOf(("self", "isv")))
    requested_by = fields.String()


@declare("workspace.developer_workspace.rejected")
class DeveloperWorkspaceRejected(Payload):
    workspace_id = fields.String()
    parent_id = fields.String()
    requested_by = fields.String()


class ServiceEmail(Payload):
    sender = fields.String()
    smtp_host = fields.String()
    smtp_port = fields.Integer()
    smtp_username = fields.String(allow_none=True)
    #: SecretBox ciphertext; only holders of the platform secret can read it
    smtp_password_encrypted = fields.String(allow_none=True)


class Domains(Payload):
    primary = fields.String(allow_none=True)
    alternatives = fields.List(fields.String())


@declare("workspace.settings.updated")
class SettingsUpdated(Payload):
    """The whole settings of a workspace, with a revision: the highest one wins."""

    workspace_id = fields.String()
    revision = fields.Integer()
    logo_url = fields.String(allow_none=True)
    favicon_url = fields.String(allow_none=True)
    service_email = fields.Nested(ServiceEmail, allow_none=True)
    domains = fields.Nested(Domains)
    tester_whitelist_enabled = fields.Boolean()
    about_us_url = fields.String(allow_none=True)
    terms_of_service_url = fields.String(allow_none=True)
    #: the largest package an upload may send; null for the platform's default (added later, hence the default)
    package_size_limit_bytes = fields.Integer(load_default=None, allow_none=True)
    #: whether the members need two-factor sign-in (added later, hence the default)
    require_mfa = fields.Boolean(load_default=False)


@declare("workspace.app.created")
class AppState(Payload):
    """A host app's whole state."""

    app_id = fields.String()
    workspace_id = fields.String()
    name = fields.String()
    platforms = fields.List(fields.String())
    bundle_id = fields.String()
    android_cert_fingerprints = fields.List(fields.String())


@declare("workspace.app.updated")
class AppUpdated(AppState):
    changed = fields.List(fields.String())


@declare("workspace.app_key.created")
class AppKeyCreated(Payload):
    id = fields.String()
    key_id = fields.String()
    app_id = fields.String()
    workspace_id = fields.String()
    expires_at = fields.DateTime(allow_none=True)


@declare("workspace.app_key.revoked")
class AppKeyRevoked(Payload):
    key_id = fields.String()
    app_id = fields.String()
    workspace_id = fields.String()
    revoked_at = fields.DateTime()


@declare("workspace.app_key.rotated")
class AppKeyRotated(Payload):
    """The old key keeps working until `old_expires_at`."""

    old_key_id = fields.String()
    new_key_id = fields.String()
    old_expires_at = fields.DateTime()
    app_id = fields.String()
    workspace_id = fields.String()


@declare("workspace.api_key.created", "workspace.api_key.revoked")
class ApiKeyState(Payload):
    """An API key's whole state, with the SHA-256 digest under which every service accepts it."""

    api_key_id = fields.String()
    workspace_id = fields.String()
    role = Role()
    token_hash = fields.String()
    revoked_at = fields.DateTime(allow_none=True)
    #: the admin the key acts for; added later, hence the default
    created_by = fields.String(load_default=None, allow_none=True)


@declare("workspace.webhook.created", "workspace.webhook.updated", "workspace.webhook.deleted")
class WebhookChanged(Payload):
    """A webhook as the audit log tells of it: its host only, since a URL's path or query may be
    a receiver's secret, and never its signing secret."""

    webhook_id = fields.String()
    workspace_id = fields.String()
    host = fields.String()
    events = fields.List(fields.String())
    active = fields.Boolean()
    changed = fields.List(fields.String(), load_default=list)
