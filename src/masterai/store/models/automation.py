"""Outgoing webhooks (scripts: ``models/scripts.py``; custom tools: ``models/custom_tools.py``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from masterai.store.models.base import Base, flag, timestamp_now


class Webhook(Base):
    """An outgoing HTTP notification on named events."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    url: Mapped[str] = mapped_column(Text, nullable=False)
    events: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    secret: Mapped[str | None] = mapped_column(Text)
    """HMAC signing secret (needed in clear to sign; redacted from every output)."""
    company_id: Mapped[str | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    enabled: Mapped[bool] = flag(True)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = timestamp_now()
