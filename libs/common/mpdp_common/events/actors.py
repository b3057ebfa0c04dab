"""Who caused an event, and the trace of the request that wrote it: the envelope's `actor` and
`traceparent`, taken from the context that publishes it.

- In a request, the web layer sets both: the caller (an account, or an API key acting for the
  account that created it) and the request's W3C trace context (its `traceparent` header when it
  is valid, else a new one).
- In a consumer's handler, the handled event's: what a handler publishes is the doing of whoever
  caused the event it handles, in the same trace (as its correlation id is carried).
- In a worker (a rollout step, the release guard, the mailer), the system: `<service>.<worker>`.

    with acting(Actor.system("catalog.rollouts")):
        events.publish(session, ...)        # actor {"kind": "system", "id": "catalog.rollouts"}
"""

from __future__ import annotations

import contextvars
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from ..contracts import Actor

#: who causes what is published in this context (None where nobody is known: a public endpoint)
current_actor: contextvars.ContextVar[Actor | None] = contextvars.ContextVar("current_actor", default=None)

#: the W3C trace context that what is published in this context belongs to
current_traceparent: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_traceparent", default=None)

_TRACEPARENT = re.compile(
    r"^(?P<version>[0-9a-f]{2})-(?P<trace>[0-9a-f]{32})-(?P<parent>[0-9a-f]{16})-(?P<flags>[0-9a-f]{2})(?P<rest>-.*)?$"
)


def valid_traceparent(value: str | None) -> bool:
    """Whether `value` is a W3C `traceparent` (version 00, or a later one read as 00 reads it)."""
    if not value or len(value) > 512:
        return False
    match = _TRACEPARENT.match(value)
    if match is None or match["version"] == "ff":
        return False
    if match["version"] == "00" and match["rest"]:
        return False
    return match["trace"] != "0" * 32 and match["parent"] != "0" * 16


def new_traceparent() -> str:
    """A new trace, sampled: `00-<trace id>-<parent id>-01`."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def incoming_traceparent(header: str | None) -> str:
    """The trace a request belongs to: its own header when valid, else a new one."""
    value = (header or "").strip()
    return value if valid_traceparent(value) else new_traceparent()


@contextmanager
def acting(actor: Actor | None, traceparent: str | None = None) -> Iterator[None]:
    """Publish as `actor`, in the trace `traceparent` (each event a trace of its own when None)."""
    actor_token = current_actor.set(actor)
    trace_token = current_traceparent.set(traceparent)
    try:
        yield
    finally:
        current_traceparent.reset(trace_token)
        current_actor.reset(actor_token)
