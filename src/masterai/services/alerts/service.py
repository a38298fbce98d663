"""Storing, listing and acknowledging alerts; each new alert emits its event.

:func:`record_alert` adds an alert and its event (``custom_tool.alert`` or ``security.alert``)
in the caller's transaction; :class:`AlertService` lists and acknowledges them for a principal
(alerts of companies it may read; platform-wide alerts, with no company, only for super admins).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from masterai.events import EventType, emit
from masterai.security import Principal
from masterai.services.alerts.vocab import Severity, SourceKind
from masterai.services.errors import InvalidInputError, NotFoundError
from masterai.store import Database
from masterai.store.models import utcnow
from masterai.store.models.alerts import Alert

MAX_MESSAGE = 2000
"""Longest alert message stored (a longer one is cut)."""
MAX_LIST = 1000
"""Most alerts one listing returns."""

_EVENT_OF = {
    SourceKind.CUSTOM_TOOL: EventType.CUSTOM_TOOL_ALERT,
    SourceKind.MONITOR: EventType.SECURITY_ALERT,
}


@dataclass(frozen=True, kw_only=True)
class NewAlert:
    """What a monitor found, before it is stored."""

    source: str
    """The custom tool's name or the built-in monitor's name."""
    source_kind: SourceKind
    severity: Severity
    kind: str
    """What was found, in a word or two (``competitor_mention``, ``denied_burst``)."""
    message: str
    company_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    message_id: int | None = None
    conversation_id: str | None = None
    audit_record_id: int | None = None
    principal: str | None = None


def alert_dict(row: Alert) -> dict[str, Any]:
    """The JSON form of a stored alert (what listings and events carry)."""
    return {
        "id": row.id,
        "company_id": row.company_id,
        "source": row.source,
        "source_kind": row.source_kind,
        "severity": row.severity,
        "kind": row.kind,
        "message": row.message,
        "details": row.details,
        "message_id": row.message_id,
        "conversation_id": row.conversation_id,
        "audit_record_id": row.audit_record_id,
        "principal": row.principal,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "acknowledged_at": row.acknowledged_at.isoformat() if row.acknowledged_at else None,
        "acknowledged_by": row.acknowledged_by,
    }


def record_alert(session: Session, alert: NewAlert) -> Alert:
    """Store ``alert`` and emit its event, both in ``session``'s transaction."""
    row = Alert(
        company_id=alert.company_id,
        source=alert.source[:128],
        source_kind=alert.source_kind.value,
        severity=alert.severity.value,
        kind=alert.kind[:64],
        message=alert.message[:MAX_MESSAGE],
        details=dict(alert.details),
        message_id=alert.message_id,
        conversation_id=alert.conversation_id,
        audit_record_id=alert.audit_record_id,
        principal=alert.principal,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    emit(
        session,
        _EVENT_OF[alert.source_kind],
        company_id=alert.company_id,
        data=alert_dict(row),
        actor=alert.principal,
    )
    return row


def recently_raised(
    session: Session, *, source: str, principal: str | None, within: timedelta, kind: str
) -> bool:
    """Whether an alert of ``source`` and ``kind`` about ``principal`` was raised ``within``.

    Monitors use it so one burst or one new address gives one alert, not one per record.
    """
    since = utcnow() - within
    query = sa.select(Alert.id).where(
        Alert.source == source, Alert.kind == kind, Alert.created_at >= since
    )
    query = query.where(Alert.principal == principal if principal else Alert.principal.is_(None))
    return session.execute(query.limit(1)).first() is not None


@dataclass(frozen=True, kw_only=True)
class AlertFilter:
    """Which alerts to list (every field optional)."""

    company_id: str | None = None
    source: str | None = None
    """A custom tool's or monitor's name."""
    since: datetime | None = None
    severity: Severity | None = None
    """This severity or a more serious one."""
    unacknowledged: bool = False
    limit: int = 100


class AlertService:
    """Alerts for a principal: list and acknowledge.

    Args:
        database: where alerts are stored.
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    def list(self, principal: Principal, wanted: AlertFilter) -> list[dict[str, Any]]:
        """The alerts ``principal`` may see that match ``wanted``, newest first.

        Raises:
            InvalidInputError: ``limit`` is out of range.
        """
        if not 1 <= wanted.limit <= MAX_LIST:
            raise InvalidInputError(
                f"limit {wanted.limit!r} is out of range; allowed: 1-{MAX_LIST}"
            )
        query = sa.select(Alert).order_by(Alert.id.desc())
        if wanted.company_id is not None:
            query = query.where(Alert.company_id == wanted.company_id)
        if wanted.source is not None:
            query = query.where(Alert.source == wanted.source)
        if wanted.since is not None:
            query = query.where(Alert.created_at >= wanted.since)
        if wanted.severity is not None:
            serious = [s.value for s in Severity if s.rank >= wanted.severity.rank]
            query = query.where(Alert.severity.in_(serious))
        if wanted.unacknowledged:
            query = query.where(Alert.acknowledged_at.is_(None))
        shown: list[dict[str, Any]] = []
        with self.database.session() as session:
            # Filtered in Python by what the principal may read; read in pages so a
            # principal that sees few alerts still gets ``limit`` of them.
            offset = 0
            while len(shown) < wanted.limit:
                page = list(session.scalars(query.offset(offset).limit(500)))
                if not page:
                    break
                offset += len(page)
                shown.extend(alert_dict(a) for a in page if _may_see(principal, a.company_id))
        return shown[: wanted.limit]

    def acknowledge(self, principal: Principal, alert_id: int) -> dict[str, Any]:
        """Mark an alert seen by ``principal`` (again: keeps the first acknowledgement).

        Raises:
            NotFoundError: no such alert, or one ``principal`` may not see.
        """
        with self.database.session(immediate=True) as session:  # read, then write
            row = session.get(Alert, alert_id)
            if row is None or not _may_see(principal, row.company_id, write=True):
                raise NotFoundError(f"no alert {alert_id!r} (or not one you may acknowledge)")
            if row.acknowledged_at is None:
                row.acknowledged_at = utcnow()
                row.acknowledged_by = principal.name
            session.flush()
            return alert_dict(row)

    def counts(self, principal: Principal) -> dict[str, int]:
        """Unacknowledged alerts ``principal`` may see, by severity."""
        query = sa.select(Alert.company_id, Alert.severity, sa.func.count(Alert.id)).where(
            Alert.acknowledged_at.is_(None)
        )
        counts: dict[str, int] = {}
        with self.database.session() as session:
            for company, severity, n in session.execute(
                query.group_by(Alert.company_id, Alert.severity)
            ):
                if _may_see(principal, company):
                    counts[severity] = counts.get(severity, 0) + int(n)
        return counts


def _may_see(principal: Principal, company_id: str | None, *, write: bool = False) -> bool:
    if company_id is None:
        return principal.is_super_admin
    data = principal.permissions.data_access
    return data.can_write(company_id) if write else data.can_read(company_id)
