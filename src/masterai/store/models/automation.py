"""Saved scripts and their runs, outgoing webhooks, and custom tools built on demand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from masterai.store.models.base import Base, UTCDateTime, flag, json_object, timestamp_now


class Script(Base):
    """A saved piece of code, optionally on a cron schedule."""

    __tablename__ = "scripts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(32), nullable=False)
    code: Mapped[str] = mapped_column(Text, nullable=False)
    schedule: Mapped[str | None] = mapped_column(String(128))
    """Cron expression, or NULL for manual runs only."""
    company_id: Mapped[str | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    enabled: Mapped[bool] = flag(True)
    settings: Mapped[dict[str, Any]] = json_object()
    """Limits and parameters (timeout, memory, arguments, ...)."""
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = timestamp_now()
    updated_at: Mapped[datetime] = timestamp_now()

    runs: Mapped[list[ScriptRun]] = relationship(
        back_populates="script", passive_deletes=True, order_by="ScriptRun.id"
    )


class ScriptRun(Base):
    """One execution of a script."""

    __tablename__ = "script_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    script_id: Mapped[int] = mapped_column(
        ForeignKey("scripts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    """``queued``, ``running``, ``succeeded``, ``failed`` or ``timeout``."""
    trigger: Mapped[str] = mapped_column(String(16), nullable=False, default="manual")
    """``manual``, ``schedule`` or ``webhook``."""
    started_at: Mapped[datetime] = timestamp_now()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    result: Mapped[dict[str, Any]] = json_object()
    requested_by: Mapped[str | None] = mapped_column(Text)

    script: Mapped[Script] = relationship(back_populates="runs")


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


class CustomTool(Base):
    """A tool defined at run time (code run in the sandbox), versioned by ``version``."""

    __tablename__ = "custom_tools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    language: Mapped[str] = mapped_column(String(32), nullable=False)
    code: Mapped[str] = mapped_column(Text, nullable=False)
    parameters: Mapped[dict[str, Any]] = json_object()
    """JSON Schema of the tool's arguments."""
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    enabled: Mapped[bool] = flag(True)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = timestamp_now()
    updated_at: Mapped[datetime] = timestamp_now()
