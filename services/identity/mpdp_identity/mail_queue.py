"""Identity's outgoing mail: event handlers only queue a message (a row, in their transaction);
the mail worker (`mpdpctl work identity mailer`) sends it through the workspace's SMTP server,
with retries and backoff of its own. A slow, silent or refusing SMTP server so holds up only its
own mail, never the membership events behind it."""

from __future__ import annotations

import email
import email.policy
import logging
import threading
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mpdp_common.config import Settings
from mpdp_common.crypto import secret_box
from mpdp_common.db import EVENT_PROCESS_CONNECTIONS, make_engine, session_scope, utcnow

from . import mailer
from .models import QueuedMail, WorkspaceMailSettings

log = logging.getLogger(__name__)

#: the wait after each failed attempt; after the last, the mail is given up (status "failed")
#: the longest wait between looks at the queue
MAX_POLL_SECONDS = 1.0
RETRY_DELAYS = tuple(timedelta(seconds=seconds) for seconds in (10, 30, 120, 600, 1800, 3600))


def enqueue(session: Session, settings: Settings, workspace_id: str | None, message: EmailMessage) -> None:
    """Queue `message` in the caller's transaction: through the workspace's SMTP server, or as the
    platform's own mail when `workspace_id` is None."""
    session.add(
        QueuedMail(
            workspace_id=workspace_id,
            message_encrypted=secret_box(settings).encrypt(message.as_string()),
            status="pending",
            attempts=0,
            next_attempt_at=utcnow(),
        )
    )


def send_next(session: Session, settings: Settings, *, platform: bool = False) -> bool:
    """Try the oldest due mail that no other worker holds, of the platform's own (`platform`) or
    of the workspaces'; False when none is due."""
    mail = session.scalars(
        select(QueuedMail)
        .where(
            QueuedMail.status == "pending",
            QueuedMail.next_attempt_at <= utcnow(),
            QueuedMail.workspace_id.is_(None) if platform else QueuedMail.workspace_id.is_not(None),
        )
        .order_by(QueuedMail.next_attempt_at)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if mail is None:
        return False
    mail.attempts += 1
    server = session.get(WorkspaceMailSettings, mail.workspace_id) if mail.workspace_id else None
    try:
        if mail.workspace_id and (server is None or not server.smtp_host):
            raise RuntimeError("the workspace has no service email any more")
        if mail.message_encrypted is None:
            raise RuntimeError("the mail's message is no longer kept")
        message = email.message_from_string(secret_box(settings).decrypt(mail.message_encrypted), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if server is None:
            mailer.send_platform(message, settings)
        else:
            mailer.send(server, message, settings)
    except Exception as error:
        mail.last_error = f"{error.__class__.__name__}: {error}"[:500]
        if mail.attempts > len(RETRY_DELAYS):
            mail.status, mail.message_encrypted = "failed", None
            log.error("mail %s given up after %d attempts: %s", mail.id, mail.attempts, mail.last_error)
        else:
            mail.next_attempt_at = utcnow() + RETRY_DELAYS[mail.attempts - 1]
            log.warning("mail %s not sent (attempt %d), retried at %s: %s", mail.id, mail.attempts, mail.next_attempt_at, mail.last_error)
    else:
        mail.status, mail.sent_at, mail.message_encrypted = "sent", utcnow(), None
        log.info("mail %s sent through %s", mail.id, f"{server.smtp_host}:{server.smtp_port}" if server else "the platform's mail")
    return True


def run_worker(settings: Settings, stop: threading.Event) -> None:
    """Send due mail until `stop` is set: the platform's own mail in a thread of its own, so that a
    workspace's slow or silent SMTP server never holds up a verification or reset mail."""
    platform = threading.Thread(target=_send_until, args=(settings, stop, True), name="platform-mail", daemon=True)
    platform.start()
    _send_until(settings, stop, False)
    platform.join(timeout=mailer.SMTP_TIMEOUT_SECONDS + 5)


def _send_until(settings: Settings, stop: threading.Event, platform: bool) -> None:
    """One loop of the worker; between batches, it polls like the outbox relay does."""
    sessions = sessionmaker(make_engine(settings.database_url, EVENT_PROCESS_CONNECTIONS), expire_on_commit=False)
    log.info("mail worker started (%s mail)", "the platform's" if platform else "the workspaces'")
    while not stop.is_set():
        try:
            with session_scope(sessions) as session:
                sent_one = send_next(session, settings, platform=platform)
        except OperationalError as error:
            log.warning("database unavailable (%s); the mail worker waits", error.__class__.__name__)
            stop.wait(5)
            continue
        if not sent_one:
            # a verification mail is awaited by a person at the other end: a second at most
            stop.wait(min(settings.outbox_poll_seconds, MAX_POLL_SECONDS))
