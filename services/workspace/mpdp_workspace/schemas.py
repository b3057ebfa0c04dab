from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate, validates, validates_schema

from mpdp_common.addresses import NotPublic, Unresolvable, public_addresses
from mpdp_common.contracts import ACTOR_KINDS
from mpdp_common.contracts.workspace import KINDS
from mpdp_common.pagination import PageQuery
from mpdp_common.schemas import ROLES, ResponseSchema, StrictBoolean, StrictInteger, Timestamp
from mpdp_common.web import current_settings

from .webhook_events import NAMES as WEBHOOK_EVENTS
from .webhooks import RefusedUrl, target_of


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Cannot be blank.")


Email = lambda **kwargs: fields.Email(validate=validate.Length(max=254), **kwargs)  # noqa: E731
Name = lambda **kwargs: fields.String(validate=[validate.Length(min=1, max=100), not_blank], **kwargs)  # noqa: E731

HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
BUNDLE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)+$")
FINGERPRINT = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){31}$|^[0-9A-Fa-f]{64}$")
#: 30 days: the longest an old app key may stay valid after a rotation
MAX_GRACE_SECONDS = 30 * 24 * 3600
#: a workspace as its members and applicants see it (a deleted one is seen by nobody)
WORKSPACE_STATUSES = ["active", "pending_approval", "rejected", "withdrawn"]
BUSINESS_TYPES = ["self", "isv"]
PLATFORMS = ["ios", "android"]
API_KEY_ROLES = ["developer", "reviewer"]


def Hostname(**kwargs: Any) -> fields.String:  # noqa: N802
    return fields.String(validate=validate.Regexp(HOSTNAME, error="Not a host name."), **kwargs)


#: as the view checks it: an http(s) URL with a host, or the path of an asset uploaded to the workspace
URL_OR_ASSET_PATH = r"^\s*([hH][tT][tT][pP][sS]?://[^\s/?#]+([/?#]\S*)?|/api/v1/workspaces/[^/\s]+/assets/[^/\s]+)\s*$"


def Url(**kwargs: Any) -> fields.String:  # noqa: N802
    """An http(s) URL; the view also accepts the path of one of the workspace's uploaded assets."""
    return fields.String(validate=validate.Length(min=1, max=2048), metadata={"pattern": URL_OR_ASSET_PATH}, **kwargs)


def normalize_fingerprint(value: str) -> str:
    raw = value.replace(":", "").upper()
    return ":".join(raw[i : i + 2] for i in range(0, 64, 2))


# -- workspaces -----------------------------------------------------------------------------------


class WorkspaceCreateSchema(Schema):
    name = Name(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    parent_id = fields.String(
        validate=validate.Length(min=1, max=64),
        load_default=None,
        metadata={"description": "a developer workspace's tenant, which alone has one"},
    )
    business_type = fields.String(
        validate=validate.OneOf(BUSINESS_TYPES),
        load_default=None,
        metadata={"description": "required for a developer workspace, which alone has one"},
    )

    @validates_schema
    def _developer_fields(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("kind") == "developer":
            missing = {name: ["Required for a developer workspace."] for name in ("parent_id", "business_type") if not data.get(name)}
            if missing:
                raise ValidationError(missing)
        elif data.get("kind") == "tenant":
            extra = {name: ["Only a developer workspace has this."] for name in ("parent_id", "business_type") if data.get(name)}
            if extra:
                raise ValidationError(extra)


class WorkspaceSchema(ResponseSchema):
    id = fields.String()
    name = fields.String()
    kind = fields.String(validate=validate.OneOf(KINDS))
    status = fields.String(validate=validate.OneOf(WORKSPACE_STATUSES))
    parent_id = fields.String(allow_none=True)
    business_type = fields.String(allow_none=True, validate=validate.OneOf(BUSINESS_TYPES))
    business_address = fields.String(allow_none=True)
    contact_email = fields.String(allow_none=True)
    role = fields.String(allow_none=True, validate=validate.OneOf(ROLES), metadata={"description": "The caller's role, when a member."})
    created_at = Timestamp()
    updated_at = Timestamp()


class WorkspacePendingSchema(ResponseSchema):
    id = fields.String()
    status = fields.String(validate=validate.OneOf(["pending_approval"]))


class WorkspacePatchSchema(Schema):
    name = Name()
    business_address = fields.String(validate=validate.Length(max=500), allow_none=True)
    contact_email = Email(allow_none=True)


class DeveloperWorkspaceSchema(ResponseSchema):
    id = fields.String()
    name = fields.String()
    status = fields.String(validate=validate.OneOf(WORKSPACE_STATUSES))
    business_type = fields.String(validate=validate.OneOf(BUSINESS_TYPES))
    created_by = fields.String()
    miniprogram_count = fields.Integer()
    created_at = Timestamp()


# -- settings -------------------------------------------------------------------------------------


class ServiceEmailPutSchema(Schema):
    sender = Email(required=True)
    smtp_host = Hostname(required=True)
    smtp_port = StrictInteger(required=True, validate=validate.Range(min=1, max=65535))
    smtp_username = fields.String(validate=validate.Length(max=254), load_default=None, allow_none=True)
    smtp_password = fields.String(
        load_only=True,
        validate=validate.Length(max=1024),
        allow_none=True,
        metadata={"description": "Never answered; left out, the stored password is kept, and null or empty clears it."},
    )

    @validates("smtp_host")
    def _public_host(self, value: str, **kwargs: Any) -> None:
        try:
            public_addresses(value, 25, allow_private=current_settings().smtp_allow_private_hosts)
        except Unresolvable:
            pass  # it may resolve later; the mail worker judges it again before every connection
        except NotPublic as error:
            raise ValidationError(f"Not a public mail server: {error}") from None


class DomainsPutSchema(Schema):
    primary = Hostname(required=True, allow_none=True)
    alternatives = fields.List(Hostname(), load_default=list, validate=validate.Length(max=20))

    @validates("alternatives")
    def _unique(self, value: list[str], **kwargs: Any) -> None:
        if len({item.lower() for item in value}) != len(value):
            raise ValidationError("Each alternative domain once.")


class SettingsPutSchema(Schema):
    """The whole settings, as `PUT .../settings` replaces them: what is left out is cleared."""

    logo_url = Url(allow_none=True, load_default=None)
    favicon_url = Url(allow_none=True, load_default=None)
    service_email = fields.Nested(ServiceEmailPutSchema, allow_none=True, load_default=None)
    domains = fields.Nested(DomainsPutSchema, allow_none=True, load_default=None)
    tester_whitelist_enabled = StrictBoolean(load_default=False)
    about_us_url = Url(allow_none=True, load_default=None)
    terms_of_service_url = Url(allow_none=True, load_default=None)
    package_size_limit_bytes = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=64 * 1024),
        metadata={"description": "the largest package an upload may send; left out: kept; null: the default, 8 MiB"},
    )
    require_mfa = StrictBoolean(
        metadata={
            "description": "members need two-factor sign-in; left out: kept. Turning it on needs an admin signed in with "
            "the second factor (409 `urn:mpdp:problem:mfa-required` otherwise)"
        }
    )


class ServiceEmailSchema(ResponseSchema):
    sender = fields.String()
    smtp_host = fields.String()
    smtp_port = fields.Integer()
    smtp_username = fields.String(allow_none=True)
    smtp_password_set = fields.Boolean(metadata={"description": "whether a password is stored (it is never answered)"})


class DomainsSchema(ResponseSchema):
    primary = fields.String(allow_none=True)
    alternatives = fields.List(fields.String())


class SettingsSchema(ResponseSchema):
    logo_url = fields.String(allow_none=True)
    favicon_url = fields.String(allow_none=True)
    service_email = fields.Nested(ServiceEmailSchema, allow_none=True, metadata={"description": "null: none set"})
    domains = fields.Nested(DomainsSchema)
    tester_whitelist_enabled = fields.Boolean()
    about_us_url = fields.String(allow_none=True)
    terms_of_service_url = fields.String(allow_none=True)
    package_size_limit_bytes = fields.Integer(metadata={"description": "the largest package an upload may send (default 8 MiB)"})
    require_mfa = fields.Boolean(
        metadata={"description": "whether members need two-factor sign-in: without it they get 403 `urn:mpdp:problem:mfa-required`"}
    )
    updated_at = Timestamp(allow_none=True, metadata={"description": "null until the settings are first saved"})


class UploadSchema(Schema):
    """The multipart body of an upload; its other parts are ignored."""

    class Meta:
        unknown = EXCLUDE

    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


# -- host apps and their keys ---------------------------------------------------------------------


class AppBaseSchema(Schema):
    name = Name()
    platforms = fields.List(
        fields.String(validate=validate.OneOf(PLATFORMS)), validate=validate.Length(min=1, max=2), metadata={"uniqueItems": True}
    )
    bundle_id = fields.String(validate=[validate.Length(max=155), validate.Regexp(BUNDLE_ID, error="Not a bundle id (com.example.app).")])
    android_cert_fingerprints = fields.List(
        fields.String(validate=validate.Regexp(FINGERPRINT, error="Not a SHA-256 fingerprint (32 hex bytes, AB:CD:...).")),
        validate=validate.Length(max=10),
    )

    @validates("platforms")
    def _unique_platforms(self, value: list[str], **kwargs: Any) -> None:
        if len(set(value)) != len(value):
            raise ValidationError("Each platform once.")

    @post_load
    def _normalize(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if "android_cert_fingerprints" in data:
            data["android_cert_fingerprints"] = list(
                dict.fromkeys(normalize_fingerprint(item) for item in data["android_cert_fingerprints"])
            )
        if "name" in data:
            data["name"] = data["name"].strip()
        return data


class AppCreateSchema(AppBaseSchema):
    name = Name(required=True)
    platforms = fields.List(
        fields.String(validate=validate.OneOf(PLATFORMS)),
        required=True,
        validate=validate.Length(min=1, max=2),
        metadata={"uniqueItems": True},
    )
    bundle_id = fields.String(
        required=True, validate=[validate.Length(max=155), validate.Regexp(BUNDLE_ID, error="Not a bundle id (com.example.app).")]
    )
    android_cert_fingerprints = fields.List(
        fields.String(validate=validate.Regexp(FINGERPRINT, error="Not a SHA-256 fingerprint (32 hex bytes, AB:CD:...).")),
        load_default=list,
        validate=validate.Length(max=10),
    )


class AppPatchSchema(AppBaseSchema):
    pass


class AppSchema(ResponseSchema):
    id = fields.String()
    workspace_id = fields.String()
    name = fields.String()
    platforms = fields.List(fields.String(validate=validate.OneOf(PLATFORMS)))
    bundle_id = fields.String()
    android_cert_fingerprints = fields.List(fields.String())
    created_at = Timestamp()
    updated_at = Timestamp()


class AppKeyCreateSchema(Schema):
    label = fields.String(validate=validate.Length(max=100), load_default=None, allow_none=True)


class AppKeyRotateSchema(Schema):
    grace_seconds = StrictInteger(load_default=24 * 3600, validate=validate.Range(min=0, max=MAX_GRACE_SECONDS))
    label = fields.String(validate=validate.Length(max=100), load_default=None, allow_none=True)


class AppKeySchema(ResponseSchema):
    id = fields.String()
    key_id = fields.String(metadata={"description": "what a host app sends as X-MPDP-Key"})
    app_id = fields.String()
    label = fields.String(allow_none=True)
    status = fields.String(
        validate=validate.OneOf(["active", "expiring", "expired", "revoked"]),
        metadata={"description": "expiring: rotated, valid until expires_at"},
    )
    expires_at = Timestamp(allow_none=True)
    revoked_at = Timestamp(allow_none=True)
    created_at = Timestamp()


class AppKeyCreatedSchema(AppKeySchema):
    secret = fields.String(metadata={"description": "Shown once: HMAC-SHA256 signing secret of this key."})


class AppKeyRotatedSchema(AppKeyCreatedSchema):
    replaces = fields.Nested(AppKeySchema, metadata={"description": "The old key, valid until its expires_at."})


# -- workspace API keys ---------------------------------------------------------------------------


class ApiKeyCreateSchema(Schema):
    label = fields.String(required=True, validate=[validate.Length(min=1, max=100), not_blank])
    role = fields.String(required=True, validate=validate.OneOf(API_KEY_ROLES))


class ApiKeySchema(ResponseSchema):
    id = fields.String()
    workspace_id = fields.String()
    label = fields.String()
    role = fields.String(validate=validate.OneOf(API_KEY_ROLES))
    created_by = fields.String()
    created_at = Timestamp()
    revoked_at = Timestamp(allow_none=True)


class ApiKeyCreatedSchema(ApiKeySchema):
    token = fields.String(metadata={"description": "Shown once; send it as `Authorization: Bearer <token>`."})


# -- the audit log --------------------------------------------------------------------------------


#: a UTC day, or an RFC 3339 time (UTC when it names no offset)
DAY_OR_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?$"


class DayOrTime(fields.String):
    """A UTC day (`2026-12-07`) or an RFC 3339 time, loaded as the aware UTC datetime it starts at,
    with whether it was a whole day (`(moment, is_day)`)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[datetime, bool]:  # type: ignore[override]  # loaded as a moment, written in the document as the string it is
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            if not re.fullmatch(DAY_OR_TIME, text):
                raise ValueError(text)
            if len(text) == 10:
                return datetime.combine(date.fromisoformat(text), time.min, UTC), True
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValidationError("Not a day (2026-12-07) nor an RFC 3339 time (2026-12-07T10:00:00Z).") from None
        return (moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)), False


class AuditRangeQuery(Schema):
    start = DayOrTime(
        data_key="from",
        load_default=None,
        metadata={"pattern": DAY_OR_TIME, "description": "the earliest entry: a UTC day (from its start) or an RFC 3339 time, included"},
    )
    end = DayOrTime(
        data_key="to",
        load_default=None,
        metadata={"pattern": DAY_OR_TIME, "description": "the latest entry: a UTC day (to its end) or an RFC 3339 time, included"},
    )

    @post_load
    def _bounds(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        """`start` the first moment included, `end` the first moment after the range (each None when open)."""
        start, end = data.get("start"), data.get("end")
        data["start"] = start[0] if start else None
        data["end"] = (end[0] + timedelta(days=1) if end[1] else end[0] + timedelta(microseconds=1)) if end else None
        if data["start"] and data["end"] and data["start"] >= data["end"]:
            raise ValidationError("Must not be after `to`.", "from")
        return data


class AuditLogQuery(PageQuery, AuditRangeQuery):
    action = fields.String(
        validate=validate.Length(min=1, max=100),
        load_default=None,
        metadata={"description": "only entries of this event type, like `workspace.app.created`"},
    )
    actor_id = fields.String(
        validate=validate.Length(min=1, max=64),
        load_default=None,
        metadata={"description": "only what this account, API key or system part did; an account's id finds its API keys' doings too"},
    )


#: what an audit log entry may be about
SUBJECT_KINDS = (
    "member",
    "invitation",
    "workspace",
    "settings",
    "app",
    "app_key",
    "api_key",
    "miniprogram",
    "version",
    "launch",
    "feature",
    "approval",
    "webhook",
    "alert_rule",
    "jsapi",
    "issue",
)


class AuditLogActorSchema(ResponseSchema):
    kind = fields.String(validate=validate.OneOf(ACTOR_KINDS))
    id = fields.String()
    on_behalf_of = fields.String(
        metadata={"optional": True, "description": "for an API key: the account that created it, which it acts for"}
    )


class AuditLogSubjectSchema(ResponseSchema):
    kind = fields.String(validate=validate.OneOf(SUBJECT_KINDS))
    id = fields.String()


class AuditLogEntrySchema(ResponseSchema):
    id = fields.String()
    at = Timestamp()
    actor = fields.Nested(AuditLogActorSchema)
    action = fields.String(metadata={"description": "the type of the event that reported the change, like `workspace.app.created`"})
    subject = fields.Nested(AuditLogSubjectSchema)
    summary = fields.String()
    request_id = fields.String(allow_none=True, metadata={"description": "the X-Request-Id of the request that made the change"})


# -- webhooks -------------------------------------------------------------------------------------


def _webhook_url(value: str) -> None:
    """An absolute http(s) URL without credentials; where it points is judged by the view, once
    the caller is known to be an admin (api_webhooks.refuse_internal), and again at every send."""
    try:
        target_of(value)
    except RefusedUrl as error:
        raise ValidationError(str(error)) from None


WebhookUrl = lambda **kwargs: fields.String(validate=[validate.Length(min=1, max=2048), _webhook_url], **kwargs)  # noqa: E731
WebhookEvents = lambda **kwargs: fields.List(  # noqa: E731
    fields.String(validate=validate.OneOf(WEBHOOK_EVENTS)),
    validate=[validate.Length(min=1, max=len(WEBHOOK_EVENTS)), lambda names: _unique_names(names)],
    metadata={"description": "the events it receives: " + ", ".join(f"`{name}`" for name in WEBHOOK_EVENTS)},
    **kwargs,
)


def _unique_names(names: list[str]) -> None:
    if len(set(names)) != len(names):
        raise ValidationError("Names an event twice.")


class WebhookCreateSchema(Schema):
    url = WebhookUrl(required=True)
    events = WebhookEvents(required=True)
    description = fields.String(validate=validate.Length(max=300), load_default=None, allow_none=True)


class WebhookPatchSchema(Schema):
    url = WebhookUrl()
    events = WebhookEvents()
    description = fields.String(validate=validate.Length(max=300), allow_none=True)
    active = StrictBoolean()

    @validates_schema
    def _something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Name at least one of url, events, description, active.")


class WebhookSchema(ResponseSchema):
    id = fields.String()
    url = fields.String()
    events = fields.List(fields.String(validate=validate.OneOf(WEBHOOK_EVENTS)))
    description = fields.String(allow_none=True)
    active = fields.Boolean()
    created_by = fields.String()
    created_at = Timestamp()


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(
        metadata={"description": "Shown once: check `X-MPDP-Signature-256` (sha256=HMAC-SHA256 of the raw body) with it."}
    )


class WebhookAttemptSchema(ResponseSchema):
    at = Timestamp()
    status_code = fields.Integer(allow_none=True, metadata={"description": "null when no answer came (refused, timed out, cut)"})
    duration_ms = fields.Integer()
    error = fields.String(allow_none=True)


class WebhookDeliverySchema(ResponseSchema):
    id = fields.String(metadata={"description": "also the body's `id` and the `X-MPDP-Delivery` header"})
    event = fields.String(validate=validate.OneOf((*WEBHOOK_EVENTS, "ping")))
    status = fields.String(validate=validate.OneOf(("pending", "delivered", "failed")))
    status_code = fields.Integer(allow_none=True, metadata={"description": "the last attempt's answer"})
    attempts = fields.Integer()
    duration_ms = fields.Integer(allow_none=True)
    delivered_at = Timestamp(allow_none=True)
    next_attempt_at = Timestamp(allow_none=True)
    error = fields.String(allow_none=True)
    created_at = Timestamp()
    history = fields.List(fields.Nested(WebhookAttemptSchema), metadata={"description": "every attempt, oldest first"})
