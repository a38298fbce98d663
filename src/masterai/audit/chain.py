"""The append-only, hash-chained audit log: :class:`AuditLog` (append, verify, query).

Each record's ``hash`` is SHA-256 over ``prev_hash`` and the canonical JSON encoding of its
other fields (sorted keys, no whitespace, UTC timestamp with microseconds). ``id`` is the
position in the chain, assigned under a lock (``BEGIN IMMEDIATE`` on SQLite, a transaction-
scoped advisory lock on PostgreSQL, plus an in-process lock), so concurrent appends from
threads or processes never fork the chain and a deleted record leaves a visible gap.

Known limit: deleting the *newest* records leaves a valid, shorter chain. Export the head
hash (``AuditLog.head()``) elsewhere if truncation must be detectable.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select, text

from masterai.security.redaction import redact, scrub_text, storable
from masterai.store import Database
from masterai.store.models import AuditRecord, utcnow

GENESIS_HASH = "0" * 64
STATUSES = ("ok", "denied", "invalid", "not_found", "failed", "timeout")
_PG_LOCK_KEY = 0x6D61_6175  # "maau": the advisory lock that serialises audit appends
_MAX_TEXT = 2000


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    """What to record about one registry call (before redaction)."""

    tool: str
    status: str
    """One of :data:`STATUSES`."""
    operation: str | None = None
    params: Any = field(default_factory=dict)
    result_summary: str | None = None
    error: str | None = None
    duration_ms: float = 0.0
    user_id: int | None = None
    user_name: str | None = None
    token_id: int | None = None
    client_address: str | None = None
    company_id: str | None = None
    company_ids: tuple[str, ...] = ()
    """Every company the call named (a change to several companies is found by each)."""
    request_id: str | None = None
    sensitive_keys: frozenset[str] = frozenset()
    """Parameter names the tool marks sensitive: redacted wherever they appear."""
    public_keys: frozenset[str] = frozenset()
    """Parameters declared not secret: kept although their name looks secret."""


@dataclass(frozen=True, kw_only=True)
class VerifyReport:
    """The outcome of :meth:`AuditLog.verify`."""

    ok: bool
    checked: int
    """Records walked."""
    first_broken_id: int | None = None
    reason: str | None = None


def canonical(record: AuditRecord) -> bytes:
    """The canonical encoding of a record's hashed fields (everything except ``hash``)."""
    created = record.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    fields = {
        "id": record.id,
        "created_at": created,
        "request_id": record.request_id,
        "user_id": record.user_id,
        "user_name": record.user_name,
        "token_id": record.token_id,
        "tool": record.tool,
        "operation": record.operation,
        "params": record.params,
        "status": record.status,
        "result_summary": record.result_summary,
        "error": record.error,
        "duration_ms": record.duration_ms,
        "client_address": record.client_address,
        "company_id": record.company_id,
        "prev_hash": record.prev_hash,
    }
    if record.company_ids is not None:  # records written before the column keep their hash
        fields["company_ids"] = record.company_ids
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def record_hash(record: AuditRecord) -> str:
    """SHA-256 (hex) chaining ``record`` to its predecessor."""
    return hashlib.sha256(canonical(record)).hexdigest()


def _clip(value: str | None, limit: int = _MAX_TEXT) -> str | None:
    if value is None:
        return None
    # Scrub a window a little wider than the limit (a secret cut at the edge is still
    # matched) instead of the whole text: results can be megabytes.
    scrubbed = scrub_text(value[: limit + 512]).replace("\x00", "\ufffd")
    if len(value) <= limit and len(scrubbed) <= limit:
        return scrubbed
    return scrubbed[:limit] + f"... [{len(value)} chars]"


def _short(value: str | None, limit: int) -> str | None:
    """Fit a value into a bounded column (PostgreSQL also refuses NUL characters)."""
    if value is None:
        return None
    return storable(value).replace("\x00", "\ufffd")[:limit]


def _companies(entry: AuditEntry) -> str | None:
    """The companies as stored: a JSON list, only when the call named more than one."""
    ids = sorted({_short(c, 64) or "" for c in entry.company_ids})
    return json.dumps(ids, ensure_ascii=False) if len(ids) > 1 else None


def _bounded_params(params: Any, max_bytes: int) -> Any:
    encoded = json.dumps(params, sort_keys=True, ensure_ascii=False)
    if len(encoded.encode()) <= max_bytes:
        return params
    return {"_truncated": True, "bytes": len(encoded.encode()), "preview": encoded[:500]}


class AuditLog:
    """The audit trail in a :class:`~masterai.store.Database`.

    Args:
        database: where ``audit_log`` lives.
        max_params_bytes: redacted params larger than this are stored as a truncated preview.
    """

    def __init__(self, database: Database, *, max_params_bytes: int = 16_384) -> None:
        self.database = database
        self.max_params_bytes = max_params_bytes
        self._lock = threading.Lock()

    def append(self, entry: AuditEntry) -> AuditRecord:
        """Redact ``entry``, chain it to the newest record and store it. Thread-safe.

        Raises:
            ValueError: ``entry.status`` is not one of :data:`STATUSES`.
        """
        if entry.status not in STATUSES:
            raise ValueError(f"Invalid audit status {entry.status!r}. Allowed: {STATUSES}")
        params = redact(
            entry.params, sensitive_keys=entry.sensitive_keys, public_keys=entry.public_keys
        )
        record = AuditRecord(
            created_at=utcnow(),
            request_id=_short(entry.request_id, 64),
            user_id=entry.user_id,
            user_name=_short(entry.user_name, 128),
            token_id=entry.token_id,
            tool=_short(entry.tool, 128) or "",
            operation=_short(entry.operation, 128),
            params=_bounded_params(params, self.max_params_bytes),
            status=entry.status,
            result_summary=_clip(entry.result_summary),
            error=_clip(entry.error),
            duration_ms=round(float(entry.duration_ms), 3),
            client_address=_short(entry.client_address, 64),
            company_id=_short(entry.company_id, 64),
            company_ids=_companies(entry),
        )
        with self._lock, self.database.session(immediate=True) as s:
            if self.database.dialect == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            last = s.execute(
                select(AuditRecord.id, AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1)
            ).first()
            record.id = 1 if last is None else last.id + 1
            record.prev_hash = GENESIS_HASH if last is None else last.hash
            record.hash = record_hash(record)
            s.add(record)
        return record

    def head(self) -> tuple[int, str] | None:
        """``(id, hash)`` of the newest record, or None when the log is empty."""
        with self.database.session() as s:
            row = s.execute(
                select(AuditRecord.id, AuditRecord.hash).order_by(AuditRecord.id.desc()).limit(1)
            ).first()
            return None if row is None else (row.id, row.hash)

    def _walk(self, batch: int = 1000) -> Iterator[AuditRecord]:
        last_id = 0
        while True:
            with self.database.session() as s:
                rows = list(
                    s.scalars(
                        select(AuditRecord)
                        .where(AuditRecord.id > last_id)
                        .order_by(AuditRecord.id)
                        .limit(batch)
                    )
                )
            if not rows:
                return
            yield from rows
            last_id = rows[-1].id

    def verify(self) -> VerifyReport:
        """Walk the chain from the first record; report the first broken one by id."""
        return verify_chain(self._walk())

    def recent(self, limit: int = 20) -> list[AuditRecord]:
        """The newest ``limit`` records, oldest first."""
        with self.database.session() as s:
            rows = s.scalars(select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit))
            return list(reversed(list(rows)))

    def search(
        self,
        *,
        tool: str | None = None,
        user: str | None = None,
        company: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Records matching every given filter, oldest first (at most ``limit``, newest)."""
        query = select(AuditRecord)
        if tool is not None:
            query = query.where(AuditRecord.tool == tool)
        if user is not None:
            query = query.where(AuditRecord.user_name == user)
        if company is not None:
            quoted = json.dumps(company, ensure_ascii=False)
            query = query.where(
                or_(
                    AuditRecord.company_id == company,
                    AuditRecord.company_ids.contains(quoted, autoescape=True),
                )
            )
        if status is not None:
            query = query.where(AuditRecord.status == status)
        if since is not None:
            query = query.where(AuditRecord.created_at >= since)
        with self.database.session() as s:
            rows = s.scalars(query.order_by(AuditRecord.id.desc()).limit(limit))
            return list(reversed(list(rows)))

    def count(self) -> int:
        """Number of stored records."""
        with self.database.session() as s:
            return s.execute(select(func.count()).select_from(AuditRecord)).scalar_one()


def verify_chain(records: Iterable[AuditRecord]) -> VerifyReport:
    """Check ids are consecutive from 1, each ``prev_hash`` links, and each hash recomputes."""
    expected_id = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for record in records:
        if record.id != expected_id:
            return VerifyReport(
                ok=False,
                checked=checked,
                first_broken_id=expected_id,
                reason=(
                    f"record {expected_id} is missing (record {expected_id - 1} is followed "
                    f"by record {record.id})"
                    if record.id > expected_id
                    else f"record {record.id} is out of order (expected {expected_id})"
                ),
            )
        if record.prev_hash != prev_hash:
            return VerifyReport(
                ok=False,
                checked=checked,
                first_broken_id=record.id,
                reason=(
                    f"record {record.id} does not link to record {record.id - 1} "
                    "(prev_hash differs: a record was changed, replaced or reordered)"
                ),
            )
        if record_hash(record) != record.hash:
            return VerifyReport(
                ok=False,
                checked=checked,
                first_broken_id=record.id,
                reason=f"record {record.id} was modified (its hash does not match its content)",
            )
        checked += 1
        expected_id += 1
        prev_hash = record.hash
    return VerifyReport(ok=True, checked=checked)
