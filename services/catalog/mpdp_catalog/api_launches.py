"""Launches: releasing a version of a mini program to a host app, through an approval.

Admins and the mini program's assigned developers create, submit, publish and cancel launches
and request offline and online; reviewers see them. The states and their rules are lifecycle.py.
"""

from __future__ import annotations

from flask_smorest import Blueprint
from sqlalchemy import select

from mpdp_common.db import new_id
from mpdp_common.errors import conflict, not_found, validation_failed
from mpdp_common.idempotency import idempotent
from mpdp_common.pagination import page_schema, paginate
from mpdp_common.request_db import commit_or_conflict, db_session

from . import lifecycle, schemas
from .access import miniprogram_for
from .events import events
from .models import IN_PROGRESS, App, Launch, LaunchStep, Version

launches = Blueprint("launches", __name__, url_prefix="/api/v1", description="Launches: releasing versions to host apps")

PATH = "/workspaces/<ws>/miniprograms/<mp>"
RELEASERS = ("admin", "developer")
ONE_IN_PROGRESS = "Another launch of this mini program on this app is on its way (under review to grayscale); finish or cancel it first."


def _views(items: list[Launch]) -> list[dict]:
    session = db_session()
    ids = [launch.id for launch in items]
    history: dict[str, list] = {ident: [] for ident in ids}
    for step in session.scalars(select(LaunchStep).where(LaunchStep.launch_id.in_(ids)).order_by(LaunchStep.seq)):
        history[step.launch_id].append(step)
    version_ids = {launch.version_id for launch in items}
    versions = dict(session.execute(select(Version.id, Version.version).where(Version.id.in_(version_ids))).all())
    return [
        {column: getattr(launch, column) for column in ("id", "miniprogram_id", "version_id", "app_id", "status", "percentage")}
        | {
            "version": versions.get(launch.version_id),
            "approval_id": launch.pending_request_id,
            "created_by": launch.created_by,
            "created_at": launch.created_at,
            "updated_at": launch.updated_at,
            "history": history[launch.id],
        }
        for launch in items
    ]


def _releaser(ws: str, mp: str):
    """The caller's membership and the mini program, if the caller is an admin or one of its assigned developers."""
    return miniprogram_for(ws, mp, *RELEASERS)


def _launch(ws: str, mp: str, launch_id: str, *roles: str):
    member, miniprogram = miniprogram_for(ws, mp, *roles)
    launch = db_session().get(Launch, launch_id, with_for_update=bool(roles))
    if launch is None or launch.miniprogram_id != mp:
        raise not_found("launch")
    return member, miniprogram, launch


def _app(ws: str, app_id: str) -> App:
    app = db_session().get(App, app_id)
    if app is None or app.workspace_id != ws:
        raise validation_failed({"app_id": ["Not a host app of this workspace."]})
    return app


@launches.route(f"{PATH}/launches", methods=["POST"])
@idempotent(authorize=_releaser)
@launches.arguments(schemas.LaunchCreateSchema)
@launches.response(201, schemas.LaunchSchema)
def create_launch(body, ws, mp):
    member, _miniprogram = _releaser(ws, mp)
    session = db_session()
    version = session.get(Version, body["version_id"])
    if version is None or version.miniprogram_id != mp:
        raise validation_failed({"version_id": ["Not a version of this mini program."]})
    app = _app(ws, body["app_id"])
    launch = Launch(
        workspace_id=ws, miniprogram_id=mp, version_id=version.id, app_id=app.id, status="created", created_by=member.account_id
    )
    session.add(launch)
    session.commit()
    return _views([launch])[0]


@launches.route(f"{PATH}/launches", methods=["GET"])
@launches.arguments(schemas.LaunchQuery, location="query")
@launches.response(200, page_schema(schemas.LaunchSchema))
def list_launches(query, ws, mp):
    miniprogram_for(ws, mp)
    stmt = select(Launch).where(Launch.miniprogram_id == mp)
    if query.get("app_id"):
        stmt = stmt.where(Launch.app_id == query["app_id"])
    if query.get("status"):
        stmt = stmt.where(Launch.status == query["status"])
    page = paginate(db_session(), stmt, query, Launch.created_at, Launch.id)
    return page | {"items": _views(page["items"])}


@launches.route(f"{PATH}/launches/<launch_id>", methods=["GET"])
@launches.response(200, schemas.LaunchSchema)
def get_launch(ws, mp, launch_id):
    return _views([_launch(ws, mp, launch_id)[2]])[0]


@launches.route(f"{PATH}/launches/<launch_id>/submit", methods=["POST"])
@launches.response(200, schemas.LaunchSchema)
def submit(ws, mp, launch_id):
    """Under review, and an approval of type launch opens."""
    member, miniprogram, launch = _launch(ws, mp, launch_id, *RELEASERS)
    session = db_session()
    lifecycle.check(launch.status, "submit")
    busy = lifecycle.others_on_app(session, launch, *IN_PROGRESS)
    if busy:
        raise conflict(f"Launch {busy[0].id} of this mini program on this app is {busy[0].status}; finish or cancel it first.")
    version, app = session.get(Version, launch.version_id), session.get(App, launch.app_id)
    launch.pending_request_id, launch.pending_request_type = new_id(), "launch"
    lifecycle.move(session, launch, "submit", member.account_id)
    events.publish(
        session,
        "catalog.launch.submitted",
        {
            "request_id": launch.pending_request_id,
            "workspace_id": ws,
            "title": f"Launch {miniprogram.name} {version.version} on {app.name}",
            "subject": {"kind": "launch", "id": launch.id},
            "requested_by": member.account_id,
            "launch_id": launch.id,
            "miniprogram_id": mp,
            "version_id": version.id,
            "version": version.version,
            "app_id": app.id,
        },
        workspace_id=ws,
        aggregate_id=launch.id,
    )
    commit_or_conflict(session, ONE_IN_PROGRESS)
    return _views([launch])[0]


@launches.route(f"{PATH}/launches/<launch_id>/withdraw", methods=["POST"])
@launches.response(200, schemas.LaunchSchema)
def withdraw(ws, mp, launch_id):
    """Back to created; its approval becomes withdrawn."""
    member, _miniprogram, launch = _launch(ws, mp, launch_id, *RELEASERS)
    session = db_session()
    lifecycle.check(launch.status, "withdraw")
    events.publish(
        session,
        "catalog.launch.withdrawn",
        {"request_id": launch.pending_request_id, "launch_id": launch.id, "workspace_id": ws, "withdrawn_by": member.account_id},
        workspace_id=ws,
        aggregate_id=launch.id,
    )
    launch.pending_request_id = launch.pending_request_type = None
    lifecycle.move(session, launch, "withdraw", member.account_id)
    session.commit()
    return _views([launch])[0]


@launches.route(f"{PATH}/launches/<launch_id>/publish", methods=["POST"])
@launches.arguments(schemas.PublishSchema)
@launches.response(200, schemas.LaunchSchema)
def publish(body, ws, mp, launch_id):
    """Grayscale under 100 %, released at 100 % (archiving the release before it)."""
    member, _miniprogram, launch = _launch(ws, mp, launch_id, *RELEASERS)
    session = db_session()
    lifecycle.publish(session, launch, body["percentage"], member.account_id)
    commit_or_conflict(session, "Another launch of this mini program on this app was released at the same time; try again.")
    return _views([launch])[0]


@launches.route(f"{PATH}/launches/<launch_id>/cancel", methods=["POST"])
@launches.response(200, schemas.LaunchSchema)
def cancel(ws, mp, launch_id):
    member, _miniprogram, launch = _launch(ws, mp, launch_id, *RELEASERS)
    lifecycle.move(db_session(), launch, "cancel", member.account_id)
    db_session().commit()
    return _views([launch])[0]


# -- offline, online, rollback of what an app delivers ----------------------------------------------


def _latest_on_app(mp: str, app_id: str, *statuses: str) -> Launch | None:
    return db_session().scalar(
        select(Launch)
        .where(Launch.miniprogram_id == mp, Launch.app_id == app_id, Launch.status.in_(statuses))
        .order_by(Launch.updated_at.desc())
        .limit(1)
        .with_for_update()
    )


def _request_availability(ws: str, mp: str, body: dict, kind: str) -> dict:
    member, miniprogram = miniprogram_for(ws, mp, *RELEASERS, lock=True)
    session = db_session()
    app = _app(ws, body["app_id"])
    current = "released" if kind == "offline" else "offline"
    launch = _latest_on_app(mp, app.id, current)
    if launch is None:
        raise conflict(f"This mini program has no {current} launch on this app.")
    if launch.pending_request_id is not None:
        raise conflict(f"A request to take it {launch.pending_request_type} waits for approval already.")
    lifecycle.check(launch.status, f"request_{kind}")
    launch.pending_request_id, launch.pending_request_type = new_id(), kind
    title = f"Take {miniprogram.name} offline on {app.name}" if kind == "offline" else f"Bring {miniprogram.name} back online on {app.name}"
    events.publish(
        session,
        f"catalog.miniprogram.{kind}_requested",
        {
            "request_id": launch.pending_request_id,
            "workspace_id": ws,
            "title": title,
            "subject": {"kind": "launch", "id": launch.id},
            "requested_by": member.account_id,
            "launch_id": launch.id,
            "miniprogram_id": mp,
            "app_id": app.id,
            "reason": body["reason"].strip(),
        },
        workspace_id=ws,
        aggregate_id=mp,
    )
    session.commit()
    return {"approval_id": launch.pending_request_id, "type": kind, "launch_id": launch.id, "app_id": app.id, "status": "pending_approval"}


@launches.route(f"{PATH}/offline", methods=["POST"])
@launches.arguments(schemas.AvailabilityRequestSchema)
@launches.response(202, schemas.AvailabilityRequestedSchema)
def request_offline(body, ws, mp):
    """An approval of type offline opens; approved, the released launch becomes offline."""
    return _request_availability(ws, mp, body, "offline")


@launches.route(f"{PATH}/online", methods=["POST"])
@launches.arguments(schemas.AvailabilityRequestSchema)
@launches.response(202, schemas.AvailabilityRequestedSchema)
def request_online(body, ws, mp):
    """An approval of type online opens; approved, the launch that went offline is released again."""
    return _request_availability(ws, mp, body, "online")


@launches.route(f"{PATH}/rollback", methods=["POST"])
@launches.arguments(schemas.RollbackSchema)
@launches.response(200, schemas.LaunchSchema)
def rollback(body, ws, mp):
    """An earlier released version of this app is released again; the current one becomes rollback."""
    member, _miniprogram = miniprogram_for(ws, mp, *RELEASERS, lock=True)
    session = db_session()
    app = _app(ws, body["app_id"])
    running = _latest_on_app(mp, app.id, "grayscale")
    if running is not None:
        raise conflict(f"Launch {running.id} runs a grayscale on this app; publish it to 100 or cancel it first.")
    current = _latest_on_app(mp, app.id, "released", "offline")
    if current is not None and current.version_id == body["version_id"]:
        raise conflict("That version is the current release on this app.")
    if current is not None and current.pending_request_id is not None:
        raise conflict(f"A request to take the current release {current.pending_request_type} waits for approval; withdraw it first.")
    target = session.scalar(
        select(Launch)
        .where(
            Launch.miniprogram_id == mp,
            Launch.app_id == app.id,
            Launch.version_id == body["version_id"],
            Launch.status.in_(lifecycle.ALLOWED_FROM["restore"]),
        )
        .order_by(Launch.updated_at.desc())
        .limit(1)
        .with_for_update()
    )
    if target is None:
        raise conflict("That version was never released on this app, so there is nothing to roll back to.")
    if current is not None:
        lifecycle.move(session, current, "roll_back", member.account_id, refresh_delivery=False)
        session.flush()
    lifecycle.move(session, target, "restore", member.account_id)
    commit_or_conflict(session, "The release of this mini program on this app changed at the same time; try again.")
    return _views([target])[0]
