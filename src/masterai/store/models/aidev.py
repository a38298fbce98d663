"""Fine-tune jobs (provider-neutral) and model evaluations (one per model and test set version).

Training datasets are files in the company's workspace area (``datasets/<name>/v<N>/``), not
rows: the workspace is where users read and share them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from masterai.store.models.base import Base, UTCDateTime, json_object, timestamp_now


class FineTuneJob(Base):
    """One fine-tuning job at a provider, mirrored here with its status and events."""

    __tablename__ = "fine_tune_jobs"
    __table_args__ = (
        UniqueConstraint("provider", "provider_job_id"),
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    provider_job_id: Mapped[str] = mapped_column(String(128), nullable=False)
    company_id: Mapped[str | None] = mapped_column(String(64), index=True)
    """The company whose dataset trained it, when the dataset is in a company area."""
    base_model: Mapped[str] = mapped_column(Text, nullable=False)
    """``provider:model`` as given."""
    dataset: Mapped[str] = mapped_column(Text, nullable=False)
    validation_dataset: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    """A :class:`masterai.services.aidev.finetune.JobStatus` value."""
    fine_tuned_model: Mapped[str | None] = mapped_column(Text)
    hyperparameters: Mapped[dict[str, Any]] = json_object()
    suffix: Mapped[str | None] = mapped_column(String(64))
    trained_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    events: Mapped[list[Any]] = mapped_column(
        JSON, nullable=False, default=list, server_default=text("'[]'")
    )
    """The provider's events, oldest first: ``{created_at, level, message}``."""
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = timestamp_now()
    updated_at: Mapped[datetime] = timestamp_now()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ModelEvaluation(Base):
    """A model's results on one version of a test set (rerunning replaces them)."""

    __tablename__ = "model_evaluations"
    __table_args__ = (UniqueConstraint("model", "test_set", "test_set_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(256), nullable=False)
    test_set: Mapped[str] = mapped_column(String(512), nullable=False, index=True)
    test_set_version: Mapped[str] = mapped_column(String(64), nullable=False)
    metrics: Mapped[dict[str, Any]] = json_object()
    created_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = timestamp_now()
