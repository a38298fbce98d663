"""RAG on PostgreSQL: each chunk's ``to_tsvector('english', text)`` stored, with a GIN index.

The keyword search (``RagStore.keyword_ranking``) matches ``text_tsv @@ query`` and ranks
with ``ts_rank_cd(text_tsv, query)``. Before this revision it computed every chunk's vector on
each search (1.3 s at 100,000 chunks here); the index finds the matching chunks, and the
stored vector spares parsing their text again to rank them. ``text_tsv`` is a generated
column: PostgreSQL fills it on insert and update, whoever writes.

The index is updated as rows come (``fastupdate`` off). With GIN's pending list, indexing
5,000 chunks at a time slowed from 3 s to 17-39 s a batch once the table passed 70,000
chunks; updated directly, every batch took 3.3-3.5 s up to 100,000 (2.9 s without column and
index).

SQLite has its FTS5 table (revision 0013). Neither is in the models (they cannot declare a
column or index on one dialect only): the schema check leaves them out.

Revision ID: 0015
Revises: 0014
Create Date: 2027-02-17 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

COLUMN = "text_tsv"
INDEX = "ix_rag_chunks_text_tsv"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE rag_chunks ADD COLUMN IF NOT EXISTS {COLUMN} tsvector "
            "GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED"
        )
        op.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON rag_chunks USING gin ({COLUMN}) "
            "WITH (fastupdate = off)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")
        op.execute(f"ALTER TABLE rag_chunks DROP COLUMN IF EXISTS {COLUMN}")
