from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mpdp_common.apikeys import ApiKeyColumns
from mpdp_common.assignments import AssignmentColumns
from mpdp_common.db import UtcDateTime, created_at_column, id_column, utcnow
from mpdp_common.idempotency import define_idempotency_table
from mpdp_common.membership import MembershipColumns


class Base(DeclarativeBase):
    pass


def normalize_email(email: str) -> str:
    """The form an email is stored and looked up in: accounts and invitations match it case-blind."""
    return email.strip().lower()


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = id_column()
    email: Mapped[str] = mapped_column(String(254), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    #: when its owner followed the mailed link; None while unverified
    email_verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: when the last verification mail was queued (a resend waits a minute after it)
    verification_mailed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: TOTP (RFC 6238): the confirmed secret and the one being set up, as SecretBox ciphertext
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    totp_pending_encrypted: Mapped[str | None] = mapped_column(Text)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the time step of the last code accepted: a code works once
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    #: when its owner erased it: the email and name are gone (a tombstone keeps the id), nothing signs in
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = created_at_column()

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def mfa_enabled(self) -> bool:
        return self.totp_enabled_at is not None


class RecoveryCode(Base):
    """One of the ten single-use codes that stand in for a TOTP code; only its argon2 hash is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    code_hash: Mapped[str] = mapped_column(Text, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = created_at_column()


class MailToken(Base):
    """A single-use token mailed to an account's owner (email verification, password reset);
    only its SHA-256 is kept."""

    __tablename__ = "mail_tokens"

    id: Mapped[str] = id_column()
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    #: verify_email or reset_password
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = created_at_column()


class LoginThrottle(Base):
    """Sign-in attempts per email in its current window (see throttle.py); the email as a digest."""

    __tablename__ = "login_throttle"

    email_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, index=True)


class RefreshToken(Base):
    """One refresh token of a rotation chain (`family_id`); only its SHA-256 is kept."""

    __tablename__ = "refresh_tokens"

    id: Mapped[str] = id_column()
    family_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the token this one was rotated into, and that answer (SecretBox ciphertext) for the grace window
    replaced_by: Mapped[str | None] = mapped_column(String(32))
    rotation_encrypted: Mapped[str | None] = mapped_column(Text)
    #: who asked for it: the client's user agent and address (a chain is a session: see GET /me/sessions)
    user_agent: Mapped[str | None] = mapped_column(String(300))
    ip: Mapped[str | None] = mapped_column(String(64))
    #: how its sign-in was authenticated (RFC 8176 values, space-separated): "pwd" or "pwd otp"
    amr: Mapped[str] = mapped_column(String(32), nullable=False, default="pwd")
    created_at: Mapped[datetime] = created_at_column()


class Member(MembershipColumns, Base):
    """The authoritative membership; other services keep read models of it from events."""

    __tablename__ = "members"

    joined_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, nullable=False)


class WorkspaceName(Base):
    """A workspace's name as the workspace service last told it: what an invitation says it is to."""

    __tablename__ = "workspace_names"

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)


class Invitation(Base):
    __tablename__ = "invitations"

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    email: Mapped[str] = mapped_column(String(254), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    miniprogram_ids: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    #: pending, accepted or withdrawn; "expired" is derived from expires_at
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    invited_by: Mapped[str] = mapped_column(String(32), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    accepted_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = created_at_column()

    def current_status(self, now: datetime | None = None) -> str:
        """The stored status, except that a pending invitation past its expiry is expired."""
        if self.status == "pending" and self.expires_at <= (now or utcnow()):
            return "expired"
        return self.status


class QueuedMail(Base):
    """An email on its way out through its workspace's SMTP server, or as the platform's own mail
    (no workspace) through the operator's, sent by the mail worker (mail_queue.py) with retries of
    its own, so that no request or event handler waits for SMTP."""

    __tablename__ = "mail_queue"

    id: Mapped[str] = id_column()
    #: None for the platform's own mail (verification, password reset)
    workspace_id: Mapped[str | None] = mapped_column(String(32))
    #: the whole message as SecretBox ciphertext (an invitation holds its token); dropped once sent or given up
    message_encrypted: Mapped[str | None] = mapped_column(Text)
    #: pending, sent or failed
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = created_at_column()

    __table_args__ = (Index("ix_mail_queue_due", "status", "next_attempt_at"),)


class ApiKey(ApiKeyColumns, Base):
    """Read model of the workspace API keys, from workspace.api_key.* events."""

    __tablename__ = "api_keys"


class WorkspaceMailSettings(Base):
    """Read model of each workspace's service email (its SMTP server), and whether it requires
    two-factor sign-in of its members, from workspace.settings.updated."""

    __tablename__ = "workspace_mail_settings"

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sender: Mapped[str | None] = mapped_column(String(254))
    smtp_host: Mapped[str | None] = mapped_column(String(253))
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    smtp_username: Mapped[str | None] = mapped_column(String(254))
    #: SecretBox ciphertext, as the workspace service published it
    smtp_password_encrypted: Mapped[str | None] = mapped_column(Text)
    primary_domain: Mapped[str | None] = mapped_column(String(253))
    #: whether the members need two-factor sign-in (mpdp_common.auth.require_member reads it)
    require_mfa: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


#: answers kept for retried creates (Idempotency-Key)
idempotency_keys = define_idempotency_table(Base.metadata)


class NotificationChoice(Base):
    """What a member wants mailed about one workspace; no row means every kind."""

    __tablename__ = "notification_choices"

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    approvals: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    releases: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    quality: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class NotificationSent(Base):
    """When a quality mail about one thing (an issue, an alert rule) last went out: one an hour at most."""

    __tablename__ = "notifications_sent"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)


class Assignment(AssignmentColumns, Base):
    """Read model of the catalog's assignments: which developers a mini program's mail goes to."""

    __tablename__ = "assignments"

    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
