"""The built-in threat monitors: each looks at one audit record or one message.

Audit monitors (:class:`AuditMonitors`) read records in id order, once each (the caller
keeps the watermark): bursts of denied calls per principal, egress refusals, sandbox
refusals of code that tried to open a socket or read secrets, prompt-injection markers in
results that reach the agent, a new client address or an unusual hour for a principal.
:func:`secret_in_message` looks at an ingested message. Each finding is a :class:`NewAlert`
of :class:`SourceKind.MONITOR`; thresholds come from :class:`MonitorSettings`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from masterai.security.redaction import scrub_text, storable
from masterai.services.alerts.queue import QueuedMessage
from masterai.services.alerts.service import NewAlert, recently_raised
from masterai.services.alerts.vocab import SEVERITY_OF, Monitor, SourceKind
from masterai.settings import MonitorSettings
from masterai.store.models import AuditRecord
from masterai.store.models.alerts import PrincipalProfile

MAX_ADDRESSES = 50
"""Client addresses remembered per principal (the oldest forgotten first)."""
_EXCERPT = 300

EGRESS_REFUSAL = re.compile(r"egress guard|refused by the egress|not an allowed destination", re.I)
"""How a refusal of the egress guard reads in a call's error (services/integrations, llm)."""
NETWORK_REFUSALS = re.compile(
    r"Network is unreachable|Temporary failure in name resolution|Name or service not known|"
    r"getaddrinfo|Address family not supported|socket\.gaierror|ConnectionRefusedError|"
    r"(?-i:\b(?:ENETUNREACH|EAI_AGAIN|ENOTFOUND|EAFNOSUPPORT|ECONNREFUSED)\b)",
    re.I,
)
"""What sandboxed code's error output shows when it tried the network and was refused."""
SECRET_PATHS = re.compile(
    r"/etc/shadow|/etc/sudoers|/proc/(?:self|\d+)/environ|\.ssh/|/run/secrets|"
    r"/var/run/secrets|\.aws/credentials|\.docker/config\.json|\.netrc|audit[._-]?key|"
    r"masterai\.db",
    re.I,
)
"""Paths of secrets that sandboxed code has no business reading."""
FILE_REFUSALS = re.compile(
    r"Permission denied|No such file or directory|Operation not permitted|"
    r"(?-i:\b(?:EACCES|ENOENT|EPERM)\b)",
    re.I,
)


def _text(record: AuditRecord) -> str:
    return "\n".join(t for t in (record.error, record.result_summary) if t)


def _excerpt(text: str, match: re.Match[str]) -> str:
    start = max(match.start() - _EXCERPT // 2, 0)
    return scrub_text(text[start : start + _EXCERPT])


class AuditMonitors:
    """The audit-stream monitors over one session (a round's transaction).

    Args:
        settings: thresholds.
        session: the session alerts and profiles are written in.
    """

    def __init__(self, settings: MonitorSettings, session: Session) -> None:
        self._settings = settings
        self._session = session
        self._window = timedelta(seconds=settings.denied_window_seconds)
        self._markers = [m.lower() for m in settings.injection_markers if m]

    def examine(self, record: AuditRecord) -> Iterator[NewAlert]:
        """The findings of every audit monitor on ``record``.

        A realtime batch (``registry.run_realtime_batch``) is the monitor loop's own call
        for a tool's owner: its sandbox refusals are raised by the loop, linked to their
        message, and it says nothing about the owner's habits (hours, addresses).
        """
        yield from self._denied_burst(record)
        yield from self._egress(record)
        realtime = record.tool == "registry" and record.operation == "run_realtime_batch"
        if not realtime:
            yield from self._sandbox(record)
        yield from self._injection(record)
        if not realtime:
            yield from self._habits(record)

    def _alert(
        self, monitor: Monitor, record: AuditRecord, message: str, **details: Any
    ) -> NewAlert:
        return NewAlert(
            source=monitor.value,
            source_kind=SourceKind.MONITOR,
            severity=SEVERITY_OF[monitor],
            kind=monitor.value,
            message=message,
            company_id=record.company_id,
            details={"tool": record.tool, "operation": record.operation, **details},
            audit_record_id=record.id,
            principal=record.user_name,
        )

    def _quiet(self, monitor: Monitor, principal: str | None) -> bool:
        """Whether ``monitor`` already reported ``principal`` within the window."""
        return recently_raised(
            self._session,
            source=monitor.value,
            kind=monitor.value,
            principal=principal,
            within=self._window,
        )

    def _denied_burst(self, record: AuditRecord) -> Iterator[NewAlert]:
        if record.status != "denied" or not record.user_name:
            return
        since = record.created_at - self._window
        denied = self._session.scalar(
            sa.select(sa.func.count(AuditRecord.id)).where(
                AuditRecord.user_name == record.user_name,
                AuditRecord.status == "denied",
                AuditRecord.created_at >= since,
                AuditRecord.id <= record.id,
            )
        )
        if (denied or 0) < self._settings.denied_burst:
            return
        if self._quiet(Monitor.DENIED_BURST, record.user_name):
            return
        seconds = int(self._settings.denied_window_seconds)
        yield self._alert(
            Monitor.DENIED_BURST,
            record,
            f"{record.user_name} had {denied} denied calls within {seconds} s "
            f"(threshold {self._settings.denied_burst}); the last: {record.tool}",
            denied=denied,
            window_seconds=seconds,
            last_error=(record.error or "")[:_EXCERPT],
        )

    def _egress(self, record: AuditRecord) -> Iterator[NewAlert]:
        text = _text(record)
        match = EGRESS_REFUSAL.search(text) if record.status != "ok" else None
        if match is None:
            return
        yield self._alert(
            Monitor.EGRESS_REFUSAL,
            record,
            f"the egress guard refused a destination of {record.tool}"
            f"{'.' + record.operation if record.operation else ''} for {record.user_name}",
            excerpt=_excerpt(text, match),
        )

    def _sandbox(self, record: AuditRecord) -> Iterator[NewAlert]:
        text = _text(record)
        if not text:
            return
        network = NETWORK_REFUSALS.search(text)
        secret = SECRET_PATHS.search(text)
        refused_file = FILE_REFUSALS.search(text) if secret else None
        if network is None and refused_file is None:
            return
        tried = "open a network connection" if network else "read secrets"
        match = network or secret
        assert match is not None
        yield self._alert(
            Monitor.SANDBOX_REFUSAL,
            record,
            f"code run by {record.user_name} through {record.tool} tried to {tried} "
            "and the sandbox refused",
            attempt="network" if network else "secrets",
            excerpt=_excerpt(text, match),
        )

    def _injection(self, record: AuditRecord) -> Iterator[NewAlert]:
        if record.status != "ok" or not record.result_summary or not self._markers:
            return
        lowered = record.result_summary.lower()
        found = [m for m in self._markers if m in lowered]
        if not found:
            return
        yield self._alert(
            Monitor.PROMPT_INJECTION,
            record,
            f"the result of {record.tool} carries prompt-injection markers: "
            + ", ".join(repr(m) for m in found[:3]),
            markers=found,
        )

    def _habits(self, record: AuditRecord) -> Iterator[NewAlert]:
        """New client address and unusual hour, then learn from the record."""
        name = record.user_name
        if not name:
            return
        profile = self._session.get(PrincipalProfile, name)
        if profile is None:
            profile = PrincipalProfile(user_name=name, addresses=[], hours=[0] * 24, calls=0)
            self._session.add(profile)
        hours = list(profile.hours) if len(profile.hours) == 24 else [0] * 24
        hour = record.created_at.hour
        experienced = profile.calls >= self._settings.profile_min_calls
        address = record.client_address
        new_address = experienced and address and address not in profile.addresses
        if new_address and not self._quiet(Monitor.NEW_ADDRESS, name):
            yield self._alert(
                Monitor.NEW_ADDRESS,
                record,
                f"{name} called from {address!r}, an address not seen for it before",
                address=address,
                known=list(profile.addresses)[-5:],
            )
        if experienced:
            around = hours[(hour - 1) % 24] + hours[hour] + hours[(hour + 1) % 24]
            share = around / profile.calls
            if share <= self._settings.unusual_hour_share and not self._quiet(
                Monitor.UNUSUAL_HOUR, name
            ):
                yield self._alert(
                    Monitor.UNUSUAL_HOUR,
                    record,
                    f"{name} called at {hour:02d}:00 UTC, an hour it has (almost) never "
                    f"worked ({around} of {profile.calls} calls within an hour of it)",
                    hour=hour,
                    share=round(share, 4),
                )
        hours[hour] += 1
        profile.hours = hours
        profile.calls += 1
        if address and address not in profile.addresses:
            profile.addresses = [*profile.addresses, address][-MAX_ADDRESSES:]


def secret_in_message(message: QueuedMessage) -> NewAlert | None:
    """A finding when an ingested message carries a credential (key, token, password)."""
    plain = storable(message.content)
    scrubbed = scrub_text(plain)
    if scrubbed == plain:
        return None
    return NewAlert(
        source=Monitor.SECRET_IN_MESSAGE.value,
        source_kind=SourceKind.MONITOR,
        severity=SEVERITY_OF[Monitor.SECRET_IN_MESSAGE],
        kind=Monitor.SECRET_IN_MESSAGE.value,
        message=f"a {message.role} message of conversation {message.conversation_id!r} "
        "contains a credential",
        company_id=message.company_id,
        details={"role": message.role, "excerpt": scrubbed[:_EXCERPT]},
        message_id=message.message_id,
        conversation_id=message.conversation_id,
    )
