"""Alert rules of a workspace's mini programs (alerts.py): admins make and delete them, every
member who sees the mini program reads them."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from sqlalchemy import select

from mpdp_common.auth import Membership, require_member
from mpdp_common.contracts.telemetry import ALERT_RULE_CREATED, ALERT_RULE_DELETED
from mpdp_common.db import new_id, utcnow
from mpdp_common.errors import not_found
from mpdp_common.pagination import page_schema, paginate
from mpdp_common.request_db import db_session

from . import alerts, schemas
from .access import access, miniprogram_for
from .events import events
from .models import AlertRule

alert_rules = Blueprint("alert_rules", __name__, url_prefix="/api/v1", description="Alert rules on crashes and release health")

PATH = "/workspaces/<ws>/alert-rules"
_SHOWN = list(schemas.AlertRuleSchema().fields)


def _event(rule: AlertRule) -> dict[str, Any]:
    return {
        "alert_rule_id": rule.id,
        "workspace_id": rule.workspace_id,
        "miniprogram_id": rule.miniprogram_id,
        "kind": rule.kind,
        "threshold": rule.threshold,
        "min_sessions": rule.min_sessions,
        "window_minutes": rule.window_minutes,
        "min_errors": rule.min_errors,
    }


def _rule(ws: str, rule_id: str, *roles: str) -> tuple[Membership, AlertRule]:
    member = require_member(ws, *roles)
    rule = db_session().get(AlertRule, rule_id, with_for_update=bool(roles))
    if rule is None or rule.workspace_id != ws or not access.sees(member, rule.miniprogram_id):
        raise not_found("alert rule")
    return member, rule


@alert_rules.route(PATH, methods=["POST"])
@alert_rules.arguments(schemas.AlertRuleCreateSchema)
@alert_rules.response(201, schemas.AlertRuleSchema)
def create_alert_rule(body: dict[str, Any], ws: str) -> AlertRule:
    """Make an alert rule for a mini program

    By an admin. `crash_free_sessions_below` and `crash_free_users_below` fire when the share over
    the last `window_minutes` is below `threshold`, `error_spike` when the window's errors are
    `threshold` times the previous windows' average (and at least `min_errors`), each only with at
    least `min_sessions` sessions in the window; `new_issue` and `regression` fire for every new or
    regressed crash group. A rule that fired fires again only after it has been back to ok."""
    member, miniprogram = miniprogram_for(ws, body["miniprogram_id"], "admin")
    session = db_session()
    now = utcnow()
    rule = AlertRule(
        id=new_id(),
        workspace_id=ws,
        miniprogram_id=miniprogram.id,
        kind=body["kind"],
        threshold=body["threshold"],
        min_sessions=body["min_sessions"],
        window_minutes=body["window_minutes"],
        min_errors=body["min_errors"],
        state="ok",
        # the worker evaluates a rule of a window at once, then every interval
        next_check_at=now if body["kind"] in alerts.EVALUATED else None,
        created_at=now,
        created_by=member.account_id,
    )
    session.add(rule)
    session.flush()
    events.publish(session, ALERT_RULE_CREATED, _event(rule) | {"created_by": member.account_id}, workspace_id=ws, aggregate_id=rule.id)
    session.commit()
    return rule


@alert_rules.route(PATH, methods=["GET"])
@alert_rules.arguments(schemas.AlertRulesQuery, location="query")
@alert_rules.response(200, page_schema(schemas.AlertRuleSchema))
def list_alert_rules(query: dict[str, Any], ws: str) -> dict[str, Any]:
    """List alert rules, the oldest first

    Of the mini programs the caller sees; filter by mini program."""
    stmt = select(AlertRule).where(AlertRule.workspace_id == ws)
    if query["miniprogram_id"]:
        miniprogram_for(ws, query["miniprogram_id"])
        stmt = stmt.where(AlertRule.miniprogram_id == query["miniprogram_id"])
    else:
        stmt = access.visible(stmt, require_member(ws), AlertRule.miniprogram_id)
    return paginate(db_session(), stmt, query, AlertRule.created_at, AlertRule.id)


@alert_rules.route(f"{PATH}/<rule_id>", methods=["GET"])
@alert_rules.response(200, schemas.AlertRuleSchema)
def get_alert_rule(ws: str, rule_id: str) -> AlertRule:
    """One alert rule, with its state and its last evaluation"""
    return _rule(ws, rule_id)[1]


@alert_rules.route(f"{PATH}/<rule_id>", methods=["DELETE"])
@alert_rules.response(204)
def delete_alert_rule(ws: str, rule_id: str) -> None:
    """Delete an alert rule

    By an admin; it fires no more."""
    member, rule = _rule(ws, rule_id, "admin")
    session = db_session()
    events.publish(session, ALERT_RULE_DELETED, _event(rule) | {"deleted_by": member.account_id}, workspace_id=ws, aggregate_id=rule.id)
    session.delete(rule)
    session.commit()
