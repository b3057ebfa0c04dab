"""Invitation emails, sent through the SMTP server of the workspace that invites (its service
email setting). Sending runs in identity's consumer: a failure raises, so that the bus retries it
and finally parks it in the dead-letter queue."""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import ssl
from email.message import EmailMessage

from mpdp_common.config import Settings
from mpdp_common.crypto import secret_box

from .models import WorkspaceMailSettings

log = logging.getLogger(__name__)

SMTP_TIMEOUT_SECONDS = 10


def invitation_message(mail: WorkspaceMailSettings, *, email: str, role: str, token: str, expires_at: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = email
    message["Subject"] = "You are invited to an MPDP workspace"
    link = f"https://{mail.primary_domain}/invitations/{token}" if mail.primary_domain else None
    lines = [
        f"You are invited to join a workspace as {role}.",
        "",
        f"Accept: {link}" if link else "Sign in to MPDP and accept the invitation with this token:",
        "" if link else token,
        "",
        f"The invitation token is {token}; it expires at {expires_at}.",
        "If you did not expect this email, ignore it.",
    ]
    message.set_content("\n".join(lines))
    return message


def _on_this_host(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def send(mail: WorkspaceMailSettings, message: EmailMessage) -> None:
    """Deliver `message` through the workspace's SMTP server: TLS from the start on port 465,
    else STARTTLS when the server offers it; a login when a user name is set, never over a
    plain connection to another host. Raises on any failure."""
    host, port = mail.smtp_host, mail.smtp_port
    if not host or not port:
        raise RuntimeError(f"workspace {mail.workspace_id} has no SMTP server")
    context = ssl.create_default_context()
    connection: smtplib.SMTP
    if port == 465:
        connection = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT_SECONDS, context=context)
    else:
        connection = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT_SECONDS)
    with connection as smtp:
        smtp.ehlo()
        encrypted = port == 465
        if not encrypted and smtp.has_extn("starttls"):
            smtp.starttls(context=context)
            smtp.ehlo()
            encrypted = True
        if mail.smtp_username:
            if not encrypted and not _on_this_host(host):
                raise RuntimeError(f"{host} offers no TLS; the SMTP password is not sent in the clear")
            password = (
                secret_box(Settings.from_env("identity")).decrypt(mail.smtp_password_encrypted) if mail.smtp_password_encrypted else ""
            )
            smtp.login(mail.smtp_username, password)
        smtp.send_message(message)
