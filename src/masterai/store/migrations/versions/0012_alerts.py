"""Alerts, the realtime monitor queue, monitor cursors and principal profiles.

Revision ID: 0012
Revises: 0011
Create Date: 2027-02-10 10:00:00
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _now(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _index(table: str, *columns: str, unique: bool = False) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f(f"ix_{table}_{'_'.join(columns)}"), list(columns), unique=unique
        )


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.String(length=128), nullable=True),
        sa.Column("audit_record_id", sa.Integer(), nullable=True),
        sa.Column("principal", sa.String(length=128), nullable=True),
        _now("created_at"),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    _index("alerts", "company_id", "created_at")
    _index("alerts", "source")
    _index("alerts", "severity")
    op.create_table(
        "monitor_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        _now("enqueued_at"),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_monitor_queue_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_queue")),
        sa.UniqueConstraint("message_id", name=op.f("uq_monitor_queue_message_id")),
    )
    _index("monitor_queue", "claimed_until")
    op.create_table(
        "monitor_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_monitor_cursors")),
    )
    op.create_table(
        "principal_profiles",
        sa.Column("user_name", sa.String(length=128), nullable=False),
        sa.Column("addresses", sa.JSON(), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("user_name", name=op.f("pk_principal_profiles")),
    )


def downgrade() -> None:
    op.drop_table("principal_profiles")
    op.drop_table("monitor_cursors")
    op.drop_table("monitor_queue")
    op.drop_table("alerts")
