"""Scripts and their versions, schedules, the run ledger, the scheduler lease, test suites.

The run ledger (``script_runs``) is the truth about every execution: a job queue only ever
carries run ids. A scheduled run is keyed by ``(schedule_id, scheduled_for)``, unique, so a
tick is recorded (and run) at most once whatever the number of schedulers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from masterai.store.models.base import Base, UTCDateTime, flag, json_object, timestamp_now


def json_list() -> Any:
    """A NOT NULL JSON column defaulting to ``[]``."""
    return mapped_column(JSON, nullable=False, default=list, server_default=text("'[]'"))


class Script(Base):
    """A saved program; its code lives in versions (:class:`ScriptVersion`)."""

    __tablename__ = "scripts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(128), nullable=False, index=True)
    """The user whose permissions (as they are at run time) every run uses."""
    company_id: Mapped[str | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    enabled: Mapped[bool] = flag(True)
    current_version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[datetime] = timestamp_now()
    updated_at: Mapped[datetime] = timestamp_now()


class ScriptVersion(Base):
    """One version of a script's code, language, parameter schema and limits (kept forever)."""

    __tablename__ = "script_versions"
    __table_args__ = (UniqueConstraint("script_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    script_id: Mapped[int] = mapped_column(
        ForeignKey("scripts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    language: Mapped[str] = mapped_column(String(32), nullable=False)
    code: Mapped[str] = mapped_column(Text, nullable=False)
    parameters: Mapped[dict[str, Any]] = json_object()
    """JSON Schema (2020-12) the run parameters must satisfy (``{}``: anything)."""
    limits: Mapped[dict[str, Any]] = json_object()
    """``timeout`` (seconds) and ``memory`` of each run, when set."""
    author: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = timestamp_now()


class ScriptSchedule(Base):
    """When a script runs by itself: a cron expression in an IANA time zone."""

    __tablename__ = "script_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    script_id: Mapped[int] = mapped_column(
        ForeignKey("scripts.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    cron: Mapped[str] = mapped_column(String(128), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="UTC")
    enabled: Mapped[bool] = flag(True)
    catchup: Mapped[str] = mapped_column(String(16), nullable=False, default="latest")
    """``none``, ``latest`` or ``all`` (see :class:`masterai.services.scripts.CatchUp`)."""
    max_catchup: Mapped[int] = mapped_column(Integer, nullable=False, default=10)
    misfire_grace_s: Mapped[float] = mapped_column(Float, nullable=False, default=300.0)
    concurrency: Mapped[str] = mapped_column(String(16), nullable=False, default="forbid")
    """``allow``, ``forbid`` or ``replace``."""
    checked_until: Mapped[datetime] = timestamp_now()
    """Ticks up to this instant have been dispatched (or deliberately skipped)."""
    created_at: Mapped[datetime] = timestamp_now()


class ScriptRun(Base):
    """One execution of a script: who, why, which version, what came out."""

    __tablename__ = "script_runs"
    __table_args__ = (
        UniqueConstraint("schedule_id", "scheduled_for"),
        Index(None, "script_id", "id"),
        Index(None, "status", "heartbeat_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    script_id: Mapped[int] = mapped_column(
        ForeignKey("scripts.id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    trigger: Mapped[str] = mapped_column(String(16), nullable=False)
    """``manual``, ``schedule`` or ``api``."""
    requested_by: Mapped[str] = mapped_column(String(128), nullable=False)
    """Who asked for the run (the owner for a scheduled one)."""
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("script_schedules.id", ondelete="SET NULL")
    )
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    params: Mapped[dict[str, Any]] = json_object()
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    """See :class:`masterai.services.scripts.RunStatus`."""
    queued_at: Mapped[datetime] = timestamp_now()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """Refreshed while a worker runs it; a stale one means the worker died."""
    worker: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[list[dict[str, Any]]] = json_list()
    """Every attempt: worker, start, end, outcome (``lost`` when its worker died)."""
    cancel_requested: Mapped[bool] = flag()
    exit_code: Mapped[int | None] = mapped_column(Integer)
    stdout: Mapped[str | None] = mapped_column(Text)
    stderr: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    artifacts: Mapped[list[str]] = json_list()
    """Workspace paths of the files the run wrote."""
    result: Mapped[dict[str, Any]] = json_object()


class SchedulerLease(Base):
    """The lock row of the scheduler: one holder until ``expires_at``."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class TestSuite(Base):
    """A company's versioned test suite (cases for ``test_configuration``)."""

    __tablename__ = "test_suites"
    __table_args__ = (UniqueConstraint("company_id", "version"),)
    __test__ = False  # not a pytest class

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    cases: Mapped[list[dict[str, Any]]] = json_list()
    sources: Mapped[list[str]] = json_list()
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = timestamp_now()


class TestReport(Base):
    """One run of a suite against a company's active configuration."""

    __tablename__ = "test_reports"
    __table_args__ = (Index(None, "company_id", "id"),)
    __test__ = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), nullable=False
    )
    suite_version: Mapped[int] = mapped_column(Integer, nullable=False)
    config_version: Mapped[int] = mapped_column(Integer, nullable=False)
    passed: Mapped[int] = mapped_column(Integer, nullable=False)
    failed: Mapped[int] = mapped_column(Integer, nullable=False)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    cases: Mapped[list[dict[str, Any]]] = json_list()
    """Each case: name, passed, failures."""
    diff: Mapped[dict[str, Any]] = json_object()
    """Against the previous report: newly failing, newly passing, added, removed."""
    run_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = timestamp_now()
