"""The append-only, hash-chained audit log of every registry call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from masterai.store.models.base import Base, UTCDateTime, utcnow


class AuditRecord(Base):
    """One registry call (allowed, denied, invalid, failed or timed out).

    ``id`` is the position in the chain (1, 2, ...), assigned by the appender under a lock, so a
    missing id is a deleted record. ``hash`` is HMAC-SHA256, under the secret of key epoch
    ``key_epoch``, over ``prev_hash`` and the canonical encoding of the other fields (plain
    SHA-256 for records written before keys; see ``masterai.audit``). There are deliberately
    no foreign keys: deleting a user or company must never break or rewrite the chain.
    """

    __tablename__ = "audit_log"
    # ``problems`` below is a plain attribute set when a row is read, never a column
    __allow_unmapped__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime, nullable=False, default=utcnow, index=True
    )
    request_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(Integer)
    user_name: Mapped[str | None] = mapped_column(String(128), index=True)
    token_id: Mapped[int | None] = mapped_column(Integer)
    tool: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    operation: Mapped[str | None] = mapped_column(String(128))
    params: Mapped[Any] = mapped_column(JSON, nullable=False)
    """Arguments after redaction (and truncation if huge)."""
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    """``ok``, ``denied``, ``invalid``, ``not_found``, ``failed`` or ``timeout``."""
    result_summary: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    client_address: Mapped[str | None] = mapped_column(String(64))
    company_id: Mapped[str | None] = mapped_column(String(64), index=True)
    company_ids: Mapped[str | None] = mapped_column(Text)
    """JSON list of every company a call named, when it named more than one."""
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    key_epoch: Mapped[int | None] = mapped_column(Integer)
    """Epoch of the audit key whose secret signed ``hash``; NULL for a record written before
    keys (plain SHA-256, accepted only before the first signed record)."""

    problems: tuple[str, ...] = ()
    """What is wrong with the stored row, filled in when it is read by ``masterai.audit``
    (empty for a well-formed row). Not stored."""
