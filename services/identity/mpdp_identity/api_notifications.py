"""Each member's choice of what they are mailed about in a workspace (see notifications.py)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from mpdp_common.auth import require_member
from mpdp_common.request_db import db_session

from . import schemas
from .models import NotificationChoice
from .notifications import CHOICES

notification_choices = Blueprint(
    "notifications", __name__, url_prefix="/api/v1", description="What each member is mailed about, per workspace"
)


def _view(choice: NotificationChoice | None) -> dict[str, bool]:
    return {name: True if choice is None else getattr(choice, name) for name in CHOICES}


@notification_choices.route("/workspaces/<ws>/notifications", methods=["GET"])
@notification_choices.response(200, schemas.NotificationChoicesAnswerSchema)
def get_choices(ws: str) -> dict[str, bool]:
    """What you are mailed about in this workspace"""
    member = require_member(ws)
    return _view(db_session().get(NotificationChoice, (ws, member.account_id)))


@notification_choices.route("/workspaces/<ws>/notifications", methods=["PUT"])
@notification_choices.arguments(schemas.NotificationChoicesSchema)
@notification_choices.response(200, schemas.NotificationChoicesAnswerSchema)
def put_choices(body: dict[str, Any], ws: str) -> dict[str, bool]:
    """Choose what you are mailed about in this workspace

    Your own choices only; each kind left out is on."""
    member = require_member(ws)
    session = db_session()
    choice = session.get(NotificationChoice, (ws, member.account_id), with_for_update=True)
    if choice is None:
        choice = NotificationChoice(workspace_id=ws, account_id=member.account_id)
        session.add(choice)
    for name in CHOICES:
        setattr(choice, name, body[name])
    session.commit()
    return _view(choice)
