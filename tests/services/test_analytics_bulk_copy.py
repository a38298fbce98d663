"""The analytics copy read in bulk (ADBC) and refreshed by watermark equals a full rebuild."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa
from services_data import at, copy_tables, msg

from masterai.services.analytics import AnalyticsService
from masterai.services.analytics import copy as copy_module
from masterai.services.analytics.bulk import BulkReadError, bulk_sources
from masterai.services.analytics.copy import AnalyticsCopy
from masterai.services.errors import InvalidInputError
from masterai.settings import Settings
from masterai.store import Database
from masterai.store.models import Conversation, Message


def answers(service: AnalyticsService) -> dict[str, Any]:
    """What the analytics tools would answer over every company."""
    scope = service.scope()
    return {
        "conversations": service.analyze_conversations(scope).to_dict(),
        "failures": service.identify_failures(scope, slow_ms=1500).to_dict(),
        "satisfaction": service.measure_satisfaction(scope).to_dict(),
        "costs": service.analyze_costs(scope).to_dict(),
    }


def add_conversation(database: Database, cid: str, day: int, *, turns: int = 2) -> None:
    start = at(day, 9)
    messages = []
    for i in range(turns):
        messages.append(msg(2 * i, "user", f"question {i}", start + timedelta(minutes=2 * i)))
        messages.append(
            msg(
                2 * i + 1,
                "assistant",
                f"answer {i}",
                start + timedelta(minutes=2 * i + 1),
                latency_ms=700 + 400 * i,
                prompt_tokens=90,
                completion_tokens=30,
                cost_usd=0.0004,
                model="gpt-4o-mini",
                error="timeout" if i == 1 else None,
            )
        )
    with database.session() as session:
        session.add(Conversation(id=cid, company_id="globex", started_at=start, messages=messages))


def test_incremental_refresh_equals_a_full_rebuild_and_answers_match(
    analytics: AnalyticsService,
    loaded: Database,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert analytics.refresh().rebuilt
    add_conversation(loaded, "n1", 6)
    small = analytics.refresh()  # a small append: read through the store's driver
    assert (small.rebuilt, small.messages_added) == (False, 4)
    # A large append is read in bulk: lower the threshold so a few rows count as large.
    monkeypatch.setattr(copy_module, "_BULK_ROWS", 3)
    add_conversation(loaded, "n2", 7, turns=3)
    with loaded.session() as session:  # an outcome changes on an existing conversation
        session.execute(
            sa.update(Conversation)
            .where(Conversation.id == "c1")
            .values(escalated=True, satisfaction=2, ended_at=at(1, 11))
        )
    large = analytics.refresh()
    assert (large.rebuilt, large.conversations_reloaded, large.messages_added) == (
        False,
        True,
        6,
    )

    rebuilt = AnalyticsService(loaded, settings, copy_dir=tmp_path / "fresh")
    assert rebuilt.refresh().rebuilt
    assert copy_tables(analytics) == copy_tables(rebuilt)
    assert answers(analytics) == answers(rebuilt)
    conversations = answers(rebuilt)["conversations"]
    assert conversations["conversations"] == 7


def test_bulk_copy_keeps_types_nulls_and_utc_times(
    analytics: AnalyticsService, loaded: Database
) -> None:
    add_conversation(loaded, "n1", 6)
    analytics.refresh(rebuild=True)
    with analytics.copy.connect() as con:
        rows = con.execute(
            "SELECT seq, role, created_at, latency_ms, model, error, is_fallback, company_id "
            "FROM messages WHERE conversation_id = 'n1' ORDER BY seq"
        ).fetchall()
        conv = con.execute(
            "SELECT started_at, ended_at, channel, resolved FROM conversations WHERE id = 'n1'"
        ).fetchone()
    naive = at(6, 9).replace(tzinfo=None)
    assert rows[0] == (0, "user", naive, None, None, None, False, "globex")
    assert rows[3] == (
        3,
        "assistant",
        naive + timedelta(minutes=3),
        1100,
        "gpt-4o-mini",
        "timeout",
        False,
        "globex",
    )
    assert conv == (naive, None, None, False)


def test_sqlite_text_times_with_an_offset_are_converted_to_utc(
    tmp_path: Path, settings: Settings
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    database.upgrade()
    with database.engine.begin() as conn:  # written by other means than the platform
        conn.exec_driver_sql("INSERT INTO companies (id, name) VALUES ('acme', 'Acme')")
        conn.exec_driver_sql(
            "INSERT INTO conversations (id, company_id, started_at, ended_at) "
            "VALUES ('x', 'acme', '2024-05-01T12:00:00+02:00', '2024-05-01 12:30:00.250')"
        )
    service = AnalyticsService(database, settings, copy_dir=tmp_path / "copy")
    with service.copy.connect() as con:
        row = con.execute("SELECT started_at, ended_at FROM conversations").fetchone()
    assert row is not None
    assert [str(v) for v in row] == ["2024-05-01 10:00:00", "2024-05-01 12:30:00.250000"]
    database.dispose()


def test_sqlite_bulk_read_keeps_mostly_null_text_and_leaves_the_store_intact(
    tmp_path: Path, settings: Settings
) -> None:
    # Enough rows for the bulk read (export processes); the error column is NULL in every
    # row of the first export's batches, which the ADBC driver alone would type as integer.
    path = tmp_path / "m.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    count = 70_000
    with database.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO companies (id, name) VALUES ('acme', 'Acme')")
        conn.exec_driver_sql(
            "INSERT INTO conversations (id, company_id, started_at) "
            "VALUES ('big', 'acme', '2024-05-01 09:00:00')"
        )
        conn.exec_driver_sql(
            "INSERT INTO messages (conversation_id, seq, role, content, created_at, error) "
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?) "
            "SELECT 'big', i, 'assistant', 'text ' || i, '2024-05-01 09:00:00', "
            "CASE WHEN i >= 69000 THEN 'boom' END FROM n",
            (count,),
        )
    service = AnalyticsService(database, settings, copy_dir=tmp_path / "copy")
    report = service.refresh()
    assert (report.rebuilt, report.messages_added) == (True, count)
    with service.copy.connect() as con:
        assert con.execute(
            "SELECT count(error), min(error), count(*) FROM messages"
        ).fetchone() == (1000, "boom", count)
    # The export ran in its own process: the store's WAL and committed rows are untouched.
    with database.session() as session:
        session.execute(sa.update(Conversation).values(resolved=True))
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert other.execute("SELECT resolved FROM conversations").fetchone() == (1,)
    assert service.refresh().conversations_reloaded
    database.dispose()


def test_a_message_written_after_the_fingerprint_is_copied_once(
    analytics: AnalyticsService, loaded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    analytics.refresh()
    seen = analytics.copy.fingerprint()
    add_conversation(loaded, "n1", 6)
    # The fingerprint was taken before n1 was written, as when n1 lands during a refresh.
    monkeypatch.setattr(AnalyticsCopy, "fingerprint", lambda self: seen)
    assert analytics.refresh().messages_added == 0
    monkeypatch.undo()
    assert analytics.refresh().messages_added == 4
    with analytics.copy.connect() as con:
        total, distinct = con.execute(
            "SELECT count(*), count(DISTINCT id) FROM messages"
        ).fetchone()
    with loaded.engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(Message)).scalar_one()
    assert total == distinct == stored


def test_a_failed_bulk_read_names_the_store_and_the_cause(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    database.upgrade()
    con = duckdb.connect()
    with (
        pytest.raises(BulkReadError, match=r"m\.db failed: .*no_such_table"),
        bulk_sources(database, ["SELECT 1 AS a", "SELECT a FROM no_such_table"], con),
    ):
        pass
    memory = Database("sqlite://")
    with (
        pytest.raises(InvalidInputError, match="in-memory SQLite store"),
        bulk_sources(memory, ["SELECT 1"], con),
    ):
        pass
    database.dispose()
