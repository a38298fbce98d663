"""Alerts, the realtime monitor queue, monitor cursors and principal profiles.

``alerts`` holds what a realtime custom tool or a built-in threat monitor found.
``monitor_queue`` is the durable queue of ingested messages waiting for the monitors: the
importer adds rows in the transaction that writes the messages, the monitor loop claims
batches and deletes what it processed. ``monitor_cursors`` keeps each stream reader's
watermark (the id of the last audit record examined), so each record is examined once
across restarts. ``principal_profiles`` is what the monitors learned of each principal
(client addresses seen, calls by hour of day).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from masterai.store.models.base import Base, UTCDateTime, json_object, timestamp_now


class Alert(Base):
    """One finding of a monitor (a custom tool or a built-in threat monitor)."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_company_id_created_at", "company_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str | None] = mapped_column(String(64))
    """The company it concerns; ``None`` for platform-wide findings."""
    source: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    """The custom tool's name, or the built-in monitor's name (``denied_burst``, ...)."""
    source_kind: Mapped[str] = mapped_column(String(16), nullable=False)
    """``custom_tool`` or ``monitor`` (see :class:`masterai.services.alerts.SourceKind`)."""
    severity: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any]] = json_object()
    message_id: Mapped[int | None] = mapped_column(Integer)
    """The ingested message it was raised on (no foreign key: alerts outlive messages)."""
    conversation_id: Mapped[str | None] = mapped_column(String(128))
    audit_record_id: Mapped[int | None] = mapped_column(Integer)
    """The audit record it was raised on."""
    principal: Mapped[str | None] = mapped_column(String(128))
    """The user name the finding is about, when it is about one."""
    created_at: Mapped[datetime] = timestamp_now()
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))


class MonitorQueueItem(Base):
    """One ingested message waiting for the realtime monitors."""

    __tablename__ = "monitor_queue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    company_id: Mapped[str] = mapped_column(String(64), nullable=False)
    enqueued_at: Mapped[datetime] = timestamp_now()
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    """A processor's lease: another one skips the row until then."""
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class MonitorCursor(Base):
    """Where a stream reader stands (the id of the last record it examined)."""

    __tablename__ = "monitor_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_at: Mapped[datetime] = timestamp_now()


class PrincipalProfile(Base):
    """What the monitors learned of one principal's habits."""

    __tablename__ = "principal_profiles"

    user_name: Mapped[str] = mapped_column(String(128), primary_key=True)
    addresses: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    """Client addresses seen (the newest kept last; capped)."""
    hours: Mapped[list[int]] = mapped_column(JSON, nullable=False, default=list)
    """Calls by UTC hour of day (24 counts)."""
    calls: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    updated_at: Mapped[datetime] = timestamp_now()
