"""PostgreSQL's keyword search reads the GIN index of migration 0015, not every chunk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rag_support import acting, aidev, docs, platform_over, result_of

from masterai.store import Database

INDEX = "ix_rag_chunks_text_tsvector"
SHIPPING = 1000


@pytest.fixture
def postgres(database: Database) -> Database:
    if database.dialect != "postgresql":
        pytest.skip("the GIN index is PostgreSQL's (SQLite has its FTS5 table)")
    return database


async def test_the_keyword_search_uses_the_gin_index(postgres: Database, tmp_path: Path) -> None:
    with postgres.engine.connect() as conn:
        definition = conn.execute(
            sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": INDEX}
        ).scalar_one()
    assert "USING gin (to_tsvector('english'::regconfig, text))" in definition

    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "ts_rank_cd" in statement:
            seen.append((statement, parameters))

    with platform_over(postgres, tmp_path) as p:
        alice = acting(p, "alice")
        result_of(
            await aidev(
                p,
                alice,
                "index_documents",
                company_id="acme",
                documents=docs(
                    ("refunds", "Refunds reach your card within five business days."),
                    *[
                        (f"shipping-{i}", f"Parcels ship from warehouse {i} daily.")
                        for i in range(SHIPPING)
                    ],
                ),
            )
        )
        with postgres.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE rag_chunks"))
        sa.event.listen(postgres.engine, "before_cursor_execute", capture)
        try:
            hits = result_of(
                await aidev(
                    p, alice, "search_similar", company_id="acme", query="refund", mode="keyword"
                )
            )["hits"]
        finally:
            sa.event.remove(postgres.engine, "before_cursor_execute", capture)
    assert [h["id"] for h in hits] == ["refunds"]
    assert len(seen) == 1
    statement, parameters = seen[0]
    # One chunk of the collection's matches: the index on the query's expression finds it
    # without reading the others (sequential scans are off so that the table's size does not
    # decide).
    raw = postgres.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, parameters)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    finally:
        raw.close()
    assert INDEX in plan, plan
