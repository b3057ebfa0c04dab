"""Domain events: the envelope, each service's declaration of what it handles, and the outbox
writer that records an event in the same transaction as the change it reports. The payload of
every (type, version) is declared in `mpdp_common.contracts` (see there how), checked when
published and when consumed.

    events = EventSpec("identity", Base.metadata)

    @events.handles("workspace.workspace.created")
    def on_workspace_created(session, event): ...

    events.publish(session, "identity.member.added", {...}, workspace_id=ws)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import MetaData, event, insert, text
from sqlalchemy.orm import Session

from .. import contracts
from ..config import Settings
from ..contracts import Actor, ContractViolation, UnknownEventType
from ..db import new_id, on_postgresql, utcnow
from ..logs import request_id
from .actors import current_actor, current_traceparent, new_traceparent
from .tables import define_event_tables

Handler = Callable[[Session, "Event"], None]


@dataclass(frozen=True)
class Event:
    type: str
    payload: dict[str, Any]
    producer: str
    version: int = 1
    workspace_id: str | None = None
    aggregate_id: str | None = None
    correlation_id: str | None = None
    id: str = field(default_factory=new_id)
    occurred_at: str = field(default_factory=lambda: utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    #: who caused it (see `events.actors`); None in an envelope written before envelopes named it
    actor: Actor | None = None
    #: the W3C trace context of the request (or the handled event) that wrote it
    traceparent: str | None = None

    def to_json(self) -> str:
        envelope = asdict(self)
        envelope["actor"] = self.actor.to_dict() if self.actor is not None else None
        return json.dumps(envelope, separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Event:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("an event envelope is a JSON object")
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        missing = {"id", "type", "producer", "payload"} - known.keys()
        if missing:
            raise ValueError(f"event envelope lacks {sorted(missing)}")
        if not isinstance(known.get("version", 1), int) or isinstance(known.get("version"), bool):
            raise ValueError("an event's version is an integer")
        known["actor"] = Actor.from_dict(known.get("actor"))
        if not isinstance(known.get("traceparent"), str | None):
            raise ValueError("an event's traceparent is a string")
        return cls(**known)


class DuplicateHandler(ValueError):
    """Two handlers for one (type, version) in one service: found when the service is imported."""


__all__ = [
    "Actor",
    "ContractViolation",
    "DuplicateHandler",
    "Event",
    "EventSpec",
    "Handler",
    "UnknownEventType",
    "follow_state",
    "handler_settings",
]


def handler_settings(session: Session) -> Settings:
    """The settings of the consumer that runs the handler holding `session`, loaded once by its process."""
    settings: Settings = session.info["settings"]
    return settings


class EventSpec:
    """One service's events: it publishes what `mpdp_common.contracts.<service>` declares, and
    handles, by (type, version), what its handlers are registered for."""

    def __init__(self, service: str, metadata: MetaData):
        self.service = service
        self.outbox, self.inbox = define_event_tables(metadata)
        self.handlers: dict[tuple[str, int], Handler] = {}

    def handles(self, event_type: str, version: int = 1) -> Callable[[Handler], Handler]:
        """Register the handler of a declared (type, version); a second one for the same key is an error."""
        contracts.contract(event_type, version)

        def register(handler: Handler) -> Handler:
            if (event_type, version) in self.handlers:
                known = self.handlers[(event_type, version)]
                raise DuplicateHandler(
                    f"{self.service} handles {event_type} v{version} twice: {known.__qualname__} and {handler.__qualname__}"
                )
            self.handlers[(event_type, version)] = handler
            return handler

        return register

    def also_handles(self, event_types: Iterable[str], handler: Handler, version: int = 1) -> None:
        """Run `handler` for each of `event_types` too: after the handler registered for it, in the
        same transaction, or alone where there is none. For a concern that many events feed beside
        what each one does (the audit log); registered after the service's own handlers, so that a
        later `handles` of one of these types stops the service as a second handler does."""
        for event_type in event_types:
            contracts.contract(event_type, version)
            key = (event_type, version)
            first = self.handlers.get(key)
            if first is None:
                self.handlers[key] = handler
                continue

            def both(session: Session, event: Event, first: Handler = first) -> None:
                first(session, event)
                handler(session, event)

            both.__module__ = first.__module__
            both.__qualname__ = f"{first.__qualname__}, then {handler.__module__}.{handler.__qualname__}"
            self.handlers[key] = both

    def handler_for(self, event: Event) -> Handler | None:
        return self.handlers.get((event.type, event.version))

    def read(self, event: Event) -> Event:
        """The event with its payload as declared (ContractViolation when it is not)."""
        return replace(event, payload=contracts.read(event.type, event.version, event.payload))

    @property
    def consumed_producers(self) -> dict[str, list[str]]:
        """Handled event types grouped by the service that produces them."""
        grouped: dict[str, list[str]] = {}
        for event_type in sorted({event_type for event_type, _ in self.handlers}):
            grouped.setdefault(event_type.split(".", 1)[0], []).append(event_type)
        return grouped

    def publish(
        self,
        session: Session,
        event_type: str,
        payload: dict[str, Any],
        *,
        version: int = 1,
        workspace_id: str | None = None,
        aggregate_id: str | None = None,
        actor: Actor | None = None,
    ) -> Event:
        """Write the event to the outbox inside the caller's transaction; the relay sends it after commit.
        The payload must match the declared contract of (type, version). Its actor and trace are
        the context's (`events.actors`: the request's caller, the handled event's, a worker's),
        unless `actor` names another."""
        if not event_type.startswith(f"{self.service}."):
            raise UnknownEventType(f"{self.service} may only publish {self.service}.* events, not {event_type}")
        contracts.checked(event_type, version, payload)
        envelope = Event(
            type=event_type,
            version=version,
            payload=payload,
            producer=self.service,
            workspace_id=workspace_id,
            aggregate_id=aggregate_id,
            correlation_id=request_id.get(),
            actor=actor or current_actor.get(),
            traceparent=current_traceparent.get() or new_traceparent(),
        )
        session.execute(insert(self.outbox).values(event_id=envelope.id, type=event_type, envelope=envelope.to_json(), created_at=utcnow()))
        if on_postgresql(session):
            # Delivered to the relay's LISTEN only when this transaction commits.
            session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": outbox_channel(self.service)})
        session.info.setdefault("outbox_services", set()).add(self.service)
        return envelope


def follow_state(
    events: EventSpec,
    event_types: tuple[str, ...],
    model: type,
    key: tuple[str, ...],
    fields: tuple[str, ...],
    *,
    equal_revision_applies: bool = False,
    state_of: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> None:
    """Keep `model`, a read model of another service's rows, at the newest state its events carry.

    Each event holds a row's whole state and its revision, so they apply in any order: the row
    keyed by `key` is made from the first event that names it, and later takes `fields` only from
    a newer revision (or an equal one, with `equal_revision_applies`). `state_of` gives the row's
    state where the payload is not in the row's shape (it keeps the key and the revision)."""

    def apply(session: Session, event: Event) -> None:
        state = state_of(event.payload) if state_of else event.payload
        row = session.get(model, tuple(state[name] for name in key), with_for_update=True)
        if row is None:
            session.add(model(**{name: state[name] for name in (*key, *fields, "revision")}))
        elif state["revision"] > row.revision or (equal_revision_applies and state["revision"] == row.revision):
            for name in (*fields, "revision"):
                setattr(row, name, state[name])

    # Named after what it keeps, for `mpdpctl events` and the consumer's logs.
    apply.__qualname__ = f"follow_state({model.__module__}.{model.__qualname__})"
    for event_type in event_types:
        events.handles(event_type)(apply)


def outbox_channel(service: str) -> str:
    return f"mpdp_outbox_{service}"


#: Relays running in this process, woken directly after a commit (the embedded mode and SQLite).
_local_wakeups: dict[str, threading.Event] = {}


def local_wakeup(service: str) -> threading.Event:
    return _local_wakeups.setdefault(service, threading.Event())


@event.listens_for(Session, "after_commit")
def _wake_local_relays(session: Session) -> None:
    for service in session.info.pop("outbox_services", ()):
        local_wakeup(service).set()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back_events(session: Session) -> None:
    session.info.pop("outbox_services", None)
