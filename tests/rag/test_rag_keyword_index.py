"""PostgreSQL's keyword search reads the stored vectors and GIN index of migration 0015."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rag_support import acting, aidev, docs, platform_over, result_of

from masterai.services.rag import store as rag_store
from masterai.store import Database

INDEX = "ix_rag_chunks_text_tsv"
SHIPPING = 1000


def last_analyze(database: Database) -> Any:
    with database.engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'rag_chunks'")
        ).scalar_one()


@pytest.fixture
def postgres(database: Database) -> Database:
    if database.dialect != "postgresql":
        pytest.skip("the GIN index is PostgreSQL's (SQLite has its FTS5 table)")
    return database


async def test_the_keyword_search_uses_the_gin_index(
    postgres: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rag_store, "ANALYZE_AFTER", SHIPPING)
    with postgres.engine.connect() as conn:
        definition = conn.execute(
            sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": INDEX}
        ).scalar_one()
    assert "USING gin (text_tsv) WITH (fastupdate=off)" in definition

    seen: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "ts_rank_cd" in statement:
            seen.append((statement, parameters))

    analyzed_before = last_analyze(postgres)
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
        # A large write refreshes the planner's statistics of the table.
        assert last_analyze(postgres) not in (None, analyzed_before)
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
    # One chunk of the collection's matches: the index finds it without reading the others,
    # and it is ranked on its stored vector (sequential scans are off so that the table's
    # small size does not decide).
    raw = postgres.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, parameters)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    finally:
        raw.close()
    assert INDEX in plan and "to_tsvector" not in plan, plan
