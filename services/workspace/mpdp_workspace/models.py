from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    exists,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, object_session

from mpdp_common.apikeys import ApiKeyColumns
from mpdp_common.appkeys import AppKeyColumns
from mpdp_common.db import UtcDateTime, created_at_column, id_column, new_id, utcnow
from mpdp_common.idempotency import define_idempotency_table
from mpdp_common.membership import MembershipColumns

#: a developer workspace with a version uploaded more recently than this cannot be deleted
RECENT_UPLOAD = timedelta(days=30)
PUBLISHED_LAUNCH_STATUSES = ("released", "grayscale")


class Base(DeclarativeBase):
    pass


class Workspace(Base):
    """A tenant's workspace, or a developer workspace under a tenant (`parent_id`)."""

    __tablename__ = "workspaces"

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    #: tenant or developer
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("workspaces.id"), index=True)
    #: developer workspaces only: self or isv
    business_type: Mapped[str | None] = mapped_column(String(16))
    #: active, pending_approval, rejected or deleted
    status: Mapped[str] = mapped_column(String(24), nullable=False, default="active")
    business_address: Mapped[str | None] = mapped_column(String(500))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    #: who asked for it: the first admin once it is active
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False)

    def deletion_refusal(self) -> str | None:
        """Why this developer workspace cannot be deleted yet, from the catalog's facts kept here
        (a published launch, a recent upload); None when it can."""
        session = object_session(self)
        assert session is not None
        published = exists().where(Launch.workspace_id == self.id, Launch.status.in_(PUBLISHED_LAUNCH_STATUSES))
        if session.scalar(select(published)):
            return "This developer workspace has a published mini program; take it offline first."
        recent = exists().where(MiniProgram.workspace_id == self.id, MiniProgram.last_upload_at > utcnow() - RECENT_UPLOAD)
        if session.scalar(select(recent)):
            return "A version was uploaded to this developer workspace in the last 30 days."
        return None


class WorkspaceSettings(Base):
    """One row per workspace whose settings were ever saved; absent means the defaults."""

    __tablename__ = "workspace_settings"

    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    logo_url: Mapped[str | None] = mapped_column(String(2048))
    favicon_url: Mapped[str | None] = mapped_column(String(2048))
    sender: Mapped[str | None] = mapped_column(String(254))
    smtp_host: Mapped[str | None] = mapped_column(String(253))
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    smtp_username: Mapped[str | None] = mapped_column(String(254))
    #: SecretBox ciphertext; the plaintext is never stored nor answered
    smtp_password_encrypted: Mapped[str | None] = mapped_column(Text)
    primary_domain: Mapped[str | None] = mapped_column(String(253))
    alternative_domains: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    tester_whitelist_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    about_us_url: Mapped[str | None] = mapped_column(String(2048))
    terms_of_service_url: Mapped[str | None] = mapped_column(String(2048))
    #: the largest package an upload may send; null: the default
    package_size_limit_bytes: Mapped[int | None] = mapped_column(BigInteger)
    #: whether the members need two-factor sign-in (mpdp_common.auth.require_member reads it)
    require_mfa: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: bumped on every change, carried by workspace.settings.updated so that read models apply in order
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class Asset(Base):
    """An uploaded logo, favicon or terms-of-service PDF, served back as it was checked."""

    __tablename__ = "assets"

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), nullable=False, index=True)
    #: logo, favicon or terms_of_service
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    uploaded_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()


class App(Base):
    """A host app: the super app that runs mini programs."""

    __tablename__ = "apps"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_apps_workspace_name"),)

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    platforms: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    bundle_id: Mapped[str] = mapped_column(String(155), nullable=False)
    android_cert_fingerprints: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class AppKey(AppKeyColumns, Base):
    """The authoritative app keys; only the SHA-256 of each derived secret is kept."""

    __tablename__ = "app_keys"

    id: Mapped[str] = mapped_column(String(32), unique=True, nullable=False, default=new_id)
    label: Mapped[str | None] = mapped_column(String(100))
    secret_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()


class ApiKey(ApiKeyColumns, Base):
    """The authoritative workspace API keys, which also authenticate Bearer API keys here."""

    __tablename__ = "api_keys"

    label: Mapped[str] = mapped_column(String(100), nullable=False)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()


class Member(MembershipColumns, Base):
    """Read model of the workspace members, from identity.member.* events."""

    __tablename__ = "members"


class MiniProgram(Base):
    """Read model of the catalog's mini programs: what a developer workspace still holds."""

    __tablename__ = "miniprograms"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    last_upload_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Launch(Base):
    """Read model of the catalog's launches: a released or grayscale one means published."""

    __tablename__ = "launches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    miniprogram_id: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(24), nullable=False)
    #: when the catalog set that status (its event's occurred_at): an older event, retried late, changes nothing
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuditEntry(Base):
    """One change in a workspace, from the event that reported it: who, what, on what, when.
    Written once by the consumer (`audit.py`) and never changed (on PostgreSQL a trigger refuses
    an UPDATE); deleted only past the retention."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        UniqueConstraint("event_id", name="uq_audit_entries_event_id"),
        Index("ix_audit_entries_workspace_at", "workspace_id", "at", "id"),
        Index("ix_audit_entries_workspace_action_at", "workspace_id", "action", "at"),
        Index("ix_audit_entries_workspace_actor_at", "workspace_id", "actor_id", "at"),
        Index("ix_audit_entries_workspace_on_behalf_of_at", "workspace_id", "on_behalf_of", "at"),
        Index("ix_audit_entries_at", "at"),
    )

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False)
    #: when the change happened (its event's occurred_at)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    #: account, api_key or system
    actor_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_id: Mapped[str] = mapped_column(String(64), nullable=False)
    #: for an API key: the account that created it, which it acts for
    on_behalf_of: Mapped[str | None] = mapped_column(String(64))
    #: the event type, like workspace.app.created
    action: Mapped[str] = mapped_column(String(100), nullable=False)
    subject_kind: Mapped[str] = mapped_column(String(32), nullable=False)
    subject_id: Mapped[str] = mapped_column(String(64), nullable=False)
    #: a sentence made from an allow-list of the payload's fields, never a secret
    summary: Mapped[str] = mapped_column(String(500), nullable=False)
    #: the correlation id of the request that made the change
    request_id: Mapped[str | None] = mapped_column(String(128))
    event_id: Mapped[str] = mapped_column(String(64), nullable=False)


class Webhook(Base):
    """An admin's URL that the workspace's events are posted to, signed with its secret."""

    __tablename__ = "webhooks"

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), nullable=False, index=True)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    #: the public event names it receives (webhook_events.EVENTS)
    events: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    description: Mapped[str | None] = mapped_column(String(300))
    #: SecretBox ciphertext of the signing secret: signing needs it again, so it cannot be a hash
    secret_encrypted: Mapped[str] = mapped_column(Text, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class WebhookDelivery(Base):
    """One event for one webhook: the body as signed and sent, and where its sending is. The
    deliveries are the webhook worker's queue: due ones (`next_attempt_at`) are claimed with
    SKIP LOCKED, so a slow receiver holds up nothing but its own."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # one delivery per event and webhook, however often the broker hands the event over
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_webhook_event"),
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at"),
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where="status = 'pending'"),
    )

    id: Mapped[str] = id_column()
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False)
    #: the public event name (`ping` for a ping)
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    #: the domain event it tells of; a ping's own id
    event_id: Mapped[str] = mapped_column(String(64), nullable=False)
    #: the exact bytes signed and posted, every attempt alike
    body: Mapped[str] = mapped_column(Text, nullable=False)
    #: pending, delivered or failed (given up)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: failed attempts since it was queued or redelivered: which wait of the retry schedule is next
    retries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: when the next attempt is due; while one is under way, when it is taken as lost
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_at_column()


class WebhookAttempt(Base):
    """One try at a delivery: when, what the receiver answered (or why there was no answer), how long it took."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery_at", "delivery_id", "at"),)

    id: Mapped[str] = id_column()
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False)
    at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    error: Mapped[str | None] = mapped_column(String(500))


#: answers kept for retried creates (Idempotency-Key)
idempotency_keys = define_idempotency_table(Base.metadata)
