"""Audit records store the key epoch that signed them (``key_epoch``; NULL: unsigned).

Records written before this revision keep their plain SHA-256 hashes and verify as before;
the first signed record chains to the last of them and so seals them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_epoch", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("key_epoch")
