"""RAG on SQLite: the FTS5 keyword index over the chunks' text, with the triggers that fill it.

Before this revision the RAG store created the index on first use; ``IF NOT EXISTS`` keeps
databases where it did so as they are, and ``rebuild`` indexes chunks stored before. The
schema check (``tests/store/test_store_schema.py``) leaves the FTS5 shadow tables out.
PostgreSQL needs nothing: its ranking uses ``to_tsvector`` on the fly.

A later batch migration of ``rag_chunks`` on SQLite recreates the table and loses these
triggers: such a migration must create them again.

Revision ID: 0013
Revises: 0012
Create Date: 2027-02-03 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_CREATE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS rag_chunks_fts USING fts5(text, content='rag_chunks', "
    "content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER IF NOT EXISTS rag_chunks_ai AFTER INSERT ON rag_chunks BEGIN "
    "INSERT INTO rag_chunks_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS rag_chunks_ad AFTER DELETE ON rag_chunks BEGIN "
    "INSERT INTO rag_chunks_fts(rag_chunks_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS rag_chunks_au AFTER UPDATE OF text ON rag_chunks BEGIN "
    "INSERT INTO rag_chunks_fts(rag_chunks_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO rag_chunks_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO rag_chunks_fts(rag_chunks_fts) VALUES ('rebuild')",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _CREATE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("rag_chunks_ai", "rag_chunks_ad", "rag_chunks_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS rag_chunks_fts")
