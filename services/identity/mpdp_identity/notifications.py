"""Mail notifications: who is told what, from the events of the other services.

| when | to | choice |
|---|---|---|
| an approval opens | the workspace's admins and reviewers, except its applicant | approvals |
| an approval is decided or withdrawn | its applicant | approvals |
| a launch is halted, or released | admins and the developers assigned to the mini program | releases |
| a crash issue is new or regressed, an alert rule fires | admins and the assigned developers | quality |

Each member turns a kind off per workspace (`NotificationChoice`; no row means all on). Only
active members with a verified address are mailed. Mail is queued in the handler's transaction
(mail_queue), through the workspace's SMTP server where it has one, else as the platform's own;
quality mail goes out at most once an hour per issue or alert rule, whatever number of events.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mpdp_common.assignments import follow_assignments
from mpdp_common.contracts.approval import DECIDED, OPENED, WITHDRAWN
from mpdp_common.contracts.telemetry import ALERT_FIRED, ISSUE_CREATED, ISSUE_REGRESSED
from mpdp_common.db import utcnow
from mpdp_common.events import Event, handler_settings

from . import mail_queue, mailer
from .events import events
from .models import Account, Assignment, Member, NotificationChoice, NotificationSent, WorkspaceMailSettings

log = logging.getLogger(__name__)

CHOICES = ("approvals", "releases", "quality")
#: one quality mail per issue (or alert rule) in this time at most
QUALITY_QUIET = timedelta(hours=1)

follow_assignments(events, Assignment)


def recipients(
    session: Session,
    workspace_id: str,
    choice: str,
    *,
    roles: Iterable[str] = (),
    accounts: Iterable[str] = (),
    assigned_to: str | None = None,
    besides: str | None = None,
) -> list[Account]:
    """The active members of the workspace with a verified address who keep `choice` on, among
    those of `roles`, the `accounts` named, and the developers assigned to `assigned_to`."""
    wanted = set(accounts)
    members = session.scalars(select(Member).where(Member.workspace_id == workspace_id, Member.status == "active")).all()
    wanted |= {member.account_id for member in members if member.role in set(roles)}
    if assigned_to is not None:
        assigned = set(
            session.scalars(select(Assignment.account_id).where(Assignment.miniprogram_id == assigned_to, Assignment.assigned.is_(True)))
        )
        wanted |= {member.account_id for member in members if member.role == "developer" and member.account_id in assigned}
    wanted &= {member.account_id for member in members}
    wanted.discard(besides or "")
    if not wanted:
        return []
    declined = set(
        session.scalars(
            select(NotificationChoice.account_id).where(
                NotificationChoice.workspace_id == workspace_id,
                NotificationChoice.account_id.in_(wanted),
                getattr(NotificationChoice, choice).is_(False),
            )
        )
    )
    found = session.scalars(
        select(Account)
        .where(Account.id.in_(wanted - declined), Account.email_verified_at.is_not(None), Account.erased_at.is_(None))
        .order_by(Account.email)
    )
    return list(found)


def _send(session: Session, workspace_id: str, to: Iterable[Account], subject: str, lines: list[str]) -> int:
    """Queue one mail per recipient, through the workspace's SMTP server where it has one."""
    settings = handler_settings(session)
    server = session.get(WorkspaceMailSettings, workspace_id)
    through = workspace_id if server is not None and server.smtp_host and server.sender else None
    count = 0
    for account in to:
        message: EmailMessage = mailer.platform_message(settings, to=account.email, subject=subject, lines=lines)
        if through is not None and server is not None and server.sender:
            message.replace_header("From", server.sender)
        mail_queue.enqueue(session, settings, through, message)
        count += 1
    if count:
        log.info("%s: %d notification(s) queued for workspace %s", subject, count, workspace_id)
    return count


def _link(session: Session, path: str) -> str:
    return f"{handler_settings(session).public_url}{path}"


def _footer(session: Session, workspace_id: str) -> list[str]:
    return ["", f"Choose what you are mailed about: {_link(session, f'/workspaces/{workspace_id}/workspace')}#notifications"]


def _quiet(session: Session, key: str) -> bool:
    """Whether a quality mail about `key` went out within the hour; if not, it is noted as going out now."""
    now = utcnow()
    sent = session.get(NotificationSent, key, with_for_update=True)
    if sent is not None and now - sent.sent_at < QUALITY_QUIET:
        return True
    if sent is None:
        session.add(NotificationSent(key=key, sent_at=now))
    else:
        sent.sent_at = now
    return False


@events.handles(OPENED)
def on_approval_opened(session: Session, event: Event) -> None:
    approval = event.payload
    ws = approval["workspace_id"]
    to = recipients(session, ws, "approvals", roles=("admin", "reviewer"), besides=approval["applicant_id"])
    lines = [
        f"A {approval['type']} request waits for a reviewer:",
        "",
        approval["title"],
        "",
        f"Review it: {_link(session, '/workspaces/' + ws + '/approvals/' + approval['approval_id'])}",
        *_footer(session, ws),
    ]
    _send(session, ws, to, f"Approval waiting: {approval['title']}"[:200], lines)


def _on_approval_closed(session: Session, event: Event, outcome: str) -> None:
    approval = event.payload
    ws = approval["workspace_id"]
    to = recipients(session, ws, "approvals", accounts=(approval["applicant_id"],))
    comment = approval.get("comment")
    lines = [
        f"Your {approval['type']} request about {approval['subject']['kind']} {approval['subject']['id']} was {outcome}.",
        *([f"The reviewer's comment: {comment}"] if comment else []),
        "",
        f"See it: {_link(session, '/workspaces/' + ws + '/approvals/' + approval['approval_id'])}",
        *_footer(session, ws),
    ]
    _send(session, ws, to, f"Your {approval['type']} request was {outcome}", lines)


@events.handles(DECIDED)
def on_approval_decided(session: Session, event: Event) -> None:
    _on_approval_closed(session, event, event.payload["status"])


@events.handles(WITHDRAWN)
def on_approval_withdrawn(session: Session, event: Event) -> None:
    _on_approval_closed(session, event, "withdrawn")


#: the launch statuses that are mailed, once a launch reaches them
RELEASE_NEWS = {"halted": "was halted", "released": "is released"}


@events.handles("catalog.launch.status_changed")
def on_launch_status_changed(session: Session, event: Event) -> None:
    launch = event.payload
    news = RELEASE_NEWS.get(launch["status"])
    if news is None or launch.get("previous_status") == launch["status"]:
        return
    ws, mp = launch["workspace_id"], launch["miniprogram_id"]
    to = recipients(session, ws, "releases", roles=("admin",), assigned_to=mp)
    version = launch.get("version") or launch["version_id"]
    reason = launch.get("reason")
    lines = [
        f"Version {version} of mini program {mp} {news} on host app {launch['app_id']}.",
        *([f"Why: {reason}", "Its host app delivers the released version again."] if launch["status"] == "halted" and reason else []),
        "",
        f"See the launch: {_link(session, '/workspaces/' + ws + '/miniprograms/' + mp + '/launches/' + launch['launch_id'])}",
        *_footer(session, ws),
    ]
    _send(session, ws, to, f"Version {version} {news}", lines)


def _quality(session: Session, payload: Mapping[str, Any], key: str, subject: str, lines: list[str]) -> None:
    ws = payload["workspace_id"]
    to = recipients(session, ws, "quality", roles=("admin",), assigned_to=payload["miniprogram_id"])
    if not to or _quiet(session, key):
        return
    _send(session, ws, to, subject[:200], [*lines, *_footer(session, ws)])


@events.handles(ISSUE_CREATED)
def on_issue_created(session: Session, event: Event) -> None:
    issue = event.payload
    ws = issue["workspace_id"]
    _quality(
        session,
        issue,
        f"issue:{issue['issue_id']}",
        f"New crash: {issue['title']}",
        [
            f"A new crash issue in version {issue['version']} of mini program {issue['miniprogram_id']}:",
            "",
            issue["title"],
            *([f"in {issue['culprit']}"] if issue.get("culprit") else []),
            "",
            f"See it: {_link(session, '/workspaces/' + ws + '/quality/' + issue['issue_id'])}",
        ],
    )


@events.handles(ISSUE_REGRESSED)
def on_issue_regressed(session: Session, event: Event) -> None:
    issue = event.payload
    ws = issue["workspace_id"]
    _quality(
        session,
        issue,
        f"issue:{issue['issue_id']}",
        f"Crash back: {issue['title']}",
        [
            f"A crash resolved in version {issue.get('resolved_in') or '?'} came back in {issue['version']}:",
            "",
            issue["title"],
            "",
            f"See it: {_link(session, '/workspaces/' + ws + '/quality/' + issue['issue_id'])}",
        ],
    )


@events.handles(ALERT_FIRED)
def on_alert_fired(session: Session, event: Event) -> None:
    alert = event.payload
    ws = alert["workspace_id"]
    _quality(
        session,
        alert,
        f"alert:{alert['alert_rule_id']}",
        f"Alert: {alert['summary']}",
        [
            alert["summary"],
            "",
            f"See the mini program's quality: {_link(session, '/workspaces/' + ws + '/quality?miniprogram=' + alert['miniprogram_id'])}",
        ],
    )
