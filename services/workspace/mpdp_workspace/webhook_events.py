"""What a webhook receives: version 1 of each public event's `data`, made from the domain events
of the services. The shapes here are the public contract (docs/webhooks.md), not the internal
payloads: a field is added to them, never renamed or removed, and a change that would break a
receiver becomes version 2 of the event. Nothing but the fields named here leaves the platform.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mpdp_common.events import Event

#: the version of every event's `data` shape (the body's `version`)
VERSION = 1

Payload = Mapping[str, Any]


def _pick(payload: Payload, *names: str) -> dict[str, Any]:
    return {name: payload.get(name) for name in names}


def _approval_opened(payload: Payload) -> dict[str, Any]:
    return _pick(payload, "approval_id", "type", "title", "subject", "applicant_id", "opened_at")


def _approval_decided(payload: Payload) -> dict[str, Any]:
    return _pick(payload, "approval_id", "type", "subject", "applicant_id", "status", "decided_by", "decided_at", "comment")


def _launch(payload: Payload) -> dict[str, Any]:
    rollout = payload.get("rollout")
    return _pick(payload, "launch_id", "miniprogram_id", "app_id", "version_id", "version", "status", "previous_status", "percentage") | {
        "rollout": {"state": rollout["state"], "current_step": rollout["current_step"], "step_count": rollout["step_count"]}
        if rollout
        else None,
        "changed_by": payload.get("changed_by"),
        "reason": payload.get("reason"),
    }


def _status_moved(payload: Payload) -> bool:
    return bool(payload.get("status") != payload.get("previous_status"))


def _halted(payload: Payload) -> bool:
    return payload.get("status") == "halted" and payload.get("previous_status") != "halted"


def _halt(payload: Payload) -> dict[str, Any]:
    return _launch(payload) | {"figures": payload.get("figures")}


def _version(payload: Payload) -> dict[str, Any]:
    return _pick(payload, "version_id", "miniprogram_id", "version", "size", "uploaded_by", "uploaded_at")


def _issue(payload: Payload) -> dict[str, Any]:
    return _pick(payload, "issue_id", "miniprogram_id", "title", "culprit", "level", "version")


def _issue_created(payload: Payload) -> dict[str, Any]:
    return _issue(payload) | {"first_seen": payload.get("first_seen")}


def _issue_regressed(payload: Payload) -> dict[str, Any]:
    return _issue(payload) | _pick(payload, "resolved_in", "regressed_at")


def _alert(payload: Payload) -> dict[str, Any]:
    return _pick(
        payload,
        "alert_rule_id",
        "miniprogram_id",
        "kind",
        "threshold",
        "window_minutes",
        "min_sessions",
        "value",
        "sessions",
        "issue_id",
        "summary",
        "fired_at",
    )


MEMBER_CHANGES = {
    "identity.member.added": "added",
    "identity.member.role_changed": "role_changed",
    "identity.member.blocked": "blocked",
    "identity.member.unblocked": "unblocked",
    "identity.member.removed": "removed",
}


@dataclass(frozen=True)
class PublicEvent:
    """One public event: the domain events it tells of, which of them it tells (`when`), and its data."""

    name: str
    sources: tuple[str, ...]
    data: Callable[[Payload], dict[str, Any]]
    when: Callable[[Payload], bool] = lambda _payload: True
    description: str = ""


EVENTS: tuple[PublicEvent, ...] = (
    PublicEvent("approval.opened", ("approval.approval.opened",), _approval_opened, description="an approval waits for a reviewer"),
    PublicEvent("approval.decided", ("approval.approval.decided",), _approval_decided, description="an approval was approved or rejected"),
    PublicEvent(
        "launch.status_changed",
        ("catalog.launch.status_changed",),
        _launch,
        when=_status_moved,
        description="a launch moved to another status (pilot, grayscale, released, halted, offline, ...)",
    ),
    PublicEvent(
        "launch.halted",
        ("catalog.launch.status_changed",),
        _halt,
        when=_halted,
        description="a grayscale launch was halted by its guard, with the figures it judged",
    ),
    PublicEvent("version.uploaded", ("catalog.version.uploaded",), _version, description="a version of a mini program was uploaded"),
    PublicEvent(
        "quality.issue.created", ("telemetry.issue.created",), _issue_created, description="a crash issue was seen for the first time"
    ),
    PublicEvent(
        "quality.issue.regressed",
        ("telemetry.issue.regressed",),
        _issue_regressed,
        description="a resolved crash issue came back in a newer version",
    ),
    PublicEvent("alert.fired", ("telemetry.alert.fired",), _alert, description="an alert rule fired"),
    PublicEvent(
        "member.changed",
        tuple(MEMBER_CHANGES),
        lambda payload: _pick(payload, "account_id", "role", "status"),
        description="a member was added, removed, blocked, unblocked or given another role",
    ),
)

#: the names a webhook may subscribe to
NAMES = tuple(event.name for event in EVENTS)
#: the domain events webhooks are fed by
SOURCES = tuple(dict.fromkeys(source for event in EVENTS for source in event.sources))
#: the event of a ping delivery, sent whatever a webhook subscribes to
PING = "ping"


def told(event: Event) -> list[tuple[str, dict[str, Any]]]:
    """The public events a domain event makes, each with its data."""
    found = []
    for public in EVENTS:
        if event.type in public.sources and public.when(event.payload):
            data = public.data(event.payload)
            if public.name == "member.changed":
                data["change"] = MEMBER_CHANGES[event.type]
            found.append((public.name, data))
    return found
