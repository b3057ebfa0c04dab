"""What the catalog publishes: its EventSpec (the outbox in the caller's transaction), the
assignment and mini program events, and `announce`. A launch's events are written by its
lifecycle (lifecycle.py); what the catalog does with other services' events is handlers.py."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import TypeVar

from sqlalchemy import Engine, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from mpdp_common.db import session_scope, utcnow
from mpdp_common.events import Event, EventSpec

from .models import Assignment, Base, MiniProgram

#: publishes what mpdp_common.contracts.catalog declares
events = EventSpec("catalog", Base.metadata)


def assign(session: Session, workspace_id: str, miniprogram_ids: list[str], account_id: str) -> None:
    """Add `account_id` to the mini programs of `workspace_id` among `miniprogram_ids` (others are ignored)."""
    known = session.scalars(
        select(MiniProgram.id)
        .where(MiniProgram.workspace_id == workspace_id, MiniProgram.id.in_(miniprogram_ids))
        .order_by(MiniProgram.id)
        .with_for_update()
    ).all()
    for miniprogram_id in known:
        set_assignment(session, workspace_id, miniprogram_id, account_id, assigned=True)


def set_assignment(session: Session, workspace_id: str, miniprogram_id: str, account_id: str, *, assigned: bool) -> None:
    """Assign a member to a mini program or unassign them, and publish the new state if it changed.
    The caller holds the mini program's row lock, so that revisions count its changes one at a time.
    Other services that show a mini program's data to its assigned members (telemetry) follow these."""
    assignment = session.get(Assignment, (miniprogram_id, account_id)) or Assignment(
        miniprogram_id=miniprogram_id, account_id=account_id, workspace_id=workspace_id, assigned=False, revision=0
    )
    if assignment.assigned == assigned:
        return
    session.add(assignment)
    assignment.assigned, assignment.revision = assigned, assignment.revision + 1
    if assigned:
        assignment.assigned_at = utcnow()
    publish_assignment(session, assignment)


def publish_assignment(session: Session, assignment: Assignment) -> Event:
    """Publish an assignment's whole state, as `catalog.assignment.added` or `.removed`."""
    return events.publish(
        session,
        "catalog.assignment.added" if assignment.assigned else "catalog.assignment.removed",
        {
            "miniprogram_id": assignment.miniprogram_id,
            "account_id": assignment.account_id,
            "workspace_id": assignment.workspace_id,
            "assigned": assignment.assigned,
            "revision": assignment.revision,
        },
        workspace_id=assignment.workspace_id,
        aggregate_id=assignment.miniprogram_id,
    )


def publish_miniprogram_created(session: Session, miniprogram: MiniProgram) -> Event:
    """What the services that show a mini program learn of it: its telemetry id makes its crash-report DSN."""
    return events.publish(
        session,
        "catalog.miniprogram.created",
        {
            "miniprogram_id": miniprogram.id,
            "telemetry_id": miniprogram.telemetry_id,
            "workspace_id": miniprogram.workspace_id,
            "name": miniprogram.name,
            "created_by": miniprogram.created_by,
        },
        workspace_id=miniprogram.workspace_id,
        aggregate_id=miniprogram.id,
    )


#: rows re-published in one transaction by `announce`
ANNOUNCE_BATCH = 500
#: a model whose rows `announce` publishes again
Announced = TypeVar("Announced", bound=Base)


def announce(engine: Engine) -> Iterator[tuple[str, int]]:
    """Publish again every mini program's `created` and every assignment's state, for services
    that came after them; consumers take them as the idempotent full-state events they are.
    Yields how many events of each type each committed batch wrote."""
    sessions = sessionmaker(engine)
    yield from _announce_rows(sessions, MiniProgram, (MiniProgram.id,), publish_miniprogram_created)
    yield from _announce_rows(sessions, Assignment, (Assignment.miniprogram_id, Assignment.account_id), publish_assignment)


def _announce_rows(
    sessions: sessionmaker[Session],
    model: type[Announced],
    key: tuple[InstrumentedAttribute[str], ...],
    publish: Callable[[Session, Announced], Event],
) -> Iterator[tuple[str, int]]:
    """Every row of `model` through `publish`, in batches in the order of `key`."""
    after: tuple[str, ...] | None = None
    while True:
        with session_scope(sessions) as session:
            batch = select(model).order_by(*key).limit(ANNOUNCE_BATCH)
            if after is not None:
                batch = batch.where(tuple_(*key) > after)
            rows = session.scalars(batch).all()
            if not rows:
                break
            written = Counter(publish(session, row).type for row in rows)
            after = tuple(getattr(rows[-1], column.key) for column in key)
        yield from written.items()
