"""What ``masterai serve`` keeps between requests.

Console sessions, one-time login links and calls waiting for approval.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from masterai.store.models.base import Base, UTCDateTime, timestamp_now


class ConsoleSession(Base):
    """A logged-in console session (the cookie holds the secret; only its hash is stored)."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """Hex SHA-256 of the session secret."""
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = timestamp_now()
    last_seen_at: Mapped[datetime] = timestamp_now()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


class LoginLink(Base):
    """A one-time console login link (only its hash is stored; used once, then void)."""

    __tablename__ = "login_links"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """Hex SHA-256 of the link's secret."""
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = timestamp_now()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PendingApproval(Base):
    """A call over HTTP that needs approval: what was asked, exactly, and what became of it.

    Approving it runs the same call again and applies it only if its preview is still the
    one stored here.
    """

    __tablename__ = "pending_approvals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    token_id: Mapped[int | None] = mapped_column(Integer)
    client_address: Mapped[str | None] = mapped_column(String(64))
    tool: Mapped[str] = mapped_column(String(128), nullable=False)
    operation: Mapped[str | None] = mapped_column(String(128))
    arguments: Mapped[Any] = mapped_column(JSON, nullable=False)
    preview: Mapped[str | None] = mapped_column(Text)
    effects: Mapped[Any] = mapped_column(JSON, nullable=False)
    companies: Mapped[Any] = mapped_column(JSON, nullable=False)
    company_id: Mapped[str | None] = mapped_column(String(64))
    """The call's company scope."""
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    """``pending``, ``approved``, ``rejected``, ``expired`` or ``stale`` (changed since)."""
    created_at: Mapped[datetime] = timestamp_now()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    result_audit_id: Mapped[int | None] = mapped_column(Integer)
