"""RAG on PostgreSQL: a GIN index over the chunks' ``to_tsvector('english', text)``.

The keyword search (``RagStore.keyword_ranking``) matches ``to_tsvector('english'::regconfig,
text) @@ query``; with this index on the same expression PostgreSQL finds the matching chunks
in the index instead of computing every chunk's vector on each search, and ranks only those.
The expression must stay exactly the search's for the planner to use it. SQLite has its FTS5
table (revision 0013). The schema check leaves this index out: the models cannot declare an
expression index on one dialect only.

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

INDEX = "ix_rag_chunks_text_tsvector"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON rag_chunks "
            "USING gin (to_tsvector('english'::regconfig, text))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")
