"""Custom tools on demand: versions, the local catalog, installs, the change counter.

The ``custom_tools`` table of 0001 was never written by any code; it is replaced by a header
row here, its code and schema moving to ``custom_tool_versions``.

Revision ID: 0011
Revises: 0010
Create Date: 2027-02-01 10:00:00
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
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
    op.drop_table("custom_tools")
    op.create_table(
        "custom_tools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("active_version", sa.Integer(), nullable=True),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("script_id", sa.Integer(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.ForeignKeyConstraint(
            ["script_id"],
            ["scripts.id"],
            name=op.f("fk_custom_tools_script_id_scripts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_tools")),
        sa.UniqueConstraint("name", name=op.f("uq_custom_tools_name")),
    )
    _index("custom_tools", "owner")
    op.create_table(
        "custom_tool_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tool_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=32), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        _json("parameters", "{}"),
        sa.Column("output_schema", sa.JSON(), nullable=True),
        _json("tests", "[]"),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("schedule", sa.String(length=128), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        _json("companies", "[]"),
        _json("roles", "[]"),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(length=128), nullable=False),
        _json("provenance", "{}"),
        sa.Column("test_report", sa.JSON(), nullable=True),
        sa.Column("tested_at", sa.DateTime(timezone=True), nullable=True),
        _now("created_at"),
        sa.ForeignKeyConstraint(
            ["tool_id"],
            ["custom_tools.id"],
            name=op.f("fk_custom_tool_versions_tool_id_custom_tools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_tool_versions")),
        sa.UniqueConstraint(
            "tool_id", "version", name=op.f("uq_custom_tool_versions_tool_id_version")
        ),
    )
    _index("custom_tool_versions", "tool_id")
    op.create_table(
        "custom_tool_catalog",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _json("bundle", "{}"),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("published_by", sa.String(length=128), nullable=False),
        _now("published_at"),
        sa.Column("install_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_tool_catalog")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_custom_tool_catalog_name_version")),
    )
    _index("custom_tool_catalog", "name")
    op.create_table(
        "custom_tool_installs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("installed_by", sa.String(length=128), nullable=False),
        _now("installed_at"),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_custom_tool_installs_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_tool_installs")),
        sa.UniqueConstraint(
            "name", "company_id", name=op.f("uq_custom_tool_installs_name_company_id")
        ),
    )
    _index("custom_tool_installs", "company_id")
    op.create_table(
        "custom_tool_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("generation", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_custom_tool_state")),
    )


def downgrade() -> None:
    op.drop_table("custom_tool_state")
    op.drop_table("custom_tool_installs")
    op.drop_table("custom_tool_catalog")
    op.drop_table("custom_tool_versions")
    op.drop_table("custom_tools")
    op.create_table(
        "custom_tools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=32), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        _json("parameters", "{}"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_tools")),
        sa.UniqueConstraint("name", name=op.f("uq_custom_tools_name")),
    )
