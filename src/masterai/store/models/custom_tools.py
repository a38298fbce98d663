"""Custom tools built on demand: the tools, their versions, the local catalog and its installs.

A tool's code, schema, tests, trigger and scope live in versions (kept forever); the tool row
says which version is active. ``custom_tool_state`` holds one counter that every change of
what is active bumps, so each server process can tell cheaply when to reload its registry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from masterai.store.models.base import Base, UTCDateTime, counter, json_object, timestamp_now
from masterai.store.models.scripts import json_list


class CustomTool(Base):
    """A tool defined at run time; its code lives in versions (:class:`CustomToolVersion`)."""

    __tablename__ = "custom_tools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    owner: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    """Who created it (or imported or installed it); scheduled and realtime runs act as them."""
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    """See :class:`masterai.services.custom_tools.ToolStatus`."""
    active_version: Mapped[int | None] = mapped_column(Integer)
    latest_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    origin: Mapped[str] = mapped_column(String(16), nullable=False, default="created")
    """``created``, ``imported`` (from a bundle) or ``catalog`` (installed)."""
    script_id: Mapped[int | None] = mapped_column(ForeignKey("scripts.id", ondelete="SET NULL"))
    """The script that carries the schedule of a tool with trigger ``schedule``."""
    created_at: Mapped[datetime] = timestamp_now()
    updated_at: Mapped[datetime] = timestamp_now()


class CustomToolVersion(Base):
    """One version of a custom tool: code, schemas, tests, trigger, scope, last test report."""

    __tablename__ = "custom_tool_versions"
    __table_args__ = (UniqueConstraint("tool_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tool_id: Mapped[int] = mapped_column(
        ForeignKey("custom_tools.id", ondelete="CASCADE"), nullable=False, index=True
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    language: Mapped[str] = mapped_column(String(32), nullable=False)
    code: Mapped[str] = mapped_column(Text, nullable=False)
    parameters: Mapped[dict[str, Any]] = json_object()
    """JSON Schema (2020-12) of the arguments."""
    output_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """JSON Schema every result must satisfy (``None``: any JSON value)."""
    tests: Mapped[list[dict[str, Any]]] = json_list()
    """Cases: ``arguments`` and ``expected`` (or ``assert``: a JSON Schema of the result)."""
    trigger: Mapped[str] = mapped_column(String(16), nullable=False, default="manual")
    """``manual``, ``schedule`` or ``realtime``."""
    schedule: Mapped[str | None] = mapped_column(String(128))
    """Cron expression of a ``schedule`` trigger."""
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    companies: Mapped[list[str]] = json_list()
    """Companies the tool serves (realtime runs, scope); ``[]``: none in particular."""
    roles: Mapped[list[str]] = json_list()
    """Roles whose members may call it besides the owner (``[]``: the owner only)."""
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    """SHA-256 of the canonical definition (what a bundle's hash covers)."""
    author: Mapped[str] = mapped_column(String(128), nullable=False)
    provenance: Mapped[dict[str, Any]] = json_object()
    """Where an imported version came from: bundle author, instance, signature."""
    test_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The last ``test_custom_tool`` run of this version: passed, failed, cases."""
    tested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = timestamp_now()


class CatalogEntry(Base):
    """A published version of a custom tool in the local catalog (its bundle, frozen)."""

    __tablename__ = "custom_tool_catalog"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    bundle: Mapped[dict[str, Any]] = json_object()
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    published_by: Mapped[str] = mapped_column(String(128), nullable=False)
    published_at: Mapped[datetime] = timestamp_now()
    install_count: Mapped[int] = counter()


class CatalogInstall(Base):
    """Which company runs which catalog version (one row per company and tool name)."""

    __tablename__ = "custom_tool_installs"
    __table_args__ = (UniqueConstraint("name", "company_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), nullable=False, index=True
    )
    installed_by: Mapped[str] = mapped_column(String(128), nullable=False)
    installed_at: Mapped[datetime] = timestamp_now()


class CustomToolState(Base):
    """One counter row: bumped whenever the set of active custom tools changes."""

    __tablename__ = "custom_tool_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    generation: Mapped[int] = counter()
