"""AI development: fine-tune jobs and model evaluations.

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-20 10:00:00
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _now(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _json(name: str, default: str) -> sa.Column[object]:
    return sa.Column(name, sa.JSON(), server_default=sa.text(f"'{default}'"), nullable=False)


def _index(table: str, *columns: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{table}_{'_'.join(columns)}"), list(columns))


def upgrade() -> None:
    op.create_table(
        "fine_tune_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_job_id", sa.String(length=128), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=True),
        sa.Column("base_model", sa.Text(), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("validation_dataset", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("fine_tuned_model", sa.Text(), nullable=True),
        _json("hyperparameters", "{}"),
        sa.Column("suffix", sa.String(length=64), nullable=True),
        sa.Column("trained_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _json("events", "[]"),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fine_tune_jobs")),
        sa.UniqueConstraint(
            "provider", "provider_job_id", name=op.f("uq_fine_tune_jobs_provider_provider_job_id")
        ),
    )
    _index("fine_tune_jobs", "company_id")
    _index("fine_tune_jobs", "status")
    op.create_table(
        "model_evaluations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("test_set", sa.String(length=512), nullable=False),
        sa.Column("test_set_version", sa.String(length=64), nullable=False),
        _json("metrics", "{}"),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        _now("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_evaluations")),
        sa.UniqueConstraint(
            "model",
            "test_set",
            "test_set_version",
            name=op.f("uq_model_evaluations_model_test_set_test_set_version"),
        ),
    )
    _index("model_evaluations", "test_set")


def downgrade() -> None:
    op.drop_table("model_evaluations")
    op.drop_table("fine_tune_jobs")
