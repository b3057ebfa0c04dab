from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mpdp_common.apikeys import ApiKeyColumns
from mpdp_common.appkeys import AppKeyColumns
from mpdp_common.assignments import AssignmentColumns
from mpdp_common.db import UtcDateTime, created_at_column, id_column, utcnow
from mpdp_common.idempotency import define_idempotency_table
from mpdp_common.membership import MembershipColumns


class Base(DeclarativeBase):
    pass


class MiniProgram(Base):
    __tablename__ = "miniprograms"
    __table_args__ = (UniqueConstraint("workspace_id", "name"), UniqueConstraint("telemetry_id", name="uq_miniprograms_telemetry_id"))

    id: Mapped[str] = id_column()
    #: the numeric id that crash reports name (a Sentry DSN's project id), from TelemetryId
    telemetry_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: draft until a launch releases a version
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class TelemetryId(Base):
    """Every telemetry id ever handed out. An autoincrement key that never reuses a value (a
    PostgreSQL sequence, SQLite's AUTOINCREMENT), so that an old DSN never reaches a new mini program."""

    __tablename__ = "telemetry_ids"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)


class Assignment(AssignmentColumns, Base):
    """A member assigned to a mini program, or no longer: who, besides the admins, sees and works on it."""

    __tablename__ = "assignments"

    miniprogram_id: Mapped[str] = mapped_column(ForeignKey("miniprograms.id", ondelete="CASCADE"), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False)
    #: when the member was last assigned
    assigned_at: Mapped[datetime] = created_at_column()


class Version(Base):
    """An uploaded package of a mini program; the bytes live in the blob store under their SHA-256."""

    __tablename__ = "versions"
    __table_args__ = (UniqueConstraint("miniprogram_id", "version"),)

    id: Mapped[str] = id_column()
    miniprogram_id: Mapped[str] = mapped_column(ForeignKey("miniprograms.id", ondelete="CASCADE"), nullable=False)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    notes: Mapped[str] = mapped_column(Text, nullable=False, default="")
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    entry_page: Mapped[str] = mapped_column(String(255), nullable=False)
    pages: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="uploaded")
    uploaded_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    #: what the package holds and which JSAPIs it calls (report.py); null for versions uploaded before reports
    report: Mapped[dict | None] = mapped_column(JSON)
    #: the package's .js files, which source maps added later may map; null before reports
    js_files: Mapped[list | None] = mapped_column(JSON)


class SourceMap(Base):
    """A source map of a version: the package's `<js_path>.map`, or one added later. The map and
    the minified file it maps are blobs (under their SHA-256) that telemetry reads to resolve the
    crashes of that version, as `catalog.version.sourcemaps_added` tells it."""

    __tablename__ = "sourcemaps"

    version_id: Mapped[str] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), primary_key=True)
    js_path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    map_path: Mapped[str] = mapped_column(String(1024), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    source_sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    source_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    #: package (in the uploaded zip) or upload (added later)
    origin: Mapped[str] = mapped_column(String(16), nullable=False)
    added_by: Mapped[str] = mapped_column(String(64), nullable=False)
    added_at: Mapped[datetime] = created_at_column()


class Tester(Base):
    """A host-app user on a mini program's whitelist: may open its pilot versions."""

    __tablename__ = "testers"

    miniprogram_id: Mapped[str] = mapped_column(ForeignKey("miniprograms.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    added_at: Mapped[datetime] = created_at_column()


class Jsapi(Base):
    __tablename__ = "jsapis"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    platforms: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    #: a JSON Schema of the call's parameters
    parameters: Mapped[dict | None] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class Feature(Base):
    """A bundle of JSAPIs that a tenant offers to mini programs; every change is kept as a revision."""

    __tablename__ = "features"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: direct (active at once) or approval (an approval of type feature decides)
    activation: Mapped[str] = mapped_column(String(16), nullable=False)
    visible_to_all: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    jsapi_ids: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False)


class FeatureRevision(Base):
    __tablename__ = "feature_revisions"

    feature_id: Mapped[str] = mapped_column(ForeignKey("features.id", ondelete="CASCADE"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    changed_by: Mapped[str] = mapped_column(String(64), nullable=False)
    changed_at: Mapped[datetime] = created_at_column()
    #: {field: {"old": ..., "new": ...}}
    changes: Mapped[dict] = mapped_column(JSON, nullable=False)


class FeatureActivation(Base):
    """A mini program's use of a feature; its id is the request id an approval refers to."""

    __tablename__ = "feature_activations"
    __table_args__ = (UniqueConstraint("miniprogram_id", "feature_id"),)

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False)
    miniprogram_id: Mapped[str] = mapped_column(ForeignKey("miniprograms.id", ondelete="CASCADE"), nullable=False)
    feature_id: Mapped[str] = mapped_column(ForeignKey("features.id", ondelete="CASCADE"), nullable=False)
    #: active, pending_approval or rejected
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    requested_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))


class Workspace(Base):
    """Read model of the workspaces' kinds, from workspace.workspace.created."""

    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: tenant or developer
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    parent_id: Mapped[str | None] = mapped_column(String(32))


#: the statuses in which a launch is on its way: at most one per mini program and app at a time
IN_PROGRESS = ("under_review", "pilot", "ready", "grayscale", "halted")
_IN_PROGRESS_SQL = text("status IN (" + ", ".join(f"'{status}'" for status in IN_PROGRESS) + ")")
_RELEASED_SQL = text("status = 'released'")


class Launch(Base):
    """A version of a mini program on its way to a host app's users; see lifecycle.py for its states."""

    __tablename__ = "launches"
    __table_args__ = (
        # Two concurrent submits cannot both win: the database keeps one launch in progress.
        Index(
            "uq_launches_in_progress",
            "miniprogram_id",
            "app_id",
            unique=True,
            postgresql_where=_IN_PROGRESS_SQL,
            sqlite_where=_IN_PROGRESS_SQL,
        ),
        Index("uq_launches_released", "miniprogram_id", "app_id", unique=True, postgresql_where=_RELEASED_SQL, sqlite_where=_RELEASED_SQL),
    )

    id: Mapped[str] = id_column()
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False)
    miniprogram_id: Mapped[str] = mapped_column(ForeignKey("miniprograms.id", ondelete="CASCADE"), nullable=False, index=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("versions.id", ondelete="CASCADE"), nullable=False)
    app_id: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="created")
    #: the share of users of a grayscale launch (100 once released)
    percentage: Mapped[int | None] = mapped_column(Integer)
    #: the approval this launch waits for (its id is the request id), and its type: launch, offline or online
    pending_request_id: Mapped[str | None] = mapped_column(String(32))
    pending_request_type: Mapped[str | None] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow, nullable=False)
    #: the oldest host app version that can run it (semver); null for every host
    min_host_version: Mapped[str | None] = mapped_column(String(64))
    #: counts the launch's published states (`catalog.launch.status_changed`), so that a read model applies the newest
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")


class Rollout(Base):
    """A launch's rollout plan: the steps it publishes by itself, where it is, and when the next
    step is due. The rollout worker takes a due step under the launch's row lock and moves
    `next_step_at` in the same transaction, so that no step is taken twice or skipped."""

    __tablename__ = "rollouts"

    launch_id: Mapped[str] = mapped_column(ForeignKey("launches.id", ondelete="CASCADE"), primary_key=True)
    #: [{percentage, hold_seconds}], rising to 100
    steps: Mapped[list] = mapped_column(JSON, nullable=False)
    #: the index of the step published last
    current_step: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: running, paused, completed or halted
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="running")
    #: when the current step's hold ends and the next step is published; null unless running
    next_step_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    #: while paused: the seconds of the current step's hold still to wait once resumed
    hold_left_seconds: Mapped[float | None] = mapped_column(Float)
    #: the floors the version's health is held to while the launch is in grayscale, or null
    guard: Mapped[dict | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = created_at_column()
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)


class LaunchStep(Base):
    """One entry of a launch's history: the status it reached, when, by whom (an account, the
    rollout plan, or its guard), and for a guard's halt why, with the figures it judged."""

    __tablename__ = "launch_history"

    launch_id: Mapped[str] = mapped_column(ForeignKey("launches.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    at: Mapped[datetime] = created_at_column()
    by: Mapped[str] = mapped_column(String(64), nullable=False)
    percentage: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    figures: Mapped[dict | None] = mapped_column(JSON)


class Deliverable(Base):
    """What a host app delivers, one row per app, mini program and channel (released, grayscale,
    pilot, and `previous1`, `previous2`... for the earlier releases that hosts too old for the
    current one still run): the read model behind /client/v1, rewritten whenever a launch of
    that pair changes."""

    __tablename__ = "deliverables"

    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    launch_id: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    version_id: Mapped[str] = mapped_column(String(32), nullable=False)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    percentage: Mapped[int] = mapped_column(Integer, nullable=False, default=100)
    #: the whitelisted testers of a pilot
    testers: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    #: the oldest host app version that runs it, or null
    min_host_version: Mapped[str | None] = mapped_column(String(64))


class App(Base):
    """Read model of the host apps, from workspace.app.* events."""

    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")


class WorkspaceSettings(Base):
    """Read model of the settings a launch and an upload need (is the tester whitelist on? how
    big may a package be?) and authorization (does it require two-factor sign-in?), from
    workspace.settings.updated."""

    __tablename__ = "workspace_settings"

    workspace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tester_whitelist_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: the largest package an upload may send; null: the default (`DEFAULT_PACKAGE_SIZE_LIMIT`)
    package_size_limit_bytes: Mapped[int | None] = mapped_column(BigInteger)
    #: whether the members need two-factor sign-in (mpdp_common.auth.require_member reads it)
    require_mfa: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class AppKey(AppKeyColumns, Base):
    """Read model of the host apps' keys, from workspace.app_key.* events."""

    __tablename__ = "app_keys"


class Member(MembershipColumns, Base):
    """Read model of the workspace members, from identity.member.* events."""

    __tablename__ = "members"


class ApiKey(ApiKeyColumns, Base):
    """Read model of the workspace API keys, from workspace.api_key.* events."""

    __tablename__ = "api_keys"


#: answers kept for retried creates (Idempotency-Key)
idempotency_keys = define_idempotency_table(Base.metadata)
