"""Scripts: versions, schedules, the run ledger, the scheduler lease, test suites and reports.

The placeholder ``scripts`` and ``script_runs`` tables of 0001 were never written to; they are
replaced by the shapes the scripts service needs.

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-16 10:00:00
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _now(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _when(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def _json(name: str, default: str) -> sa.Column[object]:
    return sa.Column(name, sa.JSON(), server_default=sa.text(f"'{default}'"), nullable=False)


def _index(table: str, *columns: str, unique: bool = False) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f(f"ix_{table}_{'_'.join(columns)}"), list(columns), unique=unique
        )


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.drop_table("script_runs")
    op.drop_table("scripts")
    op.create_table(
        "scripts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        _fk("scripts", "company_id", "companies", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scripts")),
        sa.UniqueConstraint("name", name=op.f("uq_scripts_name")),
    )
    _index("scripts", "owner")
    _index("scripts", "company_id")
    op.create_table(
        "script_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("script_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=32), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        _json("parameters", "{}"),
        _json("limits", "{}"),
        sa.Column("author", sa.String(length=128), nullable=True),
        _now("created_at"),
        _fk("script_versions", "script_id", "scripts", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_script_versions")),
        sa.UniqueConstraint(
            "script_id", "version", name=op.f("uq_script_versions_script_id_version")
        ),
    )
    _index("script_versions", "script_id")
    op.create_table(
        "script_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("script_id", sa.Integer(), nullable=False),
        sa.Column("cron", sa.String(length=128), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("catchup", sa.String(length=16), nullable=False),
        sa.Column("max_catchup", sa.Integer(), nullable=False),
        sa.Column("misfire_grace_s", sa.Float(), nullable=False),
        sa.Column("concurrency", sa.String(length=16), nullable=False),
        _now("checked_until"),
        _now("created_at"),
        _fk("script_schedules", "script_id", "scripts", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_script_schedules")),
        sa.UniqueConstraint("script_id", name=op.f("uq_script_schedules_script_id")),
    )
    op.create_table(
        "script_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("script_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        _when("scheduled_for"),
        _json("params", "{}"),
        sa.Column("status", sa.String(length=16), nullable=False),
        _now("queued_at"),
        _when("started_at"),
        _when("finished_at"),
        _when("heartbeat_at"),
        sa.Column("worker", sa.String(length=128), nullable=True),
        _json("attempts", "[]"),
        sa.Column("cancel_requested", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("stdout", sa.Text(), nullable=True),
        sa.Column("stderr", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _json("artifacts", "[]"),
        _json("result", "{}"),
        _fk("script_runs", "script_id", "scripts", "CASCADE"),
        _fk("script_runs", "schedule_id", "script_schedules", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_script_runs")),
        sa.UniqueConstraint(
            "schedule_id", "scheduled_for", name=op.f("uq_script_runs_schedule_id_scheduled_for")
        ),
    )
    _index("script_runs", "script_id", "id")
    _index("script_runs", "status", "heartbeat_at")
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )
    op.create_table(
        "test_suites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _json("cases", "[]"),
        _json("sources", "[]"),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        _now("created_at"),
        _fk("test_suites", "company_id", "companies", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_suites")),
        sa.UniqueConstraint(
            "company_id", "version", name=op.f("uq_test_suites_company_id_version")
        ),
    )
    op.create_table(
        "test_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("suite_version", sa.Integer(), nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        _json("cases", "[]"),
        _json("diff", "{}"),
        sa.Column("run_by", sa.String(length=128), nullable=True),
        _now("created_at"),
        _fk("test_reports", "company_id", "companies", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_reports")),
    )
    _index("test_reports", "company_id", "id")


def downgrade() -> None:
    for table in (
        "test_reports",
        "test_suites",
        "scheduler_leases",
        "script_runs",
        "script_schedules",
        "script_versions",
        "scripts",
    ):
        op.drop_table(table)
