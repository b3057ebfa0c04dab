"""Approvals: the lists reviewers and applicants read, and the decisions.

Developers see only their own requests; reviewers and admins see every approval of the
workspace. Reviewers and admins decide, never on their own request (four eyes); only the
applicant withdraws, only while the approval is pending, and a developer only while still
assigned to the mini program it is about (as the catalog's own withdraw requires). A decided approval never changes
(a launch withdrawn at the catalog as it was decided only adds to its trail: see
events.on_launch_withdrawn).
"""

from __future__ import annotations

from typing import Any, Literal

from flask_smorest import Blueprint
from sqlalchemy import select

from mpdp_common.assignments import sees_all
from mpdp_common.auth import Membership, require_member
from mpdp_common.errors import conflict, forbidden, not_found
from mpdp_common.openapi import problems
from mpdp_common.pagination import page_schema, paginate
from mpdp_common.request_db import db_session

from . import schemas
from .events import decide, withdraw
from .models import Approval, Assignment, AuditEntry

approvals = Blueprint("approvals", __name__, url_prefix="/api/v1", description="Approvals: requests that a second person decides")

PATH = "/workspaces/<ws>/approvals"
DECIDERS = ("admin", "reviewer")


def _sees_all(member: Membership) -> bool:
    return member.role in DECIDERS


def _approval(ws: str, approval_id: str, member: Membership, *, lock: bool = False) -> Approval:
    approval = db_session().get(Approval, approval_id, with_for_update=lock)
    if approval is None or approval.workspace_id != ws or not (_sees_all(member) or approval.applicant_id == member.account_id):
        raise not_found("approval")
    return approval


def _detail(approval: Approval) -> dict:
    trail = db_session().scalars(select(AuditEntry).where(AuditEntry.approval_id == approval.id).order_by(AuditEntry.seq)).all()
    return {name: getattr(approval, name) for name in schemas.ApprovalSchema().fields} | {"trail": trail}


def _works_on_subject(member: Membership, approval: Approval) -> bool:
    """Whether the member still works on the mini program the approval is about, if any."""
    miniprogram_id = approval.details.get("miniprogram_id")
    if miniprogram_id is None or sees_all(member):
        return True
    assignment = db_session().get(Assignment, (miniprogram_id, member.account_id))
    return assignment is not None and assignment.assigned


def _pending(approval: Approval) -> None:
    if approval.status != "pending":
        raise conflict(f"This approval is {approval.status} already; a decided approval never changes.")


@approvals.route(PATH, methods=["GET"])
@approvals.arguments(schemas.ApprovalQuery, location="query")
@approvals.response(200, page_schema(schemas.ApprovalSchema))
def list_approvals(query: dict[str, Any], ws: str) -> dict[str, Any]:
    """List approvals, oldest first

    `?status=pending` is the reviewers' queue, `?mine=true` the caller's own applications ("My
    Applications"); a developer sees only their own requests."""
    member = require_member(ws)
    stmt = select(Approval).where(Approval.workspace_id == ws)
    if query["mine"] or not _sees_all(member):
        stmt = stmt.where(Approval.applicant_id == member.account_id)
    if query.get("status"):
        stmt = stmt.where(Approval.status == query["status"])
    if query.get("type"):
        stmt = stmt.where(Approval.type == query["type"])
    return paginate(db_session(), stmt, query, Approval.created_at, Approval.id)


@approvals.route(f"{PATH}/<approval_id>", methods=["GET"])
@approvals.response(200, schemas.ApprovalDetailSchema)
def get_approval(ws: str, approval_id: str) -> dict:
    """One approval, with its trail of every step"""
    return _detail(_approval(ws, approval_id, require_member(ws)))


def _decide(ws: str, approval_id: str, status: Literal["approved", "rejected"], comment: str | None) -> dict:
    member = require_member(ws, *DECIDERS)
    approval = _approval(ws, approval_id, member, lock=True)
    if approval.applicant_id == member.account_id:
        raise forbidden("Nobody decides their own request: another reviewer or admin must.")
    _pending(approval)
    decide(db_session(), approval, status, member.account_id, comment)
    db_session().commit()
    return _detail(approval)


@approvals.route(f"{PATH}/<approval_id>/approve", methods=["POST"])
@approvals.arguments(schemas.ApproveSchema)
@approvals.response(200, schemas.ApprovalDetailSchema)
@problems(409)
def approve(body: dict[str, Any], ws: str, approval_id: str) -> dict:
    """Approve a pending request

    By a reviewer or an admin who is not the applicant (four eyes: 403 otherwise); 409 unless the
    approval is pending."""
    return _decide(ws, approval_id, "approved", body["comment"])


@approvals.route(f"{PATH}/<approval_id>/reject", methods=["POST"])
@approvals.arguments(schemas.RejectSchema)
@approvals.response(200, schemas.ApprovalDetailSchema)
@problems(409)
def reject(body: dict[str, Any], ws: str, approval_id: str) -> dict:
    """Reject a pending request, with a comment

    By a reviewer or an admin who is not the applicant; 409 unless the approval is pending."""
    return _decide(ws, approval_id, "rejected", body["comment"].strip())


@approvals.route(f"{PATH}/<approval_id>/withdraw", methods=["POST"])
@approvals.response(200, schemas.ApprovalDetailSchema)
@problems(409)
def withdraw_approval(ws: str, approval_id: str) -> dict:
    """Withdraw one's own pending request

    Only the applicant, only while pending (409 otherwise); the subject goes back to where it was
    before the request (a launch to created)."""
    member = require_member(ws)
    approval = _approval(ws, approval_id, member, lock=True)
    if approval.applicant_id != member.account_id:
        raise forbidden("Only the applicant withdraws a request.")
    _pending(approval)
    if not _works_on_subject(member, approval):
        raise forbidden("You are no longer assigned to this mini program, so you cannot withdraw its requests.")
    withdraw(db_session(), approval, member.account_id)
    db_session().commit()
    return _detail(approval)
