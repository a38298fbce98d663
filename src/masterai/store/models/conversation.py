"""Customer conversations and their messages (what analytics reads)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

if TYPE_CHECKING:
    from masterai.store.models.tenancy import Company

from masterai.store.models.base import Base, UTCDateTime, counter, flag, timestamp_now


class Conversation(Base):
    """One conversation between a company's AI and one of its customers.

    The ``metadata`` column is mapped to the attribute ``metadata_`` because declarative
    classes reserve the name ``metadata``.
    """

    __tablename__ = "conversations"
    __table_args__ = (Index(None, "company_id", "started_at"),)

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), nullable=False
    )
    config_version: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = timestamp_now()
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved: Mapped[bool] = flag()
    escalated: Mapped[bool] = flag()
    satisfaction: Mapped[int | None] = mapped_column(Integer)
    """Explicit rating 1..5, if the customer gave one."""
    user_ref: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSON, nullable=False, default=dict, server_default=text("'{}'")
    )

    company: Mapped[Company] = relationship(back_populates="conversations")
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", passive_deletes=True, order_by="Message.seq"
    )


class Message(Base):
    """One turn of a conversation."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("conversation_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    """``user``, ``assistant``, ``system`` or ``tool``."""
    content: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = timestamp_now()
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    prompt_tokens: Mapped[int] = counter()
    completion_tokens: Mapped[int] = counter()
    cost_usd: Mapped[float] = counter(real=True)
    model: Mapped[str | None] = mapped_column(Text)
    is_fallback: Mapped[bool] = flag()
    """The assistant could not answer."""
    error: Mapped[str | None] = mapped_column(Text)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
