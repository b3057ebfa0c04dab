"""Event contracts: the payload of every event type, per version, declared once.

What a service publishes is declared in `mpdp_common/contracts/<service>.py`, one marshmallow
schema per (type, version). The declarations live in libs/common because the consuming services
validate against the same declaration, and a service never imports another. A new service adds
its module, say `contracts/approval.py`:

    from marshmallow import fields

    from . import Payload, declare

    @declare("approval.approval.opened")              # version 1
    class ApprovalOpened(Payload):
        approval_id = fields.String()                 # every field is required...
        comment = fields.String(allow_none=True)      # ...and may be null only where it says so
        title = fields.String(load_default="")        # (a field with a default may be left out)

and its `events.py` publishes and handles by type and version:

    events = EventSpec("approval", Base.metadata)     # publishes what contracts/approval.py declares
    events.publish(session, "approval.approval.opened", {...})   # checked: ContractViolation if not

    @events.handles("catalog.launch.submitted")       # version 1; a second handler for it fails at import
    def on_launch_submitted(session, event):
        event.payload["launch_id"]                    # validated: the declared fields, by name

A breaking change to a payload is a new version: declare `@declare(type, version=2)` beside the
old one, publish both (`events.publish(..., version=2)`) until no consumer handles the old.
Consumers ignore fields they do not know, so adding a field is not a breaking change.

Beside the payload, every envelope says who caused the event: its `actor` (`Actor` below), an
account, an API key with the account that created it, or the system. Envelopes written before
it was added have none (`None`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields
from marshmallow.fields import Field
from marshmallow.utils import missing

#: who may cause an event: an account, a workspace API key, or the platform itself
ACTOR_KINDS = ("account", "api_key", "system")


@dataclass(frozen=True)
class Actor:
    """An account; an API key (`id` the key's, `on_behalf_of` the account that created it); or
    the system (`id` naming the part of it, like `catalog.rollouts`)."""

    kind: str
    id: str
    on_behalf_of: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ACTOR_KINDS:
            raise ValueError(f"an actor's kind is one of {', '.join(ACTOR_KINDS)}, not {self.kind!r}")
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("an actor has an id")
        if self.on_behalf_of is not None and not isinstance(self.on_behalf_of, str):
            raise ValueError("an actor's on_behalf_of is an account id")

    @classmethod
    def account(cls, account_id: str) -> Actor:
        return cls("account", account_id)

    @classmethod
    def api_key(cls, key_id: str, created_by: str | None) -> Actor:
        return cls("api_key", key_id, created_by)

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls("system", name)

    def to_dict(self) -> dict[str, str]:
        """As the envelope holds it: `on_behalf_of` only where there is one."""
        shape = {"kind": self.kind, "id": self.id}
        if self.on_behalf_of is not None:
            shape["on_behalf_of"] = self.on_behalf_of
        return shape

    @classmethod
    def from_dict(cls, data: Any) -> Actor | None:
        """The actor of an envelope; None for one written before envelopes named it. ValueError when malformed."""
        if data is None:
            return None
        if not isinstance(data, dict):
            raise ValueError("an event's actor is an object")
        return cls(kind=data.get("kind"), id=data.get("id"), on_behalf_of=data.get("on_behalf_of"))  # type: ignore[arg-type]  # checked in __post_init__


class UnknownEventType(ValueError):
    """An event type (and version) that no contract declares."""


class ContractViolation(ValueError):
    """A payload that does not have the declared shape."""

    def __init__(self, event_type: str, version: int, errors: Any):
        super().__init__(f"{event_type} v{version} payload does not match its contract: {errors}")
        self.errors = errors


class Payload(Schema):
    """The shape of one event payload. Every field is required unless it declares a default."""

    class Meta:
        unknown = EXCLUDE

    def on_bind_field(self, field_name: str, field_obj: Field) -> None:
        if field_obj.load_default is missing:
            field_obj.required = True
        if isinstance(field_obj, fields.Nested) and self.unknown == RAISE:
            field_obj.unknown = RAISE


#: (type, version) -> the schema as consumers read it, and as producers are held to it
_declared: dict[tuple[str, int], tuple[Payload, Payload]] = {}


def declare(*event_types: str, version: int = 1) -> Callable[[type[Payload]], type[Payload]]:
    """Declare `schema` as the payload of each of `event_types` at `version`."""

    def register(schema: type[Payload]) -> type[Payload]:
        for event_type in event_types:
            known = _declared.get((event_type, version))
            if known is not None and _name(type(known[0])) != _name(schema):
                raise ValueError(f"{event_type} v{version} is declared twice: {_name(type(known[0]))} and {_name(schema)}")
            _declared[(event_type, version)] = (schema(), schema(unknown=RAISE))
        return schema

    return register


def _name(schema: type) -> str:
    return f"{schema.__module__}.{schema.__qualname__}"


def contract(event_type: str, version: int = 1) -> Payload:
    """The declared payload of `event_type` at `version`; its producer's module loads on first use."""
    return _schemas(event_type, version)[0]


def _schemas(event_type: str, version: int) -> tuple[Payload, Payload]:
    key = (event_type, version)
    if key not in _declared:
        _load(event_type.split(".", 1)[0])
    if key not in _declared:
        raise UnknownEventType(f"no contract declares {event_type} v{version}")
    return _declared[key]


def checked(event_type: str, version: int, payload: dict[str, Any]) -> None:
    """What a producer publishes: exactly the declared fields, each valid."""
    try:
        _schemas(event_type, version)[1].load(payload)
    except ValidationError as error:
        raise ContractViolation(event_type, version, error.messages) from None


def read(event_type: str, version: int, payload: Any) -> dict[str, Any]:
    """What a consumer reads: the declared fields, loaded (timestamps as datetimes); others ignored."""
    try:
        return contract(event_type, version).load(payload)
    except ValidationError as error:
        raise ContractViolation(event_type, version, error.messages) from None


def declared() -> list[tuple[str, int]]:
    """Every (type, version) that the platform's services declare in this package."""
    producers = {module.name for module in pkgutil.iter_modules(__path__)}
    for producer in producers:
        _load(producer)
    return sorted(key for key in _declared if key[0].split(".", 1)[0] in producers)


def _load(producer: str) -> None:
    try:
        importlib.import_module(f"{__name__}.{producer}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{producer}":
            raise
