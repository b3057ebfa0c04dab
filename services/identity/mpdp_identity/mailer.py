"""Invitation emails, sent through the SMTP server of the workspace that invites (its service
email setting). Sending runs in the mail worker (mail_queue.py), never in an event handler. The
server's name is resolved and judged public right before connecting, and the connection goes to
the very address judged (TLS still verifies the name), so that a name re-pointed at an internal
address after it was saved (DNS rebinding) reaches nothing inside."""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import socket
import ssl
from email.message import EmailMessage

from mpdp_common.addresses import public_addresses
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


class _PinnedSMTP(smtplib.SMTP):
    """SMTP to `address`, whatever the server's name resolves to by now."""

    def __init__(self, address: str, *, timeout: float):
        self.address = address
        super().__init__(timeout=timeout)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((self.address, port), timeout, self.source_address)


class _PinnedSMTPS(smtplib.SMTP_SSL):
    """SMTP over TLS to `address`; the certificate is checked against the server's name."""

    def __init__(self, address: str, *, timeout: float, context: ssl.SSLContext):
        self.address = address
        super().__init__(timeout=timeout, context=context)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return self.context.wrap_socket(socket.create_connection((self.address, port), timeout, self.source_address), server_hostname=host)


def _connect(address: str, host: str, port: int) -> smtplib.SMTP:
    connection: smtplib.SMTP
    if port == 465:
        connection = _PinnedSMTPS(address, timeout=SMTP_TIMEOUT_SECONDS, context=ssl.create_default_context())
    else:
        connection = _PinnedSMTP(address, timeout=SMTP_TIMEOUT_SECONDS)
    connection.connect(host, port)
    return connection


def send(mail: WorkspaceMailSettings, message: EmailMessage, settings: Settings) -> None:
    """Deliver `message` through the workspace's SMTP server: TLS from the start on port 465,
    else STARTTLS when the server offers it; a login when a user name is set, never over a
    plain connection to another host. Raises on any failure, NotPublic for an internal address
    (unless `settings` allow private hosts)."""
    host, port = mail.smtp_host, mail.smtp_port
    if not host or not port:
        raise RuntimeError(f"workspace {mail.workspace_id} has no SMTP server")
    address = public_addresses(host, port, allow_private=settings.smtp_allow_private_hosts)[0]
    with _connect(address, host, port) as smtp:
        smtp.ehlo()
        encrypted = port == 465
        if not encrypted and smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
            encrypted = True
        if mail.smtp_username:
            if not encrypted and not ipaddress.ip_address(address).is_loopback:
                raise RuntimeError(f"{host} offers no TLS; the SMTP password is not sent in the clear")
            password = secret_box(settings).decrypt(mail.smtp_password_encrypted) if mail.smtp_password_encrypted else ""
            smtp.login(mail.smtp_username, password)
        smtp.send_message(message)
