"""Launches: releasing a version of a mini program to a host app, through an approval.

Admins and the mini program's assigned developers create, submit, publish and cancel launches
and request offline and online; reviewers see them. These views authorize and read arguments;
every rule of a launch's life is lifecycle.py.
"""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import select

from mpdp_common.auth import Membership, require_member
from mpdp_common.errors import not_found, validation_failed
from mpdp_common.idempotency import idempotent
from mpdp_common.openapi import problems
from mpdp_common.pagination import page_schema, paginate
from mpdp_common.request_db import commit_or_conflict, db_session
from mpdp_common.web import current_settings

from . import delivery, lifecycle, schemas
from .access import access, miniprogram_for
from .models import App, Deliverable, Launch, LaunchStep, MiniProgram, Rollout, Version

launches = Blueprint("launches", __name__, url_prefix="/api/v1", description="Launches: releasing versions to host apps")

PATH = "/workspaces/<ws>/miniprograms/<mp>"
RELEASERS = ("admin", "developer")
ONE_IN_PROGRESS = (
    "Another launch of this mini program on this app is on its way (under review to grayscale, or halted); finish or cancel it first."
)


def _views(items: list[Launch]) -> list[dict]:
    session = db_session()
    ids = [launch.id for launch in items]
    history: dict[str, list] = {ident: [] for ident in ids}
    for step in session.scalars(select(LaunchStep).where(LaunchStep.launch_id.in_(ids)).order_by(LaunchStep.seq)):
        history[step.launch_id].append(step)
    version_ids = {launch.version_id for launch in items}
    versions: dict[str, str] = dict(session.execute(select(Version.id, Version.version).where(Version.id.in_(version_ids))).tuples().all())
    rollouts = {rollout.launch_id: rollout for rollout in session.scalars(select(Rollout).where(Rollout.launch_id.in_(ids)))}
    return [
        {
            column: getattr(launch, column)
            for column in ("id", "miniprogram_id", "version_id", "app_id", "status", "percentage", "min_host_version")
        }
        | {
            "version": versions.get(launch.version_id),
            "approval_id": launch.pending_request_id,
            "created_by": launch.created_by,
            "created_at": launch.created_at,
            "updated_at": launch.updated_at,
            "history": history[launch.id],
            "rollout": _rollout_view(rollouts.get(launch.id)),
        }
        for launch in items
    ]


def _rollout_view(rollout: Rollout | None) -> dict | None:
    if rollout is None:
        return None
    return {
        "steps": rollout.steps,
        "current_step": rollout.current_step,
        "next_step_at": rollout.next_step_at,
        "paused": rollout.state == "paused",
        "guard": rollout.guard,
        "state": rollout.state,
        "started_at": rollout.started_at,
    }


def _releaser(ws: str, mp: str) -> tuple[Membership, MiniProgram]:
    """The caller's membership and the mini program, if the caller is an admin or one of its assigned developers."""
    return miniprogram_for(ws, mp, *RELEASERS)


def _launch(ws: str, mp: str, launch_id: str, *roles: str) -> tuple[Membership, MiniProgram, Launch]:
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
def create_launch(body: dict[str, Any], ws: str, mp: str) -> dict:
    """Create a launch of a version on a host app

    By an admin or an assigned developer; it starts as created."""
    member, _miniprogram = _releaser(ws, mp)
    session = db_session()
    version = session.get(Version, body["version_id"])
    if version is None or version.miniprogram_id != mp:
        raise validation_failed({"version_id": ["Not a version of this mini program."]})
    app = _app(ws, body["app_id"])
    launch = Launch(
        workspace_id=ws,
        miniprogram_id=mp,
        version_id=version.id,
        app_id=app.id,
        status="created",
        min_host_version=body["min_host_version"],
        created_by=member.account_id,
    )
    session.add(launch)
    session.commit()
    return _views([launch])[0]


@launches.route(f"{PATH}/launches", methods=["GET"])
@launches.arguments(schemas.LaunchQuery, location="query")
@launches.response(200, page_schema(schemas.LaunchSchema))
def list_launches(query: dict[str, Any], ws: str, mp: str) -> dict[str, Any]:
    """List a mini program's launches, oldest first"""
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
def get_launch(ws: str, mp: str, launch_id: str) -> dict:
    """One launch, with its history"""
    return _views([_launch(ws, mp, launch_id)[2]])[0]


@launches.route(f"{PATH}/launches/<launch_id>/submit", methods=["POST"])
@launches.response(200, schemas.LaunchSchema)
@problems(409)
def submit(ws: str, mp: str, launch_id: str) -> dict:
    """Submit a launch for review

    From created to under_review, and an approval of type launch opens; 409 from another status,
    or while another launch of the mini program on that app is on its way, or (`type`
    `urn:mpdp:problem:jsapis-not-granted`, with `jsapis`) while its version calls restricted
    JSAPIs that no active feature of the mini program grants, checked as the grants are now."""
    member, miniprogram, launch = _launch(ws, mp, launch_id, *RELEASERS)
    session = db_session()
    lifecycle.submit(session, launch, miniprogram, member.account_id)
    commit_or_conflict(session, ONE_IN_PROGRESS)
    return _views([launch])[0]


@launches.route(f"{PATH}/launches/<launch_id>/withdraw", methods=["POST"])
@launches.response(200, schemas.LaunchSchema)
@problems(409)
def withdraw(ws: str, mp: str, launch_id: str) -> dict:
    """Withdraw a launch from review

    From under_review back to created; its approval becomes withdrawn. 409 from another status."""
    member, _miniprogram, launch = _launch(ws, mp, launch_id, *RELEASERS)
    session = db_session()
    lifecycle.withdraw(session, launch, member.account_id)
    session.commit()
    return _views([launch])[0]


@launches.route(f"{PATH}/launches/<launch_id>/publish", methods=["POST"])
@launches.arguments(schemas.PublishSchema)
@launches.response(200, schemas.LaunchSchema)
@problems(409)
def publish(body: dict[str, Any], ws: str, mp: str, launch_id: str) -> dict:
    """Publish an approved launch to a share of users

    From pilot, ready or grayscale: grayscale under 100 %, released at 100 % (archiving the
    release before it). 409 from another status."""
    member, _miniprogram, launch = _launch(ws, mp, launch_id, *RELEASERS)
    session = db_session()
    lifecycle.release(session, launch, body["percentage"], member.account_id)
    commit_or_conflict(session, "Another launch of this mini program on this app was released at the same time; try again.")
    return _views([launch])[0]


@launches.route(f"{PATH}/launches/<launch_id>/cancel", methods=["POST"])
@launches.response(200, schemas.LaunchSchema)
@problems(409)
def cancel(ws: str, mp: str, launch_id: str) -> dict:
    """Cancel a launch

    From created, pilot, ready or grayscale to canceled; 409 from another status."""
    member, _miniprogram, launch = _launch(ws, mp, launch_id, *RELEASERS)
    session = db_session()
    lifecycle.cancel(session, launch, member.account_id)
    session.commit()
    return _views([launch])[0]


# -- rollout plans -------------------------------------------------------------------------------


@launches.route(f"{PATH}/launches/<launch_id>/rollout", methods=["PUT"])
@launches.arguments(schemas.RolloutPlanSchema)
@launches.response(200, schemas.LaunchSchema)
@problems(409)
def plan_rollout(body: dict[str, Any], ws: str, mp: str, launch_id: str) -> dict:
    """Give a launch a rollout plan, and publish its first step

    From pilot, ready, grayscale or halted (else 409): the plan replaces any before it and its
    first step is published at once; each next step follows when the hold of the one before
    ends, the step at 100 % releasing the launch."""
    member, _miniprogram, launch = _launch(ws, mp, launch_id, *RELEASERS)
    steps = body["steps"] or lifecycle.PRESETS[body["preset"]]
    shortest = current_settings().rollout_min_hold_seconds
    if any(step["hold_seconds"] < shortest for step in steps[:-1]):
        raise validation_failed({"steps": [f"Each step before the last is held at least {shortest} seconds."]})
    session = db_session()
    lifecycle.plan_rollout(session, launch, steps, body["guard"], member.account_id)
    commit_or_conflict(session, "Another launch of this mini program on this app was released at the same time; try again.")
    return _views([launch])[0]


@launches.route(f"{PATH}/launches/<launch_id>/rollout", methods=["GET"])
@launches.response(200, schemas.RolloutSchema)
def get_rollout(ws: str, mp: str, launch_id: str) -> dict | None:
    """A launch's rollout plan

    404 without one."""
    rollout = _views([_launch(ws, mp, launch_id)[2]])[0]["rollout"]
    if rollout is None:
        raise not_found("rollout")
    return rollout


@launches.route(f"{PATH}/launches/<launch_id>/rollout", methods=["DELETE"])
@launches.response(200, schemas.LaunchSchema)
@problems(409)
def drop_rollout(ws: str, mp: str, launch_id: str) -> dict:
    """Remove a launch's rollout plan

    The plan and its guard are removed; the launch stays at its status and share."""
    member, _miniprogram, launch = _launch(ws, mp, launch_id, *RELEASERS)
    session = db_session()
    lifecycle.drop_rollout(session, launch, member.account_id)
    session.commit()
    return _views([launch])[0]


@launches.route(f"{PATH}/launches/<launch_id>/pause", methods=["POST"])
@launches.response(200, schemas.LaunchSchema)
@problems(409)
def pause_rollout(ws: str, mp: str, launch_id: str) -> dict:
    """Pause a rollout

    The running plan keeps its share and takes no step until resumed; 409 unless it runs."""
    member, _miniprogram, launch = _launch(ws, mp, launch_id, *RELEASERS)
    session = db_session()
    lifecycle.pause_rollout(session, launch, member.account_id)
    session.commit()
    return _views([launch])[0]


@launches.route(f"{PATH}/launches/<launch_id>/resume", methods=["POST"])
@launches.response(200, schemas.LaunchSchema)
@problems(409)
def resume_rollout(ws: str, mp: str, launch_id: str) -> dict:
    """Resume a paused rollout

    Its next step comes when the rest of the hold has passed; 409 unless it is paused."""
    member, _miniprogram, launch = _launch(ws, mp, launch_id, *RELEASERS)
    session = db_session()
    lifecycle.resume_rollout(session, launch, member.account_id)
    session.commit()
    return _views([launch])[0]


# -- offline, online, rollback of what an app delivers ----------------------------------------------


def _request_availability(ws: str, mp: str, body: dict[str, Any], kind: str) -> dict:
    member, miniprogram = miniprogram_for(ws, mp, *RELEASERS, lock=True)
    session = db_session()
    app = _app(ws, body["app_id"])
    launch = lifecycle.request_availability(session, miniprogram, app, kind, body["reason"], member.account_id)
    session.commit()
    return {"approval_id": launch.pending_request_id, "type": kind, "launch_id": launch.id, "app_id": app.id, "status": "pending_approval"}


@launches.route(f"{PATH}/offline", methods=["POST"])
@launches.arguments(schemas.AvailabilityRequestSchema)
@launches.response(202, schemas.AvailabilityRequestedSchema)
@problems(409)
def request_offline(body: dict[str, Any], ws: str, mp: str) -> dict:
    """Ask to take a mini program offline on a host app

    An approval of type offline opens; approved, the released launch becomes offline. 409 without a
    released launch on that app, or while a request waits."""
    return _request_availability(ws, mp, body, "offline")


@launches.route(f"{PATH}/online", methods=["POST"])
@launches.arguments(schemas.AvailabilityRequestSchema)
@launches.response(202, schemas.AvailabilityRequestedSchema)
@problems(409)
def request_online(body: dict[str, Any], ws: str, mp: str) -> dict:
    """Ask to bring a mini program back online on a host app

    An approval of type online opens; approved, the launch that went offline is released again.
    409 without an offline launch on that app, or while a request waits."""
    return _request_availability(ws, mp, body, "online")


@launches.route(f"{PATH}/rollback", methods=["POST"])
@launches.arguments(schemas.RollbackSchema)
@launches.response(200, schemas.LaunchSchema)
@problems(409)
def rollback(body: dict[str, Any], ws: str, mp: str) -> dict:
    """Roll back to a version released before on a host app

    The launch that released it is released again; the current one becomes rollback. 409 while a
    grayscale runs, for the current release, or for a version never released there."""
    member, _miniprogram = miniprogram_for(ws, mp, *RELEASERS, lock=True)
    session = db_session()
    app = _app(ws, body["app_id"])
    target = lifecycle.roll_back(session, mp, app.id, body["version_id"], member.account_id)
    commit_or_conflict(session, "The release of this mini program on this app changed at the same time; try again.")
    return _views([target])[0]


@launches.route("/workspaces/<ws>/apps/<app_id>/delivery", methods=["GET"])
@launches.arguments(schemas.DeliveryCheckQuery, location="query")
@launches.response(200, schemas.DeliverablesSchema)
@problems(404)
def check_delivery(query: dict[str, Any], ws: str, app_id: str) -> dict[str, Any]:
    """What a host app would deliver to one of its users now: a test of its launches without its key

    The same choice as `GET /client/v1/miniprograms` for that user (pilot, grayscale share,
    release, the host's version), over the mini programs the caller sees."""
    member = require_member(ws)
    session = db_session()
    app = session.get(App, app_id)
    if app is None or app.workspace_id != ws:
        raise not_found("app")
    stmt = access.visible(select(Deliverable).where(Deliverable.app_id == app_id), member, Deliverable.miniprogram_id)
    rows = list(session.scalars(stmt))
    return {"items": delivery.choose(rows, query["user_id"], query["host_version"])}
