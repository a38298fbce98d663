"""At most one active AI configuration version per company (partial unique index).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Databases written before this index could hold several active versions of a company:
    # keep the newest one active so the index can be created.
    op.execute(
        "UPDATE ai_configurations SET is_active = false WHERE is_active AND version < "
        "(SELECT MAX(newer.version) FROM ai_configurations AS newer "
        "WHERE newer.company_id = ai_configurations.company_id AND newer.is_active)"
    )
    op.create_index(
        "uq_ai_configurations_one_active",
        "ai_configurations",
        ["company_id"],
        unique=True,
        sqlite_where=sa.text("is_active"),
        postgresql_where=sa.text("is_active"),
    )


def downgrade() -> None:
    op.drop_index("uq_ai_configurations_one_active", table_name="ai_configurations")
