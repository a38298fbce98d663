"""``send_email``: messages through the SMTP server in settings (aiosmtplib), each recorded.

The server is the operator's (``email.smtp_host``), so it is reached directly, not through
the egress guard; which recipients a caller may write to is the policy's ``email_domains``
check on the declared e-mail parameters. Attachments are workspace files the caller may read.
``dry_run`` renders the message and sends nothing. Every message sent or tried is recorded in
``email_messages`` (sender, recipients, subject, message id, accepted and refused
recipients).
"""

from __future__ import annotations

import asyncio
import mimetypes
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import aiosmtplib

from masterai.security.principals import Principal
from masterai.security.workspace import WorkspaceService
from masterai.services.errors import InvalidInputError, ServiceError
from masterai.settings import EmailSettings
from masterai.store import Database
from masterai.store.models.events import EmailRecord

MAX_RECIPIENTS = 100
MAX_SUBJECT = 998


class EmailNotConfigured(ServiceError):
    """``email.smtp_host`` or ``email.sender`` is not set."""


@dataclass(frozen=True, kw_only=True)
class EmailResult:
    """What happened to one message."""

    message_id: str
    sender: str
    recipients: list[str]
    subject: str
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    status: str = "sent"
    """``sent``, ``partial``, ``failed`` or ``dry_run``."""
    attachments: list[str] = field(default_factory=list)
    rendered: str | None = None
    """The whole message, for a dry run."""
    record_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return dict(self.__dict__)


@dataclass(frozen=True, kw_only=True)
class EmailHealth:
    """What ``integrations check-email`` reports."""

    host: str | None
    port: int
    ok: bool
    starttls: bool
    authenticated: bool
    banner: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return dict(self.__dict__)


class EmailService:
    """Send and record e-mail (see the module docstring)."""

    def __init__(
        self, settings: EmailSettings, database: Database, workspace: WorkspaceService
    ) -> None:
        self._settings = settings
        self._database = database
        self._workspace = workspace

    def render(
        self,
        principal: Principal,
        *,
        to: Sequence[str],
        subject: str,
        body: str,
        cc: Sequence[str] = (),
        bcc: Sequence[str] = (),
        html: str | None = None,
        attachments: Sequence[str] = (),
    ) -> EmailMessage:
        """Build the message, reading attachments as ``principal`` (blocking).

        Raises:
            InvalidInputError: no recipient, too many, a bad subject, attachments too large.
            WorkspaceError: an attachment the principal may not read, or missing.
        """
        sender = self._settings.sender or "masterai@localhost"
        recipients = [*to, *cc, *bcc]
        if not to:
            raise InvalidInputError("'to' must name at least one recipient")
        if len(recipients) > MAX_RECIPIENTS:
            raise InvalidInputError(
                f"{len(recipients)} recipients; at most {MAX_RECIPIENTS} per message"
            )
        if "\n" in subject or "\r" in subject or len(subject) > MAX_SUBJECT:
            raise InvalidInputError("'subject' must be one line of at most 998 characters")
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(to)
        if cc:
            message["Cc"] = ", ".join(cc)
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
        message.set_content(body)
        if html is not None:
            message.add_alternative(html, subtype="html")
        total = 0
        for i, path in enumerate(attachments):
            key = f"attachments[{i}]"
            data = self._workspace.read_bytes(
                principal, path, max_bytes=self._settings.max_attachment_bytes, key=key
            )
            total += len(data)
            if total > self._settings.max_attachment_bytes:
                raise InvalidInputError(
                    f"attachments exceed {self._settings.max_attachment_bytes} bytes together"
                )
            name = self._workspace.parse(path, key=key).name
            kind, _ = mimetypes.guess_type(name)
            main, _, sub = (kind or "application/octet-stream").partition("/")
            message.add_attachment(data, maintype=main, subtype=sub, filename=name)
        return message

    async def send(
        self,
        principal: Principal,
        message: EmailMessage,
        *,
        recipients: Sequence[str],
        attachments: Sequence[str] = (),
        dry_run: bool = False,
    ) -> EmailResult:
        """Send ``message`` to ``recipients`` (``To``, ``Cc`` and ``Bcc``) and record it."""
        result = EmailResult(
            message_id=str(message["Message-ID"]),
            sender=str(message["From"]),
            recipients=list(recipients),
            subject=str(message["Subject"]),
            attachments=list(attachments),
        )
        if dry_run:
            return replace(result, status="dry_run", rendered=_shown(message))
        host, sender = self._settings.smtp_host, self._settings.sender
        if not host or not sender:
            raise EmailNotConfigured(
                "e-mail is not configured: set MASTERAI_EMAIL__SMTP_HOST and "
                "MASTERAI_EMAIL__SENDER (dry_run renders a message without them)"
            )
        try:
            refused_raw, _ = await aiosmtplib.send(
                message, recipients=list(recipients), **self._connection()
            )
        except aiosmtplib.SMTPRecipientsRefused as e:
            refused_raw = {
                r.recipient: aiosmtplib.SMTPResponse(r.code, r.message) for r in e.recipients
            }
        except (aiosmtplib.SMTPException, OSError) as e:
            failed = replace(result, status="failed")
            await asyncio.to_thread(self._record, failed, principal, f"{type(e).__name__}: {e}")
            raise ServiceError(f"the SMTP server {host}:{self._settings.smtp_port}: {e}") from e
        refused = {str(k): str(v) for k, v in refused_raw.items()}
        accepted = [r for r in recipients if r not in refused]
        status = "sent" if not refused else "partial" if accepted else "failed"
        done = replace(result, accepted=accepted, refused=refused, status=status)
        record_id = await asyncio.to_thread(self._record, done, principal)
        return replace(done, record_id=record_id)

    async def check(self) -> EmailHealth:
        """Connect, say EHLO, STARTTLS and log in as configured, then quit."""
        settings = self._settings
        health: dict[str, Any] = {"host": settings.smtp_host, "port": settings.smtp_port}
        if not settings.smtp_host:
            return EmailHealth(
                **health,
                ok=False,
                starttls=False,
                authenticated=False,
                error="email.smtp_host is not set (MASTERAI_EMAIL__SMTP_HOST)",
            )
        options = self._connection()
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            timeout=settings.timeout,
            use_tls=settings.use_tls,
            start_tls=settings.starttls,
            tls_context=options.get("tls_context"),
        )
        try:
            response = await client.connect()
            if options.get("username"):
                await client.login(options["username"], options["password"])
            await client.noop()
            await client.quit()
        except (aiosmtplib.SMTPException, OSError) as e:
            return EmailHealth(
                **health, ok=False, starttls=False, authenticated=False, error=str(e)
            )
        return EmailHealth(
            **health,
            ok=True,
            starttls=bool(settings.starttls),
            authenticated=bool(options.get("username")),
            banner=response.message,
        )

    def _connection(self) -> dict[str, Any]:
        settings = self._settings
        options: dict[str, Any] = {
            "hostname": settings.smtp_host,
            "port": settings.smtp_port,
            "timeout": settings.timeout,
            "use_tls": settings.use_tls,
            "start_tls": settings.starttls if not settings.use_tls else False,
        }
        if settings.ca_file is not None:
            options["tls_context"] = ssl.create_default_context(cafile=str(settings.ca_file))
        if settings.username:
            options["username"] = settings.username
            options["password"] = settings.password.get_secret_value() if settings.password else ""
        return options

    def _record(self, result: EmailResult, principal: Principal, error: str | None = None) -> int:
        with self._database.session() as session:
            row = EmailRecord(
                message_id=result.message_id,
                sender=result.sender,
                recipients=result.recipients,
                subject=result.subject,
                accepted=result.accepted,
                refused=result.refused,
                status=result.status,
                error=error,
                attachments=result.attachments,
                sent_by=principal.name,
            )
            session.add(row)
            session.flush()
            return row.id


def _shown(message: EmailMessage) -> str:
    """The message as text, attachments shown by name and size instead of their content."""
    lines = [f"{k}: {v}" for k, v in message.items()]
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_filename()
        if name:
            size = len(part.get_payload(decode=True) or b"")
            lines.append(f"[attachment {name} ({part.get_content_type()}, {size} bytes)]")
        else:
            lines.append("")
            lines.append(str(part.get_content()))
    return "\n".join(lines)
