"""Platform events (an append-only outbox), webhook deliveries and their attempts, sent e-mail.

``events`` rows are only ever inserted, in the transaction of the change they describe; the
dispatcher records that it has fanned an event out to the matching webhooks in
``event_fanouts`` (one row per event), so the outbox itself is never updated.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from masterai.store.models.base import Base, UTCDateTime, json_object, timestamp_now


class Event(Base):
    """One platform event (``configuration.changed``, ``test.failed``, ...)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    """The public id (``evt_<hex>``) sent to receivers; stable across redeliveries."""
    type: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    company_id: Mapped[str | None] = mapped_column(String(64), index=True)
    """The company the event is about; ``None`` for platform events."""
    data: Mapped[dict[str, Any]] = json_object()
    actor: Mapped[str | None] = mapped_column(String(128))
    """Who caused it (a user name), when known."""
    created_at: Mapped[datetime] = timestamp_now()


class EventFanout(Base):
    """Marks an event as fanned out to its webhooks (the outbox stays append-only)."""

    __tablename__ = "event_fanouts"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    deliveries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = timestamp_now()


class WebhookDelivery(Base):
    """One event to one webhook: its state and schedule; each try is a :class:`DeliveryAttempt`."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "webhook_id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), nullable=False, index=True
    )
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    """``pending``, ``delivered`` or ``dead`` (see :class:`masterai.events.DeliveryStatus`)."""
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the next attempt is due (also the claim of a dispatcher that is sending it)."""
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = timestamp_now()
    updated_at: Mapped[datetime] = timestamp_now()


class DeliveryAttempt(Base):
    """One try of a delivery: what was answered, or why nothing was."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False, index=True
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = timestamp_now()
    duration_ms: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response: Mapped[str | None] = mapped_column(Text)
    """The start of the response body."""


class EmailRecord(Base):
    """One message ``send_email`` sent (or tried to): who, to whom, what came back."""

    __tablename__ = "email_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), nullable=False, index=True)
    sender: Mapped[str] = mapped_column(String(320), nullable=False)
    recipients: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    subject: Mapped[str] = mapped_column(Text, nullable=False, default="")
    accepted: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    refused: Mapped[dict[str, Any]] = json_object()
    """Refused recipient -> the server's answer."""
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    """``sent``, ``partial`` or ``failed``."""
    error: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    sent_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = timestamp_now()
