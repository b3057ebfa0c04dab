"""`Idempotency-Key` for creates that clients may retry: the same key and body within 24 hours
answers the first response again and creates nothing new.

The key is scoped to the caller, the method and the path. In a workspace, the caller's membership
is checked before anything is answered from the store, and the scope holds the caller's role: a
member who was removed or blocked since is refused as the view would refuse them, and one whose
role changed is answered by the view again (which refuses what the new role may not do). A key
sent without a token is scoped to the client's address, so that two clients cannot collide.

A view whose access is finer than membership and role (a mini program's assigned developers, a
workspace that must be active) names its own check as `authorize`: it runs with the route's
arguments before the store is read, so a replay goes only to a caller the view would still let
make the request, and one it would refuse gets the view's refusal (403/404) and learns nothing of
the key.

The kept answer may hold a secret that is shown once (an API key's token), so it is stored
encrypted with the platform secret, and the body is known by its HMAC only (a sign-up's holds a
password). A placeholder row is committed before the create runs, so that two concurrent requests
with one key cannot both create; the second is told to retry (409) until the first has finished.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar, overload

from flask import Response, current_app, g, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from .auth import require_member
from .crypto import digest, secret_box
from .db import UtcDateTime, session_scope, utcnow
from .errors import Problem, validation_failed
from .openapi import documents
from .web import current_settings

KEPT_FOR = timedelta(hours=24)
HEADER = "Idempotency-Key"
PARAMETER = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Retrying with the same key and body within 24 hours answers the first response again and creates "
    "nothing new; the same key with another body is a 422, and while the first request runs a 409.",
}

P = ParamSpec("P")
#: what a view under @idempotent answers (flask-smorest's response decorator has made it a Response)
R = TypeVar("R", bound=ResponseReturnValue)


def define_idempotency_table(metadata: MetaData) -> Table:
    if "idempotency_keys" in metadata.tables:
        return metadata.tables["idempotency_keys"]
    return Table(
        "idempotency_keys",
        metadata,
        Column("scope", String(64), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status_code", Integer),
        Column("content_type", String(100)),
        Column("body", Text),
        Column("created_at", UtcDateTime, nullable=False),
    )


def _digest(*parts: str | bytes) -> str:
    return digest(b"".join((part if isinstance(part, bytes) else part.encode()) + b"\x00" for part in parts))


def client_address() -> str:
    """The address the gateway saw (the last X-Forwarded-For entry is the one it added)."""
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    return forwarded[-1] if forwarded else request.remote_addr or ""


def _caller_scope(view_kwargs: dict[str, Any]) -> str:
    caller = g.get("caller")
    if caller is None:
        return f"anonymous:{client_address()}"
    workspace_id = view_kwargs.get("ws")
    if workspace_id is None:
        return caller.credential
    member = require_member(workspace_id)  # a non-member's 404, a blocked member's 403
    return f"{caller.credential}:{workspace_id}:{member.role}"


@overload
def idempotent(view: Callable[P, R], *, authorize: Callable[..., Any] | None = None) -> Callable[P, R | Response]: ...
@overload
def idempotent(
    view: None = None, *, authorize: Callable[..., Any] | None = None
) -> Callable[[Callable[P, R]], Callable[P, R | Response]]: ...
def idempotent(
    view: Callable[P, R] | None = None, *, authorize: Callable[..., Any] | None = None
) -> Callable[P, R | Response] | Callable[[Callable[P, R]], Callable[P, R | Response]]:
    """Put directly under the route decorator of a POST that creates something: `@idempotent`, or
    `@idempotent(authorize=check)` where `check(**route_arguments)` raises what the view raises
    for a caller it refuses."""
    if view is None:
        return functools.partial(idempotent, authorize=authorize)

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not 1 <= len(key) <= 255:
            raise validation_failed({HEADER: ["Use between 1 and 255 characters."]})
        runtime = current_app.extensions["mpdp"]
        table = define_idempotency_table(runtime.service.metadata)
        sessions: sessionmaker = runtime.session_factory
        scope = _digest(_caller_scope(kwargs), request.method, request.path, key)
        if authorize is not None:
            authorize(**kwargs)
        fingerprint = hmac.new(current_settings().secret_key.encode(), request.get_data(), hashlib.sha256).hexdigest()

        with session_scope(sessions) as session:
            row = session.execute(select(table).where(table.c.scope == scope)).first()
            if row is not None and row.created_at < utcnow() - KEPT_FOR:
                session.execute(delete(table).where(table.c.scope == scope))
                row = None
        if row is not None:
            if row.fingerprint != fingerprint:
                raise validation_failed({HEADER: ["This key was used with another body; use a new key."]})
            if row.status_code is None:
                raise Problem(409, "A request with this Idempotency-Key is still running; retry shortly.", headers={"Retry-After": "1"})
            replay = Response(secret_box(current_settings()).decrypt(row.body), status=row.status_code, content_type=row.content_type)
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        try:
            with session_scope(sessions) as session:
                session.execute(insert(table).values(scope=scope, fingerprint=fingerprint, created_at=utcnow()))
        except IntegrityError:
            raise Problem(409, "A request with this Idempotency-Key is still running; retry shortly.", headers={"Retry-After": "1"})

        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            with session_scope(sessions) as session:
                session.execute(delete(table).where(table.c.scope == scope))
            raise
        with session_scope(sessions) as session:
            if 200 <= response.status_code < 300:
                session.execute(
                    update(table)
                    .where(table.c.scope == scope)
                    .values(
                        status_code=response.status_code,
                        content_type=response.content_type,
                        body=secret_box(current_settings()).encrypt(response.get_data(as_text=True)),
                    )
                )
            else:
                session.execute(delete(table).where(table.c.scope == scope))
        return response

    return documents(wrapper, parameters=[PARAMETER], problems=[409, 422])
