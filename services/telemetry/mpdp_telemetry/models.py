"""The telemetry database: read models fed by events, the raw events host apps send, the daily
rollups that the console reads, and the crash groups (issues) built from Sentry envelopes."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, Index, Integer, LargeBinary, String, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from mpdp_common.apikeys import ApiKeyColumns
from mpdp_common.appkeys import AppKeyColumns
from mpdp_common.assignments import AssignmentColumns
from mpdp_common.db import UtcDateTime, created_at_column, utcnow
from mpdp_common.membership import MembershipColumns, WorkspacePolicyColumns

#: `app_id` and `version` of a rollup row that holds every host app or version, and `key` of one that has none
ALL = ""


class Base(DeclarativeBase):
    pass


# -- read models ----------------------------------------------------------------------------------


class Member(MembershipColumns, Base):
    __tablename__ = "members"


class ApiKey(ApiKeyColumns, Base):
    __tablename__ = "api_keys"


class AppKey(AppKeyColumns, Base):
    """Host-app keys (`workspace.app_key.*`): an ingest request names one in `X-MPDP-Key`."""

    __tablename__ = "app_keys"

    #: when this service learned of the key: the DSN shows an app's newest key
    learned_at: Mapped[datetime] = created_at_column()


class Workspace(Base):
    """Which workspace is a developer workspace of which tenant: a tenant's host apps report for
    the mini programs of its developer workspaces too."""

    __tablename__ = "workspaces"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(String(32))


class MiniProgram(Base):
    """Mini programs (`catalog.miniprogram.created`), and the dense numbers given to their users."""

    __tablename__ = "miniprograms"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    telemetry_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False, default="")
    #: how many distinct users it has had: the next user's position in the user bitmaps
    user_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: whether any of its versions has source maps: the crashes of one that never had any skip the lookup
    has_sourcemaps: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())


class Assignment(AssignmentColumns, Base):
    """Reviewers and developers assigned to a mini program, or no longer (`catalog.assignment.*`):
    who besides the admins sees its analytics and crashes."""

    __tablename__ = "assignments"

    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # indexed alone too: which mini programs one member sees is asked on every list and report
    account_id: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False)


class Launch(Base):
    """The catalog's launches (`catalog.launch.status_changed`, applied by revision): which version
    each puts on which host app, its status, and the guard its version is held to in grayscale."""

    __tablename__ = "launches"
    __table_args__ = (Index("ix_launches_miniprogram_app", "miniprogram_id", "app_id", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False)
    miniprogram_id: Mapped[str] = mapped_column(String(32), nullable=False)
    app_id: Mapped[str] = mapped_column(String(32), nullable=False)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    #: when it changed at the catalog
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    #: when it was first published (grayscale or released), and when its rollout plan began
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    rollout_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the rollout plan's guard, and when its current step's hold ends
    guard: Mapped[dict | None] = mapped_column(JSON)
    next_step_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: when the guard worker checks it next: null unless it is in grayscale with a guard
    next_check_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    #: the revision a failing verdict was published for: one verdict per state of the launch
    failing_revision: Mapped[int | None] = mapped_column(Integer)

    @property
    def since(self) -> datetime:
        """Where its health starts: the rollout's beginning, else its first publish, else its last change."""
        return self.rollout_started_at or self.published_at or self.changed_at


# -- raw events -----------------------------------------------------------------------------------


class RawEvent(Base):
    """What host apps sent, one row per accepted event. On PostgreSQL the table is partitioned by
    `day` (one partition a day, dropped after the retention period; the rollups stay), written by
    COPY, and folded into the rollups in the order of `txid`, the writing transaction's id."""

    __tablename__ = "raw_events"
    __table_args__ = (Index("ix_raw_events_txid", "txid"), {"postgresql_partition_by": "RANGE (day)"})

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: the event's time, corrected by the client's clock skew
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    app_id: Mapped[str] = mapped_column(String(32), nullable=False)
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    user_id: Mapped[str] = mapped_column(String(128), nullable=False)
    session_id: Mapped[str] = mapped_column(String(128), nullable=False)
    page: Mapped[str | None] = mapped_column(String(255))
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str | None] = mapped_column(String(100))
    properties: Mapped[dict | None] = mapped_column(JSON)
    #: PostgreSQL: the id of the transaction that wrote the row (set by the column default)
    txid: Mapped[int | None] = mapped_column(BigInteger)


class FoldPosition(Base):
    """How far the raw events have been folded into the rollups (a transaction id, or a rowid on SQLite)."""

    __tablename__ = "fold_positions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False, default=utcnow)


# -- rollups --------------------------------------------------------------------------------------


class UserNumber(Base):
    """Each user of a mini program gets a dense number, its bit in the user bitmaps, and the day
    ingest first saw it: null for a user only Sentry's sessions have named so far (not yet a new
    or active user of the analytics)."""

    __tablename__ = "user_numbers"

    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    first_day: Mapped[date | None] = mapped_column(Date)


class DailyCount(Base):
    """Additive figures per day, host app and version: page views, sessions, durations, custom events."""

    __tablename__ = "daily_counts"

    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(24), primary_key=True)
    #: the page or custom event name the figure is about, or ALL
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class UserSet(Base):
    """The exact set of users behind a figure, as a bitmap of their numbers: unions over days,
    host apps and versions give exact distinct counts for any filter and date range."""

    __tablename__ = "user_sets"

    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: active (users seen), new (first seen that day; app and version ALL), page, event
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    bits: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class SessionDay(Base):
    """Sessions seen per day, so that a session is counted once whatever number of events it sends."""

    __tablename__ = "session_days"

    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(128), primary_key=True)


class LaunchedSession(Base):
    """Release health from ingest: a session is an `app_launch`'s session id, crashed once a `js_error`
    came with it. Either may arrive first: the row remembers what was seen, so each session and each
    crash is counted once, on the day, host app and version of its launch."""

    __tablename__ = "launched_sessions"

    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    #: the launch's day, host app, version and user number; null while only a js_error has been seen
    day: Mapped[date | None] = mapped_column(Date)
    app_id: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[str | None] = mapped_column(String(64))
    user_number: Mapped[int | None] = mapped_column(Integer)
    crashed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class StartupTime(Base):
    """How many launches took exactly `duration_ms`: exact percentiles from a few rows a day."""

    __tablename__ = "startup_times"

    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    duration_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


# -- crash reports --------------------------------------------------------------------------------


class Issue(Base):
    """A crash group: the error events that share a fingerprint."""

    __tablename__ = "issues"
    __table_args__ = (
        Index("ix_issues_miniprogram_fingerprint", "miniprogram_id", "fingerprint", unique=True),
        # the orders of a mini program's issues list, read backwards: the latest, the most frequent, the newest
        Index("ix_issues_miniprogram_last_seen", "miniprogram_id", "last_seen", "id"),
        Index("ix_issues_miniprogram_count", "miniprogram_id", "count", "id"),
        Index("ix_issues_miniprogram_first_seen", "miniprogram_id", "first_seen", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    miniprogram_id: Mapped[str] = mapped_column(String(32), nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    culprit: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    level: Mapped[str] = mapped_column(String(16), nullable=False, default="error")
    #: unresolved, resolved or ignored
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="unresolved")
    regressed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    #: the newest version seen when it was resolved: an event of a newer version reopens it
    resolved_in: Mapped[str | None] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    users: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    latest_event: Mapped[dict] = mapped_column(JSON, nullable=False)


class IssueVersion(Base):
    """Events of an issue per version and day: the versions it appears in, and error counts."""

    __tablename__ = "issue_versions"

    issue_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    miniprogram_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class IssueUser(Base):
    __tablename__ = "issue_users"

    issue_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(128), primary_key=True)


class CrashEvent(Base):
    """The event ids already taken, so that a resent crash report counts once; by their arrival,
    the error counts of an alert rule's windows."""

    __tablename__ = "crash_events"
    __table_args__ = (Index("ix_crash_events_received", "miniprogram_id", "received_at"),)

    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    issue_id: Mapped[str] = mapped_column(String(32), nullable=False)
    received_at: Mapped[datetime] = created_at_column()


class ReleaseSession(Base):
    """A session of Sentry's release health, as the folder has counted it so far: its day, host app,
    version and user, and its worst status. Its updates arrive as raw events (type `session`)
    in any order; each session is counted once, and its crash once, on its first day, host app
    and version (`daily_counts` and `user_sets` `launched` and `crashed`, with ingest's sessions)."""

    __tablename__ = "release_sessions"

    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    #: the host app of the key that reported it
    app_id: Mapped[str] = mapped_column(String(32), nullable=False)
    version: Mapped[str] = mapped_column(String(64), nullable=False)
    #: the number of its user (Sentry's `did`), once one was named
    user_number: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), nullable=False)


class SessionAggregate(Base):
    """Sessions that SDKs report pre-counted (the `sessions` item of server-side SDKs), per day, host app and version."""

    __tablename__ = "session_aggregates"

    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    #: the host app of the key that reported them ("" for those reported before keys named it)
    app_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    #: the version the release names (see crashes.version_of)
    release: Mapped[str] = mapped_column(String(64), primary_key=True)
    total: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    crashed: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    errored: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class SourceMap(Base):
    """A source map of a mini program's version, as `catalog.version.sourcemaps_added` names it:
    the map and the minified file it maps are blobs of the package store, read by their SHA-256
    when a crash of that version needs them (see sourcemaps.py)."""

    __tablename__ = "sourcemaps"

    miniprogram_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: the package's file that the map maps (`pages/index/index.js`)
    js_path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    map_path: Mapped[str] = mapped_column(String(1024), nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    source_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    source_size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    learned_at: Mapped[datetime] = created_at_column()


class WorkspacePolicy(WorkspacePolicyColumns, Base):
    """Read model of whether a workspace requires two-factor sign-in, from workspace.settings.updated."""

    __tablename__ = "workspace_policies"


# -- alert rules ----------------------------------------------------------------------------------


class AlertRule(Base):
    """A mini program's alert rule (alerts.py): a figure over a window held to a threshold, or
    every new or regressed crash group."""

    __tablename__ = "alert_rules"
    __table_args__ = (Index("ix_alert_rules_miniprogram", "miniprogram_id", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    miniprogram_id: Mapped[str] = mapped_column(String(32), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    #: a share 0 to 1 (crash_free_*), a factor over the previous windows (error_spike), else null
    threshold: Mapped[float | None] = mapped_column(Float)
    min_sessions: Mapped[int | None] = mapped_column(Integer)
    window_minutes: Mapped[int | None] = mapped_column(Integer)
    min_errors: Mapped[int | None] = mapped_column(Integer)
    #: ok or firing: a firing rule fires again only once it has been back to ok
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="ok")
    last_fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: the last evaluation's figures, and when the alerts worker evaluates it next (null for the kinds it does not evaluate)
    last_value: Mapped[float | None] = mapped_column(Float)
    last_sessions: Mapped[int | None] = mapped_column(Integer)
    evaluated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_check_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    created_at: Mapped[datetime] = created_at_column()
    created_by: Mapped[str] = mapped_column(String(32), nullable=False)
