"""What identity does with events: a workspace's creator becomes its admin, a deleted workspace loses its
members, a workspace's mail settings are kept, and an invitation's email is queued; the mail
notifications of other services' events are in notifications.py, registered with these."""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mpdp_common.apikeys import follow_api_keys
from mpdp_common.crypto import secret_box
from mpdp_common.events import Event, follow_state, handler_settings

from . import mail_queue, mailer, notifications  # noqa: F401 (registers the notifications' handlers)
from .events import events, publish_member
from .models import ApiKey, Member, WorkspaceMailSettings, WorkspaceName

log = logging.getLogger(__name__)

follow_api_keys(events, ApiKey)


def add_admin(session: Session, workspace_id: str, account_id: str) -> None:
    if session.get(Member, (workspace_id, account_id)) is not None:
        return
    member = Member(workspace_id=workspace_id, account_id=account_id, role="admin", status="active", revision=1)
    session.add(member)
    session.flush()
    publish_member(session, "identity.member.added", member)


@events.handles("workspace.workspace.created")
def on_workspace_created(session: Session, event: Event) -> None:
    """The account that creates a workspace becomes its first admin (a developer workspace is
    announced as created only once its application is approved)."""
    add_admin(session, event.payload["workspace_id"], event.payload["created_by"])
    session.merge(WorkspaceName(workspace_id=event.payload["workspace_id"], name=event.payload["name"]))


@events.handles("workspace.workspace.updated")
def on_workspace_updated(session: Session, event: Event) -> None:
    session.merge(WorkspaceName(workspace_id=event.payload["workspace_id"], name=event.payload["name"]))


@events.handles("workspace.workspace.deleted")
def on_workspace_deleted(session: Session, event: Event) -> None:
    """A deleted workspace has no members left: every service's read model drops them too."""
    members = session.scalars(
        select(Member).where(Member.workspace_id == event.payload["workspace_id"], Member.status != "removed").with_for_update()
    ).all()
    for member in members:
        member.status, member.revision = "removed", member.revision + 1
        publish_member(session, "identity.member.removed", member)
    session.execute(delete(WorkspaceName).where(WorkspaceName.workspace_id == event.payload["workspace_id"]))


#: what identity keeps of a workspace's settings: its SMTP server, through which its invitations go out
MAIL_FIELDS = ("sender", "smtp_host", "smtp_port", "smtp_username", "smtp_password_encrypted", "primary_domain")


def _mail_settings(settings: dict) -> dict:
    email = settings["service_email"] or {}
    return {
        "workspace_id": settings["workspace_id"],
        "revision": settings["revision"],
        "primary_domain": settings["domains"]["primary"],
        "require_mfa": settings["require_mfa"],
        **{name: email.get(name) for name in MAIL_FIELDS if name != "primary_domain"},
    }


# ... and whether its members need two-factor sign-in (mpdp_common.auth.require_member).
follow_state(
    events,
    ("workspace.settings.updated",),
    WorkspaceMailSettings,
    ("workspace_id",),
    (*MAIL_FIELDS, "require_mfa"),
    state_of=_mail_settings,
)


@events.handles("identity.invitation.created")
def on_invitation_created(session: Session, event: Event) -> None:
    """Queue the invitation's email for the workspace's SMTP server, when it has one; the mail
    worker sends it, so that this handler never waits for SMTP."""
    invitation = event.payload
    mail = session.get(WorkspaceMailSettings, event.workspace_id)
    if mail is None or not mail.smtp_host or not invitation.get("token_encrypted"):
        log.info("workspace %s has no service email; invitation %s not emailed", event.workspace_id, invitation["invitation_id"])
        return
    settings = handler_settings(session)
    token = secret_box(settings).decrypt(invitation["token_encrypted"])
    message = mailer.invitation_message(
        mail, email=invitation["email"], role=invitation["role"], token=token, expires_at=invitation["expires_at"]
    )
    mail_queue.enqueue(session, settings, mail.workspace_id, message)
