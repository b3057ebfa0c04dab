"""What the catalog service publishes."""

from __future__ import annotations

from marshmallow import fields, validate

from . import Payload, declare
from .approval import SubjectShape

LAUNCH_STATUSES = (
    "created",
    "under_review",
    "pilot",
    "ready",
    "grayscale",
    "released",
    "rejected",
    "canceled",
    "archived",
    "offline",
    "rollback",
    "halted",
)
#: where a launch's rollout plan is: taking its steps, paused, done with them, or stopped by its guard
ROLLOUT_STATES = ("running", "paused", "completed", "halted")


class ApprovalRequest(Payload):
    """What every catalog request for an approval carries; the approval service opens it from these
    fields alone. `request_id` becomes the approval's id, so the catalog knows which decision is
    the one its subject waits for."""

    request_id = fields.String()
    workspace_id = fields.String()
    title = fields.String()
    subject = fields.Nested(SubjectShape)
    requested_by = fields.String()


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


class SourceMapBlob(Payload):
    """One source map of a version, by reference: the map and the minified file it maps are blobs
    of the package store under these SHA-256s, which never change."""

    js_path = fields.String()
    map_path = fields.String()
    sha256 = fields.String()
    size = fields.Integer()
    source_sha256 = fields.String()
    source_size = fields.Integer()


@declare("catalog.version.sourcemaps_added")
class SourceMapsAdded(Payload):
    """Source maps that a version got, in its package or added later; a map for a `js_path` that
    had one replaces it."""

    version_id = fields.String()
    miniprogram_id = fields.String()
    workspace_id = fields.String()
    version = fields.String()
    sourcemaps = fields.List(fields.Nested(SourceMapBlob))


class AssignmentState(Payload):
    """An assignment's whole state: whether a member is assigned to a mini program (besides admins,
    who sees and works on it). Read models apply the highest revision, in whatever order events come.

    Events published before assignments carried their state are still read: `assigned` as their
    type says, and revision 0, older than any event that has one."""

    miniprogram_id = fields.String()
    account_id = fields.String()
    workspace_id = fields.String()
    #: counts the changes of this member's assignment to this mini program, removals included
    revision = fields.Integer(load_default=0)


@declare("catalog.assignment.added")
class AssignmentAdded(AssignmentState):
    assigned = fields.Boolean(load_default=True, validate=validate.Equal(True))


@declare("catalog.assignment.removed")
class AssignmentRemoved(AssignmentState):
    assigned = fields.Boolean(load_default=False, validate=validate.Equal(False))


@declare("catalog.feature.activation_requested")
class FeatureActivationRequested(ApprovalRequest):
    """A feature whose activation needs an approval (type feature, subject feature_activation)."""

    miniprogram_id = fields.String()
    feature_id = fields.String()


@declare("catalog.launch.submitted")
class LaunchSubmitted(ApprovalRequest):
    """A launch under review: an approval of type launch, subject the launch."""

    launch_id = fields.String()
    miniprogram_id = fields.String()
    version_id = fields.String()
    version = fields.String()
    app_id = fields.String()


@declare("catalog.launch.withdrawn")
class LaunchWithdrawn(Payload):
    """The launch went back from under review to created: its approval is withdrawn."""

    request_id = fields.String()
    launch_id = fields.String()
    workspace_id = fields.String()
    withdrawn_by = fields.String()


@declare("catalog.miniprogram.offline_requested", "catalog.miniprogram.online_requested")
class AvailabilityRequested(ApprovalRequest):
    """Taking a mini program offline on one app, or bringing it back (approval type offline or
    online, subject the launch released or offline there)."""

    launch_id = fields.String()
    miniprogram_id = fields.String()
    app_id = fields.String()
    reason = fields.String()


class GuardShape(Payload):
    """The floors a launch's version is held to on its host app while it is in grayscale (shares 0 to 1)."""

    min_crash_free_sessions = fields.Float(allow_none=True)
    min_crash_free_users = fields.Float(allow_none=True)
    #: no verdict before the version has had this many sessions
    min_sessions = fields.Integer()
    #: how far below the released version's figure, over the same time, a figure may fall
    max_drop_from_baseline = fields.Float(allow_none=True)


class RolloutShape(Payload):
    """A launch's rollout plan, as far as others need it: where it is, when its next step is due, its guard."""

    state = fields.String(validate=validate.OneOf(ROLLOUT_STATES))
    current_step = fields.Integer()
    step_count = fields.Integer()
    started_at = fields.DateTime()
    next_step_at = fields.DateTime(allow_none=True)
    guard = fields.Nested(GuardShape, allow_none=True)


@declare("catalog.launch.status_changed")
class LaunchStatusChanged(Payload):
    """A launch's whole state at the catalog, published at each change of its status or of its
    rollout plan (then with `status` equal to `previous_status`). `revision` counts them, so a
    read model applies the newest whatever the order of arrival; events published before it was
    added have revision 0, and the envelope's occurred_at orders them."""

    launch_id = fields.String()
    miniprogram_id = fields.String()
    workspace_id = fields.String()
    app_id = fields.String()
    version_id = fields.String()
    #: the version number, like 1.2.0
    version = fields.String(load_default=None, allow_none=True)
    status = fields.String(validate=validate.OneOf(LAUNCH_STATUSES))
    previous_status = fields.String(load_default=None, allow_none=True)
    #: the share of users of a grayscale (100 when released)
    percentage = fields.Integer(load_default=None, allow_none=True)
    changed_by = fields.String(load_default=None, allow_none=True)
    revision = fields.Integer(load_default=0)
    rollout = fields.Nested(RolloutShape, load_default=None, allow_none=True)
    #: why the launch was halted, and the health figures that made its guard halt it
    reason = fields.String(load_default=None, allow_none=True)
    figures = fields.Dict(load_default=None, allow_none=True)


@declare("catalog.jsapi.created", "catalog.jsapi.updated")
class JsapiChanged(Payload):
    """A JSAPI made or changed by an admin (for the audit log): which, and the fields changed."""

    jsapi_id = fields.String()
    workspace_id = fields.String()
    name = fields.String()
    changed = fields.List(fields.String())


@declare("catalog.feature.created", "catalog.feature.updated")
class FeatureChanged(Payload):
    """A feature made or changed by an admin: its revision holds each field's old and new value."""

    feature_id = fields.String()
    workspace_id = fields.String()
    name = fields.String()
    revision = fields.Integer()
    changed = fields.List(fields.String())


@declare("catalog.miniprogram.updated")
class MiniProgramUpdated(Payload):
    miniprogram_id = fields.String()
    workspace_id = fields.String()
    name = fields.String()
    changed = fields.List(fields.String())


@declare("catalog.testers.changed")
class TestersChanged(Payload):
    """A mini program's testers whitelist was replaced; the host-app user ids stay in the catalog."""

    miniprogram_id = fields.String()
    workspace_id = fields.String()
    testers = fields.Integer()
