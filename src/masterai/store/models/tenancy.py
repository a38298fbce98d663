"""Companies, their versioned AI configurations, and configuration templates."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

if TYPE_CHECKING:
    from masterai.store.models.conversation import Conversation

from masterai.store.models.base import Base, flag, json_object, timestamp_now


class Company(Base):
    """A tenant of the platform; ``id`` is a slug such as ``acme``."""

    __tablename__ = "companies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = timestamp_now()
    settings: Mapped[dict[str, Any]] = json_object()

    configurations: Mapped[list[AIConfiguration]] = relationship(
        back_populates="company", passive_deletes=True, order_by="AIConfiguration.version"
    )
    conversations: Mapped[list[Conversation]] = relationship(
        back_populates="company", passive_deletes=True
    )


class AIConfiguration(Base):
    """One version of a company's customer-facing AI configuration (never overwritten)."""

    __tablename__ = "ai_configurations"
    __table_args__ = (
        UniqueConstraint("company_id", "version"),
        # At most one active version per company, whatever the writers do concurrently.
        Index(
            "uq_ai_configurations_one_active",
            "company_id",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), nullable=False, index=True
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    is_active: Mapped[bool] = flag()
    provider: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    system_prompt: Mapped[str | None] = mapped_column(Text)
    temperature: Mapped[float | None] = mapped_column(Float)
    max_tokens: Mapped[int | None] = mapped_column(Integer)
    settings: Mapped[dict[str, Any]] = json_object()
    author: Mapped[str | None] = mapped_column(Text)
    change_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = timestamp_now()
    source_version: Mapped[int | None] = mapped_column(Integer)
    """The version this one was derived from (for example on rollback)."""

    company: Mapped[Company] = relationship(back_populates="configurations")


class ConfigTemplate(Base):
    """A named, reusable starting point for AI configurations."""

    __tablename__ = "config_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(Text)
    system_prompt: Mapped[str | None] = mapped_column(Text)
    temperature: Mapped[float | None] = mapped_column(Float)
    max_tokens: Mapped[int | None] = mapped_column(Integer)
    settings: Mapped[dict[str, Any]] = json_object()
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = timestamp_now()
