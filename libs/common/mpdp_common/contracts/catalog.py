"""What the catalog service publishes."""

from __future__ import annotations

from marshmallow import fields

from . import Payload, declare


@declare("catalog.miniprogram.created")
class MiniProgramCreated(Payload):
    miniprogram_id = fields.String()
    #: the number crash reports name it by (a Sentry DSN's project id); added later, hence the default
    telemetry_id = fields.Integer(load_default=None, allow_none=True)
    workspace_id = fields.String()
    name = fields.String()
    created_by = fields.String()


@declare("catalog.version.uploaded")
class VersionUploaded(Payload):
    version_id = fields.String()
    miniprogram_id = fields.String()
    workspace_id = fields.String()
    version = fields.String()
    sha256 = fields.String()
    size = fields.Integer()
    uploaded_by = fields.String()
    uploaded_at = fields.DateTime()


@declare("catalog.assignment.added", "catalog.assignment.removed")
class AssignmentChanged(Payload):
    """A member assigned to a mini program, or no longer: besides admins, who sees and works on it."""

    miniprogram_id = fields.String()
    account_id = fields.String()
    workspace_id = fields.String()


@declare("catalog.feature.activation_requested")
class FeatureActivationRequested(Payload):
    """A feature whose activation needs an approval; `request_id` is the approval's subject."""

    request_id = fields.String()
    miniprogram_id = fields.String()
    feature_id = fields.String()
    workspace_id = fields.String()
    requested_by = fields.String()


@declare("catalog.launch.status_changed")
class LaunchStatusChanged(Payload):
    """A launch's status at the catalog; the envelope's occurred_at orders a launch's events."""

    launch_id = fields.String()
    miniprogram_id = fields.String()
    workspace_id = fields.String()
    app_id = fields.String()
    version_id = fields.String()
    status = fields.String()
