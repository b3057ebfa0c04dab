"""Identity's HTTP API for workspace members: invitations, the members list, roles, blocks and removals."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mpdp_common.auth import current_caller, email_unverified, public, require_member
from mpdp_common.crypto import digest, secret_box
from mpdp_common.db import lock_database_on_sqlite, utcnow
from mpdp_common.errors import Problem, conflict, not_found
from mpdp_common.idempotency import idempotent
from mpdp_common.openapi import problems
from mpdp_common.pagination import PageQuery, page_schema, paginate
from mpdp_common.request_db import db_session
from mpdp_common.web import current_settings

from . import schemas
from .events import events, publish_member
from .models import Account, Invitation, Member, WorkspaceName, normalize_email

INVITATION_LIFETIME = timedelta(days=3)

members = Blueprint("members", __name__, url_prefix="/api/v1", description="Workspace members and invitations")


# -- invitations ----------------------------------------------------------------------------------


def _invitation_view(invitation: Invitation) -> dict:
    return {column: getattr(invitation, column) for column in schemas.InvitationSchema().fields} | {"status": invitation.current_status()}


@members.route("/workspaces/<ws>/invitations", methods=["POST"])
@idempotent
@members.arguments(schemas.InvitationCreateSchema)
@members.response(201, schemas.InvitationCreatedSchema)
def invite(body: dict[str, Any], ws: str) -> dict:
    """Invite someone by email, with a role

    By an admin; the invitation's token is shown here once. 409 when the email belongs to a member
    or has a pending invitation."""
    inviter = require_member(ws, "admin")
    session = db_session()
    email = normalize_email(body["email"])
    already = session.scalar(
        select(Member)
        .join(Account, Account.id == Member.account_id)
        .where(Member.workspace_id == ws, Account.email == email, Member.status != "removed")
    )
    if already is not None:
        raise conflict("That email already belongs to a member of this workspace.")
    pending = session.scalar(
        select(Invitation.id).where(
            Invitation.workspace_id == ws,
            Invitation.email == email,
            Invitation.status == "pending",
            Invitation.expires_at > utcnow(),
        )
    )
    if pending is not None:
        raise conflict("That email has a pending invitation; withdraw it to invite again.")
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        workspace_id=ws,
        email=email,
        role=body["role"],
        miniprogram_ids=body["miniprogram_ids"],
        token_hash=digest(token),
        invited_by=inviter.account_id,
        expires_at=utcnow() + INVITATION_LIFETIME,
    )
    session.add(invitation)
    session.flush()
    events.publish(
        session,
        "identity.invitation.created",
        {
            "invitation_id": invitation.id,
            "email": email,
            "role": invitation.role,
            "expires_at": invitation.expires_at.isoformat(),
            # For the email that the consumer sends; only holders of the platform secret can read it.
            "token_encrypted": secret_box(current_settings()).encrypt(token),
        },
        workspace_id=ws,
        aggregate_id=invitation.id,
    )
    session.commit()
    return _invitation_view(invitation) | {"token": token}


@members.route("/workspaces/<ws>/invitations", methods=["GET"])
@members.arguments(PageQuery, location="query")
@members.response(200, page_schema(schemas.InvitationSchema))
def list_invitations(query: dict[str, Any], ws: str) -> dict[str, Any]:
    """List the workspace's invitations, oldest first"""
    require_member(ws, "admin")
    page = paginate(db_session(), select(Invitation).where(Invitation.workspace_id == ws), query, Invitation.created_at, Invitation.id)
    return page | {"items": [_invitation_view(item) for item in page["items"]]}


@members.route("/workspaces/<ws>/invitations/<invitation_id>", methods=["DELETE"])
@members.response(204)
@problems(409)
def withdraw_invitation(ws: str, invitation_id: str) -> None:
    """Withdraw a pending invitation

    By an admin; 409 for one that is no longer pending."""
    require_member(ws, "admin")
    session = db_session()
    invitation = session.get(Invitation, invitation_id, with_for_update=True)
    if invitation is None or invitation.workspace_id != ws:
        raise not_found("invitation")
    status = invitation.current_status()
    if status != "pending":
        raise conflict(f"Only a pending invitation can be withdrawn; this one is {status}.")
    invitation.status = "withdrawn"
    state = {"invitation_id": invitation.id, "role": invitation.role}
    events.publish(session, "identity.invitation.withdrawn", state, workspace_id=ws, aggregate_id=invitation.id)
    session.commit()


@members.route("/invitations/<token>", methods=["GET"])
@members.response(200, schemas.InvitationPreviewSchema)
@public
@problems(404)
def preview_invitation(token: str) -> dict[str, Any]:
    """What an invitation is to, for the page its link opens: the workspace, the role, who invited and which email

    Anyone with the link may read it, as anyone with it may accept it once signed in with that
    email; the mailed token is its only key."""
    session = db_session()
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == digest(token)))
    if invitation is None:
        raise not_found("invitation")
    workspace = session.get(WorkspaceName, invitation.workspace_id)
    inviter = session.get(Account, invitation.invited_by)
    return {
        "workspace_id": invitation.workspace_id,
        "workspace_name": workspace.name if workspace else None,
        "role": invitation.role,
        "email": invitation.email,
        "invited_by": inviter.name if inviter else None,
        "status": invitation.current_status(),
        "expires_at": invitation.expires_at,
    }


@members.route("/invitations/<token>/accept", methods=["POST"])
@members.response(200, schemas.AcceptedSchema)
@problems(403, 409)
def accept_invitation(token: str) -> dict[str, str]:
    """Accept an invitation: the signed-in account becomes a member

    403 when it was sent to another email address, or the account's email is not verified yet
    (`urn:mpdp:problem:email-unverified`); 409 when it is no longer pending, or the account is a
    member already."""
    session = db_session()
    invitation = session.scalar(select(Invitation).where(Invitation.token_hash == digest(token)).with_for_update())
    if invitation is None:
        raise not_found("invitation")
    account = session.get(Account, current_caller().account_id)
    if account is None or account.email != invitation.email:
        raise Problem(403, "This invitation was sent to another email address.")
    if not account.email_verified:
        raise email_unverified()
    status = invitation.current_status()
    if status != "pending":
        raise conflict(f"This invitation is {status}.")
    member = session.get(Member, (invitation.workspace_id, account.id), with_for_update=True)
    if member is not None and member.status != "removed":
        raise conflict("You are already a member of this workspace.")
    if member is None:
        member = Member(workspace_id=invitation.workspace_id, account_id=account.id, role=invitation.role, status="active", revision=1)
        session.add(member)
    else:
        member.role, member.status, member.revision, member.joined_at = invitation.role, "active", member.revision + 1, utcnow()
    invitation.status, invitation.accepted_by = "accepted", account.id
    session.flush()
    publish_member(session, "identity.member.added", member)
    events.publish(
        session,
        "identity.invitation.accepted",
        {
            "invitation_id": invitation.id,
            "account_id": account.id,
            "role": invitation.role,
            "miniprogram_ids": invitation.miniprogram_ids,
        },
        workspace_id=invitation.workspace_id,
        aggregate_id=invitation.id,
    )
    session.commit()
    return {"workspace_id": invitation.workspace_id, "role": member.role}


# -- members --------------------------------------------------------------------------------------


def _member_view(member: Member, account: Account) -> dict:
    return {
        "account_id": member.account_id,
        "email": account.email,
        "name": account.name,
        "role": member.role,
        "status": member.status,
        "joined_at": member.joined_at,
    }


@members.route("/workspaces/<ws>/members", methods=["GET"])
@members.arguments(PageQuery, location="query")
@members.response(200, page_schema(schemas.MemberSchema))
def list_members(query: dict[str, Any], ws: str) -> dict[str, Any]:
    """List the workspace's members, by when they joined

    Answered whatever the workspace's `require_mfa`, as the workspace itself is."""
    require_member(ws, without_mfa=True)
    session = db_session()
    page = paginate(
        session,
        select(Member).where(Member.workspace_id == ws, Member.status != "removed"),
        query,
        Member.joined_at,
        Member.account_id,
    )
    ids = [member.account_id for member in page["items"]]
    by_id = {account.id: account for account in session.scalars(select(Account).where(Account.id.in_(ids)))}
    return page | {"items": [_member_view(member, by_id[member.account_id]) for member in page["items"]]}


def _target(session: Session, ws: str, account_id: str) -> Member:
    member = session.get(Member, (ws, account_id), with_for_update=True)
    if member is None or member.status == "removed":
        raise not_found("member")
    return member


def _keep_an_admin(session: Session, ws: str, losing: Member) -> None:
    """409 when `losing` is the last active admin and is about to stop being one."""
    if losing.role != "admin" or losing.status != "active":
        return
    others = session.scalar(
        select(func.count())
        .select_from(Member)
        .where(Member.workspace_id == ws, Member.role == "admin", Member.status == "active", Member.account_id != losing.account_id)
    )
    if not others:
        raise conflict("The workspace must keep at least one active admin.")


def _lock_admins(session: Session, ws: str) -> None:
    """Lock the workspace's active admins (always in one order, so two requests cannot deadlock):
    two admins demoting each other at once then take turns, and the second sees the first's
    change, in both the caller's role check and the last-admin rule. SQLite locks no rows: there
    the whole database is locked instead."""
    lock_database_on_sqlite(session)
    session.execute(
        select(Member.account_id)
        .where(Member.workspace_id == ws, Member.role == "admin", Member.status == "active")
        .order_by(Member.account_id)
        .with_for_update()
    )


def workspaces_left_without_admin(session: Session, account_id: str) -> list[str]:
    """The workspaces of which the account is the last active admin, its admins locked (in
    workspace order) so that none becomes so while the account leaves."""
    lock_database_on_sqlite(session)
    admin_of = session.scalars(
        select(Member.workspace_id)
        .where(Member.account_id == account_id, Member.role == "admin", Member.status == "active")
        .order_by(Member.workspace_id)
    ).all()
    alone = []
    for ws in admin_of:
        _lock_admins(session, ws)
        others = session.scalar(
            select(func.count())
            .select_from(Member)
            .where(Member.workspace_id == ws, Member.role == "admin", Member.status == "active", Member.account_id != account_id)
        )
        if not others:
            alone.append(ws)
    return alone


def _change(ws: str, account_id: str, event_type: str, **changes: str) -> dict:
    session = db_session()
    losing_an_admin = changes.get("role", "admin") != "admin" or changes.get("status", "active") != "active"
    if losing_an_admin:
        _lock_admins(session, ws)
    require_member(ws, "admin")
    member = _target(session, ws, account_id)
    if all(getattr(member, name) == value for name, value in changes.items()):
        return _member_view(member, session.get_one(Account, account_id))
    if losing_an_admin:
        _keep_an_admin(session, ws, member)
    for name, value in changes.items():
        setattr(member, name, value)
    member.revision += 1
    publish_member(session, event_type, member)
    session.commit()
    return _member_view(member, session.get_one(Account, account_id))


@members.route("/workspaces/<ws>/members/<account_id>", methods=["PATCH"])
@members.arguments(schemas.MemberPatchSchema)
@members.response(200, schemas.MemberSchema)
@problems(409)
def change_role(body: dict[str, Any], ws: str, account_id: str) -> dict:
    """Change a member's role

    By an admin; 409 when the workspace would be left without an active admin."""
    return _change(ws, account_id, "identity.member.role_changed", role=body["role"])


@members.route("/workspaces/<ws>/members/<account_id>/block", methods=["POST"])
@members.response(200, schemas.MemberSchema)
@problems(409)
def block(ws: str, account_id: str) -> dict:
    """Block a member

    Until unblocked, the member gets 403 on everything in the workspace. By an admin; 409 for the
    last active admin."""
    return _change(ws, account_id, "identity.member.blocked", status="blocked")


@members.route("/workspaces/<ws>/members/<account_id>/unblock", methods=["POST"])
@members.response(200, schemas.MemberSchema)
def unblock(ws: str, account_id: str) -> dict:
    """Unblock a member

    By an admin."""
    return _change(ws, account_id, "identity.member.unblocked", status="active")


@members.route("/workspaces/<ws>/members/<account_id>", methods=["DELETE"])
@members.response(204)
@problems(409)
def remove(ws: str, account_id: str) -> None:
    """Remove a member from the workspace

    By an admin; 409 for the last active admin."""
    _change(ws, account_id, "identity.member.removed", status="removed")
