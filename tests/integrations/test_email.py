"""``send_email`` through a real SMTP server on loopback (aiosmtpd), with STARTTLS (trustme)."""

from __future__ import annotations

import email
import json
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from sqlalchemy import select
from support import make_settings, run

from masterai.registry import ToolRegistry
from masterai.security import Principal
from masterai.settings import EmailSettings
from masterai.store import Database
from masterai.store.models.events import EmailRecord
from masterai.tools import build_registry


@dataclass
class Mailbox:
    """What the SMTP server accepted."""

    port: int
    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    tls_used: list[bool] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        self.tls_used.append(session.ssl is not None)
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A plain SMTP server on 127.0.0.1."""
    box = Mailbox(port=_free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def tls_mailbox(tmp_path: Path) -> Iterator[tuple[Mailbox, Path]]:
    """An SMTP server that requires STARTTLS, with a certificate of a test CA (and its file)."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    box = Mailbox(port=_free_port())
    controller = Controller(
        box, hostname="127.0.0.1", port=box.port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        yield box, ca_file
    finally:
        controller.stop()


def mail_registry(
    tmp_path: Path, store: Database, port: int, **email_settings: Any
) -> ToolRegistry:
    options = {"smtp_host": "127.0.0.1", "smtp_port": port, "sender": "bot@example.com"}
    settings = make_settings(
        tmp_path, email=EmailSettings(**{"starttls": False, **options, **email_settings})
    )
    return build_registry(settings, store)


def put(tmp_path: Path, path: str, data: bytes) -> None:
    target = tmp_path / "home" / "workspace" / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


async def test_a_message_with_an_attachment_arrives_and_is_recorded(
    mailbox: Mailbox, tmp_path: Path, store: Database, people: dict[str, Principal]
) -> None:
    registry = mail_registry(tmp_path, store, mailbox.port)
    put(tmp_path, "companies/acme/report.csv", b"a,b\n1,2\n")

    result = await run(
        registry,
        people["ada"],
        "send_email",
        to=["ann@example.com"],
        cc=["cid@example.com"],
        bcc=["bo@example.com"],
        subject="Weekly report",
        body="See attached.",
        html="<p>See attached.</p>",
        attachments=["companies/acme/report.csv"],
    )

    assert result.ok, result.error
    ((recipients, message),) = mailbox.messages
    assert sorted(recipients) == ["ann@example.com", "bo@example.com", "cid@example.com"]
    assert message["Subject"] == "Weekly report" and "Bcc" not in message
    parts = {p.get_filename(): p for p in message.walk() if p.get_filename()}
    assert parts["report.csv"].get_payload(decode=True) == b"a,b\n1,2\n"
    with store.session() as session:
        record = session.scalars(select(EmailRecord)).one()
    assert record.message_id == message["Message-ID"] == result.data["result"]["message_id"]
    assert (record.status, record.sent_by, record.subject) == ("sent", "ada", "Weekly report")
    assert sorted(record.accepted) == sorted(recipients) and record.refused == {}


async def test_starttls_with_the_test_certificate_encrypts_the_session(
    tls_mailbox: tuple[Mailbox, Path], tmp_path: Path, store: Database, people: dict[str, Principal]
) -> None:
    box, ca_file = tls_mailbox
    registry = mail_registry(tmp_path, store, box.port, starttls=True, ca_file=ca_file)

    result = await run(
        registry, people["ada"], "send_email", to=["ann@example.com"], subject="s", body="b"
    )

    assert result.ok, result.error
    assert box.tls_used == [True]


async def test_a_server_certificate_from_an_unknown_ca_is_refused(
    tls_mailbox: tuple[Mailbox, Path], tmp_path: Path, store: Database, people: dict[str, Principal]
) -> None:
    box, _ = tls_mailbox
    registry = mail_registry(tmp_path, store, box.port, starttls=True)

    result = await run(
        registry, people["ada"], "send_email", to=["ann@example.com"], subject="s", body="b"
    )

    assert result.status == "failed" and box.messages == []
    with store.session() as session:
        assert session.scalars(select(EmailRecord.status)).all() == ["failed"]


async def test_refused_recipients_are_reported_and_recorded(
    mailbox: Mailbox, tmp_path: Path, store: Database, people: dict[str, Principal]
) -> None:
    registry = mail_registry(tmp_path, store, mailbox.port)

    result = await run(
        registry,
        people["root"],
        "send_email",
        to=["ann@example.com", "nobody@example.com"],
        subject="s",
        body="b",
    )

    out = result.data["result"]
    assert out["status"] == "partial" and out["accepted"] == ["ann@example.com"]
    assert "nobody@example.com" in out["refused"]
    assert [r for r, _ in mailbox.messages] == [["ann@example.com"]]


async def test_a_recipient_outside_the_email_domains_is_denied(
    mailbox: Mailbox, tmp_path: Path, store: Database, people: dict[str, Principal]
) -> None:
    registry = mail_registry(tmp_path, store, mailbox.port)

    result = await run(
        registry,
        people["ada"],
        "send_email",
        to=["ann@example.com"],
        bcc=["spy@elsewhere.org"],
        subject="s",
        body="b",
    )

    assert result.status == "denied" and "elsewhere.org" in (result.error or "")
    assert mailbox.messages == []


async def test_an_attachment_the_caller_may_not_read_is_denied(
    mailbox: Mailbox, tmp_path: Path, store: Database, people: dict[str, Principal]
) -> None:
    registry = mail_registry(tmp_path, store, mailbox.port)
    put(tmp_path, "companies/globex/secret.txt", b"no")

    result = await run(
        registry,
        people["ada"],
        "send_email",
        to=["ann@example.com"],
        subject="s",
        body="b",
        attachments=["companies/globex/secret.txt"],
    )

    assert result.status == "denied" and mailbox.messages == []


async def test_a_dry_run_renders_without_sending_or_asking(
    mailbox: Mailbox, tmp_path: Path, store: Database, people: dict[str, Principal]
) -> None:
    registry = mail_registry(tmp_path, store, mailbox.port)
    put(tmp_path, "companies/acme/a.txt", b"hello")

    result = await run(
        registry,
        people["ada"],
        "send_email",
        approve=False,
        to=["ann@example.com"],
        subject="Hi",
        body="Body text",
        attachments=["companies/acme/a.txt"],
        dry_run=True,
    )

    assert result.ok and mailbox.messages == []
    rendered = result.data["result"]["rendered"]
    assert "Subject: Hi" in rendered and "Body text" in rendered
    assert "[attachment a.txt (text/plain, 5 bytes)]" in rendered


async def test_sending_needs_approval(
    mailbox: Mailbox, tmp_path: Path, store: Database, people: dict[str, Principal]
) -> None:
    registry = mail_registry(tmp_path, store, mailbox.port)

    result = await run(
        registry,
        people["ada"],
        "send_email",
        approve=False,
        to=["a@example.com"],
        subject="s",
        body="b",
    )

    assert result.status == "denied" and mailbox.messages == []


def test_cli_check_email_reports_the_server_and_fails_without_one(
    tls_mailbox: tuple[Mailbox, Path], masterai_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from masterai.cli import app

    box, ca_file = tls_mailbox
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    unset = runner.invoke(app, ["integrations", "check-email"])
    monkeypatch.setenv("MASTERAI_EMAIL__SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MASTERAI_EMAIL__SMTP_PORT", str(box.port))
    monkeypatch.setenv("MASTERAI_EMAIL__CA_FILE", str(ca_file))

    checked = runner.invoke(app, ["integrations", "check-email", "--json"])

    assert unset.exit_code == 1 and "smtp_host is not set" in unset.stdout
    assert checked.exit_code == 0, checked.stdout
    assert json.loads(checked.stdout)["starttls"] is True
