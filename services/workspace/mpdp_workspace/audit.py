"""The audit log: who did what in a workspace, one row per change, from the events every service
publishes about it (members and invitations, roles and blocks, apps and keys, API keys,
settings, mini programs, versions, launches in every status, approvals, features, alert rules
and the alerts they fire).

The consumer writes one `AuditEntry` per event (`record`), in the transaction of the inbox row
that makes the event's effect happen once; the event's id is unique in the table too. The row
names the event's actor (an account, an API key with the account it acts for, or the system),
the event type as its action, the subject the event is about, and a summary made only from an
allow-list of the payload's fields: a token, a hash, a ciphertext or a password is never copied,
whatever a payload carries. Rows are never changed; `purge` deletes those past the retention
(`MPDP_AUDIT_RETENTION_DAYS`, 400 days at least), run by the consumer at most once an hour.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mpdp_common.config import MIN_AUDIT_RETENTION_DAYS
from mpdp_common.contracts import Actor
from mpdp_common.db import utcnow
from mpdp_common.events import Event, handler_settings

from .models import AuditEntry

log = logging.getLogger(__name__)

Payload = Mapping[str, Any]

#: the longest summary kept; a longer one (a long reason) is cut
SUMMARY_LENGTH = 500


@dataclass(frozen=True)
class Audited:
    """How an event type reads in the audit log: what it is about (its kind, and the payload field
    holding its id), and its sentence: a template naming the payload fields it shows, or a
    function for a sentence that depends on them. Nothing else of the payload is read."""

    subject_kind: str
    subject_field: str
    summary: str | Callable[[Payload], str]

    def sentence(self, payload: Payload) -> str:
        if callable(self.summary):
            return self.summary(payload)
        return self.summary.format_map({name: _shown(value) for name, value in payload.items()})


def _shown(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _changed(payload: Payload) -> str:
    return ", ".join(str(name) for name in payload.get("changed") or []) or "nothing"


def _events(payload: Payload) -> str:
    return ", ".join(payload.get("events") or []) or "no events"


def _launch(payload: Payload) -> str:
    version = payload.get("version") or payload["version_id"]
    status, before = payload["status"], payload.get("previous_status")
    if before == status:
        rollout = payload.get("rollout") or {}
        return f"Rollout of version {version} on app {payload['app_id']} is {rollout.get('state', 'changed')} ({status})"
    sentence = f"Launch of version {version} on app {payload['app_id']}: {before or 'new'} → {status}"
    if status == "grayscale" and payload.get("percentage") is not None:
        sentence += f" at {payload['percentage']} %"
    if payload.get("reason"):
        sentence += f" ({payload['reason']})"
    return sentence


def _approval(verb: str | None = None) -> Callable[[Payload], str]:
    def summary(payload: Payload) -> str:
        subject = payload["subject"]
        return f"Approval of the {payload['type']} request about {subject['kind']} {subject['id']} {verb or payload['status']}"

    return summary


def _alert_rule(payload: Payload) -> str:
    """A rule as people say it: `crash_free_sessions_below 0.99 over 60 min` of mini program m1."""
    said = [payload["kind"]]
    if payload.get("threshold") is not None:
        said.append(f"{payload['threshold']:g}")
    if payload.get("window_minutes"):
        said.append(f"over {payload['window_minutes']} min")
    return f"{' '.join(said)} of mini program {payload['miniprogram_id']}"


MEMBER = "Member {account_id} {verb} (role {role})"
ASSIGNMENT = "Member {account_id} {verb} mini program {miniprogram_id}"

#: every event type the audit log records, and how
AUDITED: dict[str, Audited] = {
    "identity.member.added": Audited("member", "account_id", MEMBER.replace("{verb}", "added")),
    "identity.member.role_changed": Audited("member", "account_id", MEMBER.replace("{verb}", "changed role")),
    "identity.member.blocked": Audited("member", "account_id", MEMBER.replace("{verb}", "blocked")),
    "identity.member.unblocked": Audited("member", "account_id", MEMBER.replace("{verb}", "unblocked")),
    "identity.member.removed": Audited("member", "account_id", MEMBER.replace("{verb}", "removed")),
    "identity.invitation.created": Audited("invitation", "invitation_id", "Invited {email} as {role}"),
    "identity.invitation.accepted": Audited("invitation", "invitation_id", "Invitation accepted by {account_id} as {role}"),
    "workspace.workspace.created": Audited("workspace", "workspace_id", "Workspace “{name}” created ({kind})"),
    "workspace.workspace.updated": Audited("workspace", "workspace_id", lambda p: f"Workspace details changed: {_changed(p)}"),
    "workspace.workspace.deleted": Audited("workspace", "workspace_id", "Workspace deleted ({kind})"),
    "workspace.developer_workspace.requested": Audited(
        "workspace", "workspace_id", "Developer workspace “{name}” requested ({business_type})"
    ),
    "workspace.developer_workspace.rejected": Audited("workspace", "workspace_id", "Developer workspace application rejected"),
    "workspace.settings.updated": Audited("settings", "workspace_id", "Settings changed (revision {revision})"),
    "workspace.app.created": Audited("app", "app_id", "Host app “{name}” created ({bundle_id})"),
    "workspace.app.updated": Audited("app", "app_id", lambda p: f"Host app “{p['name']}” changed: {_changed(p)}"),
    "workspace.app_key.created": Audited("app_key", "key_id", "App key {key_id} created for app {app_id}"),
    "workspace.app_key.revoked": Audited("app_key", "key_id", "App key {key_id} of app {app_id} revoked"),
    "workspace.app_key.rotated": Audited(
        "app_key", "new_key_id", "App key {old_key_id} of app {app_id} rotated to {new_key_id}; the old one works until {old_expires_at}"
    ),
    "workspace.api_key.created": Audited("api_key", "api_key_id", "API key {api_key_id} created with the role {role}"),
    "workspace.api_key.revoked": Audited("api_key", "api_key_id", "API key {api_key_id} revoked"),
    "catalog.miniprogram.created": Audited("miniprogram", "miniprogram_id", "Mini program “{name}” created"),
    "catalog.assignment.added": Audited("miniprogram", "miniprogram_id", ASSIGNMENT.replace("{verb}", "assigned to")),
    "catalog.assignment.removed": Audited("miniprogram", "miniprogram_id", ASSIGNMENT.replace("{verb}", "taken off")),
    "catalog.miniprogram.updated": Audited("miniprogram", "miniprogram_id", lambda p: f"Mini program “{p['name']}” changed: {_changed(p)}"),
    "catalog.testers.changed": Audited(
        "miniprogram", "miniprogram_id", "Testers whitelist of mini program {miniprogram_id} set ({testers} testers)"
    ),
    "catalog.jsapi.created": Audited("jsapi", "jsapi_id", "JSAPI {name} created"),
    "catalog.jsapi.updated": Audited("jsapi", "jsapi_id", lambda p: f"JSAPI {p['name']} changed: {_changed(p)}"),
    "catalog.feature.created": Audited("feature", "feature_id", "Feature “{name}” created"),
    "catalog.feature.updated": Audited(
        "feature", "feature_id", lambda p: f"Feature “{p['name']}” changed (revision {p['revision']}): {_changed(p)}"
    ),
    "identity.invitation.withdrawn": Audited("invitation", "invitation_id", "Invitation {invitation_id} ({role}) withdrawn"),
    "telemetry.issue.status_changed": Audited(
        "issue", "issue_id", "Crash issue “{title}” of mini program {miniprogram_id}: {previous_status} → {status}"
    ),
    "catalog.version.uploaded": Audited(
        "version", "version_id", "Version {version} of mini program {miniprogram_id} uploaded ({size} bytes)"
    ),
    "catalog.version.sourcemaps_added": Audited(
        "version", "version_id", lambda p: f"{len(p['sourcemaps'])} source map(s) added to version {p['version']}"
    ),
    "catalog.launch.status_changed": Audited("launch", "launch_id", _launch),
    "catalog.miniprogram.offline_requested": Audited(
        "launch", "launch_id", "Taking mini program {miniprogram_id} offline on app {app_id} requested: {reason}"
    ),
    "catalog.miniprogram.online_requested": Audited(
        "launch", "launch_id", "Bringing mini program {miniprogram_id} online on app {app_id} requested: {reason}"
    ),
    "catalog.feature.activation_requested": Audited(
        "feature", "feature_id", "Activation of feature {feature_id} for mini program {miniprogram_id} requested"
    ),
    "telemetry.alert_rule.created": Audited("alert_rule", "alert_rule_id", lambda p: f"Alert rule {_alert_rule(p)} created"),
    "telemetry.alert_rule.deleted": Audited("alert_rule", "alert_rule_id", lambda p: f"Alert rule {_alert_rule(p)} deleted"),
    "telemetry.alert.fired": Audited("alert_rule", "alert_rule_id", "Alert fired: {summary}"),
    "workspace.webhook.created": Audited("webhook", "webhook_id", lambda p: f"Webhook to {p['host']} created for {_events(p)}"),
    "workspace.webhook.updated": Audited("webhook", "webhook_id", lambda p: f"Webhook to {p['host']} changed: {_changed(p)}"),
    "workspace.webhook.deleted": Audited("webhook", "webhook_id", "Webhook to {host} deleted"),
    "approval.approval.decided": Audited("approval", "approval_id", _approval()),
    "approval.approval.withdrawn": Audited("approval", "approval_id", _approval("withdrawn")),
}

#: payload fields naming the account that made a change: the actor of an event from before envelopes named one
_BY_FIELDS = ("changed_by", "created_by", "requested_by", "uploaded_by", "decided_by", "withdrawn_by", "deleted_by")


def actor_of(event: Event) -> Actor:
    """The event's actor; for an event from before envelopes named one, the account its payload
    says made the change, else the service that published it."""
    if event.actor is not None:
        return event.actor
    for name in _BY_FIELDS:
        if isinstance(event.payload.get(name), str) and event.payload[name]:
            return Actor.account(event.payload[name])
    return Actor.system(event.producer)


def retold(event: Event) -> bool:
    """An event published again for other services' read models (`mpdpctl announce`), not a change."""
    return event.actor is not None and event.actor.kind == "system" and event.actor.id.endswith(".announce")


def entry_for(event: Event) -> AuditEntry | None:
    """The row an event makes; None for one that is not a change in a workspace."""
    audited = AUDITED.get(event.type)
    if audited is None or not event.workspace_id or retold(event):
        return None
    actor = actor_of(event)
    summary = audited.sentence(event.payload)
    if len(summary) > SUMMARY_LENGTH:
        summary = summary[: SUMMARY_LENGTH - 1] + "…"
    return AuditEntry(
        workspace_id=event.workspace_id,
        at=datetime.fromisoformat(event.occurred_at.replace("Z", "+00:00")),
        actor_kind=actor.kind,
        actor_id=actor.id[:64],
        on_behalf_of=actor.on_behalf_of,
        action=event.type,
        subject_kind=audited.subject_kind,
        subject_id=str(event.payload[audited.subject_field])[:64],
        summary=summary,
        request_id=(event.correlation_id or "")[:128] or None,
        event_id=event.id,
    )


def record(session: Session, event: Event) -> None:
    """Write the event's row (once: the inbox claims the event, and its id is unique here)."""
    entry = entry_for(event)
    if entry is not None and session.scalar(select(AuditEntry.id).where(AuditEntry.event_id == event.id)) is None:
        session.add(entry)
    _purge_now_and_then(session)


def retention(days: int) -> timedelta:
    return timedelta(days=max(MIN_AUDIT_RETENTION_DAYS, days))


#: rows deleted by one purge at most; the next one goes on
PURGE_BATCH = 5000


def purge(session: Session, retention_days: int, now: datetime | None = None) -> int:
    """Delete up to PURGE_BATCH rows older than the retention (400 days at least); how many it deleted."""
    cutoff = (now or utcnow()) - retention(retention_days)
    expired = select(AuditEntry.id).where(AuditEntry.at < cutoff).order_by(AuditEntry.at).limit(PURGE_BATCH)
    ids = list(session.scalars(expired))
    if ids:
        session.execute(delete(AuditEntry).where(AuditEntry.id.in_(ids)))
        log.info("purged %d audit log entries older than %s", len(ids), cutoff.isoformat())
    return len(ids)


#: how often a consumer process purges, at most
PURGE_INTERVAL_SECONDS = 3600.0
_purged_at = float("-inf")
_purge_lock = threading.Lock()


def _purge_now_and_then(session: Session) -> None:
    global _purged_at
    with _purge_lock:
        if time.monotonic() - _purged_at < PURGE_INTERVAL_SECONDS:
            return
        _purged_at = time.monotonic()
    purge(session, handler_settings(session).audit_retention_days)
