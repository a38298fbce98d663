"""RAG: collections, documents and embedded chunks.

The SQLite FTS5 table over the chunks' text and its triggers come with revision 0013.

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-20 10:00:00
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _now(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _index(table: str, column: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=False)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "rag_collections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        _now("created_at"),
        _now("updated_at"),
        _fk("rag_collections", "company_id", "companies"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rag_collections")),
        sa.UniqueConstraint("company_id", "name", name=op.f("uq_rag_collections_company_id_name")),
    )
    _index("rag_collections", "company_id")
    op.create_table(
        "rag_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=512), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("meta", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=True),
        _now("created_at"),
        _now("updated_at"),
        _fk("rag_documents", "collection_id", "rag_collections"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rag_documents")),
        sa.UniqueConstraint(
            "collection_id", "external_id", name=op.f("uq_rag_documents_collection_id_external_id")
        ),
    )
    _index("rag_documents", "collection_id")
    op.create_table(
        "rag_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("next_model", sa.String(length=256), nullable=True),
        sa.Column("next_embedding", sa.LargeBinary(), nullable=True),
        _fk("rag_chunks", "collection_id", "rag_collections"),
        _fk("rag_chunks", "document_id", "rag_documents"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rag_chunks")),
    )
    _index("rag_chunks", "collection_id")
    _index("rag_chunks", "document_id")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("rag_chunks_ai", "rag_chunks_ad", "rag_chunks_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS rag_chunks_fts")
    op.drop_table("rag_chunks")
    op.drop_table("rag_documents")
    op.drop_table("rag_collections")
