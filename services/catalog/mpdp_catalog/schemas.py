from __future__ import annotations

import re
from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import Draft202012Validator, validator_for
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from mpdp_common.contracts.catalog import LAUNCH_STATUSES
from mpdp_common.pagination import PageQuery
from mpdp_common.schemas import ResponseSchema, StrictBoolean, Timestamp

from .delivery import CHANNELS

#: semver.org's own expression for a semantic version
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
SEMVER_ERROR = "Not a semantic version (MAJOR.MINOR.PATCH, like 1.4.0 or 2.0.0-beta.1)."
PLATFORMS = ["ios", "android"]
ACTIVATIONS = ["direct", "approval"]
#: far deeper than any real parameter schema, far shallower than the validator's recursion
MAX_SCHEMA_DEPTH = 32


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Cannot be blank.")


Name = lambda **kwargs: fields.String(validate=[validate.Length(min=1, max=100), _not_blank], **kwargs)  # noqa: E731
Description = lambda **kwargs: fields.String(validate=validate.Length(max=4000), **kwargs)  # noqa: E731
Ids = lambda **kwargs: fields.List(  # noqa: E731
    fields.String(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=200), **kwargs
)


def _depth(document: object) -> int:
    deepest, pending = 0, [(document, 1)]
    while pending:
        value, depth = pending.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
    return deepest


def _json_schema(value: object) -> None:
    if not isinstance(value, dict):
        raise ValidationError("Must be a JSON Schema object.")
    if _depth(value) > MAX_SCHEMA_DEPTH:
        raise ValidationError(f"The JSON Schema is nested more than {MAX_SCHEMA_DEPTH} levels deep.")
    try:
        validator = validator_for(value, default=Draft202012Validator)
    except (AttributeError, TypeError, ValueError):  # a "$schema" that is no URI string
        raise ValidationError("Not a valid JSON Schema at $schema: not the URI of a JSON Schema dialect.") from None
    try:
        validator.check_schema(value)
    except SchemaError as error:
        where = "/".join(str(part) for part in error.path) or "(root)"
        raise ValidationError(f"Not a valid JSON Schema at {where}: {error.message}") from None


def _optional_json_schema(value: object) -> None:
    if value is not None:
        _json_schema(value)


# -- mini programs --------------------------------------------------------------------------------


class MiniProgramCreateSchema(Schema):
    name = Name(required=True)
    description = Description(load_default="")


class MiniProgramPatchSchema(Schema):
    name = Name()
    description = Description()


class MiniProgramSchema(ResponseSchema):
    id = fields.String()
    telemetry_id = fields.Integer(metadata={"description": "the project id of the mini program's crash-report DSN"})
    workspace_id = fields.String()
    name = fields.String()
    description = fields.String()
    status = fields.String(validate=validate.OneOf(["draft", "published"]), metadata={"description": "published once released"})
    developer_ids = fields.List(fields.String())
    created_by = fields.String()
    created_at = Timestamp()
    updated_at = Timestamp()


class DevelopersSchema(Schema):
    account_ids = Ids(required=True)


class TestersSchema(Schema):
    user_ids = fields.List(
        fields.String(validate=[validate.Length(min=1, max=128), _not_blank]),
        required=True,
        validate=validate.Length(max=100, error="At most 100 testers."),
    )


# -- versions -------------------------------------------------------------------------------------


class VersionUploadSchema(Schema):
    """The form fields of a version upload; the `package` file part is read separately."""

    version = fields.String(required=True, validate=[validate.Length(max=64), validate.Regexp(SEMVER, error=SEMVER_ERROR)])
    notes = fields.String(load_default="", validate=validate.Length(max=4000))


class VersionUploadFormSchema(VersionUploadSchema):
    """As the OpenAPI document shows the multipart body."""

    package = fields.Raw(required=True, metadata={"type": "string", "format": "binary", "description": "the zip"})


class PageSizeSchema(ResponseSchema):
    page = fields.String()
    size = fields.Integer(metadata={"description": "the bytes of the page's files (`<page>.js`, `.json`, the markup and styles)"})


class PackageReportSchema(ResponseSchema):
    """What the package holds and which JSAPIs its code calls, found at upload by parsing every `.js` file."""

    size = fields.Integer(metadata={"description": "the package's bytes"})
    files = fields.Integer(metadata={"description": "how many files the package holds"})
    pages = fields.List(fields.Nested(PageSizeSchema))
    jsapis_used = fields.List(fields.String(), metadata={"description": "the JSAPIs the code calls as `my.<name>(...)`"})
    jsapis_not_granted = fields.List(
        fields.String(),
        metadata={
            "description": "those of them that belong to a feature and that no active feature of the mini program "
            "granted, at upload; a launch's submit checks again"
        },
    )
    sourcemaps = fields.List(fields.String(), metadata={"description": "the version's source maps (`<path>.js.map`)"})
    warnings = fields.List(fields.String(), metadata={"description": "what the report could not look at, and why"})


class VersionSchema(ResponseSchema):
    id = fields.String()
    miniprogram_id = fields.String()
    version = fields.String()
    notes = fields.String()
    size = fields.Integer(metadata={"description": "the package's bytes"})
    sha256 = fields.String()
    entry_page = fields.String()
    pages = fields.List(fields.String())
    status = fields.String(validate=validate.OneOf(["uploaded"]))
    uploaded_by = fields.String()
    created_at = Timestamp()
    report = fields.Nested(PackageReportSchema, allow_none=True, metadata={"description": "null for versions uploaded before reports"})


class SourceMapsUploadFormSchema(Schema):
    """As the OpenAPI document shows the multipart body of `POST .../sourcemaps`."""

    files = fields.List(
        fields.Raw(metadata={"type": "string", "format": "binary"}),
        required=True,
        metadata={"description": "one or more source maps, each named `<path>.js.map` after the package's `<path>.js`"},
    )


class SourceMapsSchema(ResponseSchema):
    sourcemaps = fields.List(fields.String(), metadata={"description": "every source map of the version now"})


# -- JSAPIs ---------------------------------------------------------------------------------------


class JsapiCreateSchema(Schema):
    name = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^[A-Za-z][A-Za-z0-9_.]{0,99}$", error="A name like getLocation or device.scan (letters, digits, _ and .)."
        ),
    )
    description = Description(load_default="")
    platforms = fields.List(fields.String(validate=validate.OneOf(PLATFORMS)), required=True, validate=validate.Length(min=1, max=10))
    parameters = fields.Raw(
        load_default=None, allow_none=True, validate=_optional_json_schema, metadata={"type": "object", "description": "A JSON Schema"}
    )


class JsapiPatchSchema(Schema):
    description = Description()
    platforms = fields.List(fields.String(validate=validate.OneOf(PLATFORMS)), validate=validate.Length(min=1, max=10))
    parameters = fields.Raw(allow_none=True, validate=_optional_json_schema, metadata={"type": "object", "description": "A JSON Schema"})


class JsapiSchema(ResponseSchema):
    id = fields.String()
    workspace_id = fields.String()
    name = fields.String()
    description = fields.String()
    platforms = fields.List(fields.String(validate=validate.OneOf(PLATFORMS)))
    parameters = fields.Dict(allow_none=True, metadata={"description": "A JSON Schema of the call's parameters"})
    created_at = Timestamp()
    updated_at = Timestamp()


# -- features -------------------------------------------------------------------------------------


class FeatureCreateSchema(Schema):
    name = Name(required=True)
    description = Description(load_default="")
    activation = fields.String(required=True, validate=validate.OneOf(ACTIVATIONS))
    visible_to_all = StrictBoolean(load_default=True)
    jsapi_ids = Ids(load_default=list)


class FeaturePatchSchema(Schema):
    name = Name()
    description = Description()
    activation = fields.String(validate=validate.OneOf(ACTIVATIONS))
    visible_to_all = StrictBoolean()
    jsapi_ids = Ids()


class FeatureSchema(ResponseSchema):
    id = fields.String()
    workspace_id = fields.String()
    name = fields.String()
    description = fields.String()
    activation = fields.String(validate=validate.OneOf(ACTIVATIONS))
    visible_to_all = fields.Boolean()
    jsapi_ids = fields.List(fields.String())
    revision = fields.Integer()
    created_at = Timestamp()
    updated_at = Timestamp()


class FeatureRevisionSchema(ResponseSchema):
    revision = fields.Integer()
    changed_by = fields.String()
    changed_at = Timestamp()
    changes = fields.Dict(metadata={"description": "{field: {old, new}} for every field that changed"})


class FeatureRequestSchema(Schema):
    feature_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class MiniProgramFeatureSchema(ResponseSchema):
    feature_id = fields.String()
    miniprogram_id = fields.String()
    request_id = fields.String(attribute="id")
    status = fields.String(validate=validate.OneOf(["active", "pending_approval", "rejected"]))
    requested_by = fields.String()
    created_at = Timestamp()
    decided_at = Timestamp(allow_none=True)


# -- launches -------------------------------------------------------------------------------------


class LaunchCreateSchema(Schema):
    version_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    app_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    min_host_version = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=64), validate.Regexp(SEMVER, error=SEMVER_ERROR)],
        metadata={"description": "the oldest host app version that runs it; older hosts keep the newest earlier release they run"},
    )


class LaunchQuery(PageQuery):
    app_id = fields.String(validate=validate.Length(min=1, max=64))
    status = fields.String(validate=validate.OneOf(LAUNCH_STATUSES))


class PublishSchema(Schema):
    percentage = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100))


#: a rollout plan's limits: its number of steps, and the longest hold of one
MAX_STEPS = 20
MAX_HOLD_SECONDS = 30 * 86_400
Share = lambda **kwargs: fields.Float(validate=validate.Range(min=0, max=1), allow_none=True, load_default=None, **kwargs)  # noqa: E731


class RolloutStepSchema(Schema):
    percentage = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100))
    hold_seconds = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=MAX_HOLD_SECONDS),
        metadata={"description": "how long the step is held before the next one is published: 0 to 30 days"},
    )


class GuardSchema(Schema):
    """Floors on the version's health on the launch's host app since the rollout began (shares 0 to 1)."""

    min_crash_free_sessions = Share()
    min_crash_free_users = Share()
    min_sessions = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=1_000_000_000), load_default=100, metadata={"description": "no verdict before"}
    )
    max_drop_from_baseline = Share(metadata={"description": "how far below the released version's figure over the same time"})

    @validates_schema
    def _something_to_check(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if all(data.get(name) is None for name in ("min_crash_free_sessions", "min_crash_free_users", "max_drop_from_baseline")):
            raise ValidationError("A guard names a floor (min_crash_free_sessions or min_crash_free_users) or max_drop_from_baseline.")


class RolloutPlanSchema(Schema):
    """`steps` or `preset`, and an optional `guard`."""

    steps = fields.List(fields.Nested(RolloutStepSchema), validate=validate.Length(min=1, max=MAX_STEPS), load_default=None)
    preset = fields.String(
        validate=validate.OneOf(["phased_7_days"]),
        load_default=None,
        metadata={"description": "phased_7_days: 1, 2, 5, 10, 20, 50, 100 %, a day each"},
    )
    guard = fields.Nested(GuardSchema, allow_none=True, load_default=None)

    @validates_schema
    def _rising_to_100(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if (data.get("steps") is None) == (data.get("preset") is None):
            raise ValidationError("Give either steps or a preset.", "steps")
        steps = data.get("steps") or []
        shares = [step["percentage"] for step in steps]
        if shares and shares[0] == 100:
            raise ValidationError("The first step is under 100 %: a plan that releases at once is a publish.", "steps")
        if any(later <= earlier for earlier, later in zip(shares, shares[1:], strict=False)):
            raise ValidationError("Each step publishes a larger share than the one before.", "steps")
        if shares and shares[-1] != 100:
            raise ValidationError("The last step is 100 %: a plan ends in a release.", "steps")


class RolloutGuardSchema(ResponseSchema, GuardSchema):
    """A plan's guard as a launch answers it: every floor named, null where it has none."""


class RolloutSchema(ResponseSchema):
    steps = fields.List(fields.Nested(RolloutStepSchema))
    current_step = fields.Integer(metadata={"description": "the index in steps of the step published last"})
    next_step_at = Timestamp(allow_none=True, metadata={"description": "when the next step is published; null unless running"})
    paused = fields.Boolean()
    guard = fields.Nested(RolloutGuardSchema, allow_none=True)
    state = fields.String(validate=validate.OneOf(("running", "paused", "completed", "halted")))
    started_at = Timestamp()


class AvailabilityRequestSchema(Schema):
    app_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = fields.String(required=True, validate=[validate.Length(min=1, max=2000), _not_blank])


class RollbackSchema(Schema):
    app_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    version_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class LaunchStepSchema(ResponseSchema):
    status = fields.String(validate=validate.OneOf(LAUNCH_STATUSES))
    at = Timestamp()
    by = fields.String(metadata={"description": "an account, `rollout` for a step of the plan, `guard` for a halt"})
    percentage = fields.Integer(allow_none=True)
    reason = fields.String(
        allow_none=True, metadata={"description": "why: the guard's reason for a halt, the reviewer's comment on a decision"}
    )
    figures = fields.Dict(allow_none=True, metadata={"description": "the health the guard judged: {version, baseline}"})


class LaunchSchema(ResponseSchema):
    id = fields.String()
    miniprogram_id = fields.String()
    version_id = fields.String()
    version = fields.String()
    app_id = fields.String()
    status = fields.String(validate=validate.OneOf(LAUNCH_STATUSES))
    percentage = fields.Integer(allow_none=True, metadata={"description": "the share of users its last publish reached; null before it"})
    min_host_version = fields.String(allow_none=True)
    approval_id = fields.String(allow_none=True, metadata={"description": "the pending approval this launch waits for"})
    created_by = fields.String()
    created_at = Timestamp()
    updated_at = Timestamp()
    history = fields.List(fields.Nested(LaunchStepSchema))
    rollout = fields.Nested(RolloutSchema, allow_none=True, metadata={"description": "the rollout plan, or null without one"})


class AvailabilityRequestedSchema(ResponseSchema):
    approval_id = fields.String()
    type = fields.String(validate=validate.OneOf(["offline", "online"]))
    launch_id = fields.String()
    app_id = fields.String()
    status = fields.String(validate=validate.OneOf(["pending_approval"]))


# -- delivery -------------------------------------------------------------------------------------


class DeliverableSchema(ResponseSchema):
    miniprogram_id = fields.String()
    name = fields.String()
    version = fields.String()
    version_id = fields.String()
    channel = fields.String(validate=validate.OneOf(CHANNELS), metadata={"description": "why this user gets this version"})
    package_url = fields.String(metadata={"description": "the package's path, downloaded with the same signing"})
    sha256 = fields.String()
    size = fields.Integer()


class VersionChangesQuery(Schema):
    base = fields.String(
        data_key="from", required=True, validate=validate.Length(min=1, max=64), metadata={"description": "the version compared with"}
    )


class VersionChangesSchema(ResponseSchema):
    version_id = fields.String()
    from_version_id = fields.String()
    files_added = fields.List(fields.String())
    files_removed = fields.List(fields.String())
    files_changed = fields.List(fields.String(), metadata={"description": "files in both whose CRC-32 or size differ"})
    size_change = fields.Integer(metadata={"description": "bytes of this package less those of the other"})


class DeliveryCheckQuery(Schema):
    user_id = fields.String(required=True, validate=validate.Length(min=1, max=128), metadata={"description": "the host app's user"})
    host_version = fields.String(
        load_default=None, validate=validate.Regexp(SEMVER), metadata={"description": "the host app's version, as the app would send it"}
    )


class DeliverablesSchema(ResponseSchema):
    """What a host app's user may run: one version of each mini program, if any."""

    items = fields.List(fields.Nested(DeliverableSchema))
