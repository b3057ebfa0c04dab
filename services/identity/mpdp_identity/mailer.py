"""Identity's mail: invitation emails, sent through the SMTP server of the workspace that invites
(its service email setting), and the platform's own mail (verification, password reset, notices to
an account's owner), sent through the operator's server (`MPDP_SMTP_URL`) or, without one,
written to `<data_dir>/mail/` with its link logged. Sending runs in the mail worker (mail_queue.py), never in an event handler. The
server's name is resolved and judged public right before connecting, and the connection goes to
the very address judged (TLS still verifies the name), so that a name re-pointed at an internal
address after it was saved (DNS rebinding) reaches nothing inside."""

from __future__ import annotations

import ipaddress
import logging
import re
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mpdp_common.addresses import public_addresses
from mpdp_common.config import Settings
from mpdp_common.crypto import secret_box
from mpdp_common.db import utcnow

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


# -- the platform's own mail ----------------------------------------------------------------------


def platform_message(settings: Settings, *, to: str, subject: str, lines: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="mpdp")
    message.set_content("\n".join(lines))
    return message


def verification_message(settings: Settings, *, to: str, name: str, token: str) -> EmailMessage:
    link = f"{settings.public_url}/verify-email?token={token}"
    return platform_message(
        settings,
        to=to,
        subject="Confirm your email for MPDP",
        lines=[
            f"Hello {name},",
            "",
            "Confirm that this is your email address to finish signing up:",
            "",
            link,
            "",
            "The link works once, for 24 hours. If you did not sign up for MPDP, ignore this email.",
        ],
    )


def account_exists_message(settings: Settings, *, to: str) -> EmailMessage:
    return platform_message(
        settings,
        to=to,
        subject="Someone tried to sign up to MPDP with your email",
        lines=[
            "Someone tried to make a new MPDP account with this email address, which has an account already.",
            "",
            "If that was you, sign in instead; if you forgot your password, reset it here:",
            "",
            f"{settings.public_url}/forgot-password",
            "",
            "If it was not you, nothing changed and you need not do anything.",
        ],
    )


def password_reset_message(settings: Settings, *, to: str, token: str) -> EmailMessage:
    return platform_message(
        settings,
        to=to,
        subject="Reset your MPDP password",
        lines=[
            "Someone asked to reset the password of the MPDP account with this email address.",
            "",
            "Choose a new password here:",
            "",
            f"{settings.public_url}/reset-password?token={token}",
            "",
            "The link works once, for an hour. If you did not ask for it, ignore this email: your password stays as it is.",
        ],
    )


def _links(message: EmailMessage, settings: Settings) -> list[str]:
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    return re.findall(re.escape(settings.public_url) + r"/\S+", text)


def write_to_folder(message: EmailMessage, settings: Settings) -> Path:
    """Without an SMTP server, the mail is an .eml file under `<data_dir>/mail/`; its links are logged."""
    folder = Path(settings.data_dir) / "mail"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{stamp}-{make_msgid().strip('<>').split('@')[0]}.eml"
    path.write_bytes(bytes(message))
    links = _links(message, settings)
    log.warning(
        "no MPDP_SMTP_URL: mail %r to %s written to %s%s",
        message["Subject"],
        message["To"],
        path,
        "; its link: " + " ".join(links) if links else "",
    )
    return path


def send_platform(message: EmailMessage, settings: Settings) -> None:
    """Deliver the platform's own mail through `settings.smtp_url` (the operator's server, named by
    the operator: no address check), TLS from the start for smtps://, else STARTTLS when offered;
    or write it to the mail folder when no server is configured. Raises on any failure."""
    if not settings.smtp_url:
        write_to_folder(message, settings)
        return
    url = urlsplit(settings.smtp_url)
    if url.scheme not in ("smtp", "smtps") or not url.hostname:
        raise RuntimeError("MPDP_SMTP_URL must be smtp://[user:pass@]host[:port] or smtps://...")
    secure = url.scheme == "smtps"
    port = url.port or (465 if secure else 25)
    smtp: smtplib.SMTP
    if secure:
        smtp = smtplib.SMTP_SSL(url.hostname, port, timeout=SMTP_TIMEOUT_SECONDS, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(url.hostname, port, timeout=SMTP_TIMEOUT_SECONDS)
    with smtp:
        smtp.ehlo()
        if not secure and smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
            secure = True
        if url.username:
            if not secure and url.hostname not in ("localhost", "127.0.0.1", "::1"):
                raise RuntimeError(f"{url.hostname} offers no TLS; the SMTP password is not sent in the clear")
            smtp.login(unquote(url.username), unquote(url.password or ""))
        smtp.send_message(message)
