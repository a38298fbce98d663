"""A large copy is built in a new file straight from the store's bulk read, then swapped in."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from services_data import copy_tables, table_rows

from masterai.services.analytics import AnalyticsService
from masterai.services.analytics import copy as copy_module
from masterai.services.analytics.bulk import BulkReadError
from masterai.settings import Settings
from masterai.store import Database
from masterai.store.models import Conversation, Message


def copy_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_a_copy_built_in_a_new_file_equals_one_built_in_place(
    loaded: Database, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_place = AnalyticsService(loaded, settings, copy_dir=tmp_path / "in-place")
    assert in_place.refresh().rebuilt
    monkeypatch.setattr(copy_module, "_BULK_ROWS", 3)  # a dozen messages count as large
    built = AnalyticsService(loaded, settings, copy_dir=tmp_path / "built")
    report = built.refresh()
    assert (report.rebuilt, report.conversations_reloaded, report.messages_added) == (
        True,
        True,
        12,
    )
    assert copy_tables(built) == copy_tables(in_place)
    assert built.refresh().messages_added == 0  # the new file recorded its fingerprint
    assert built.copy.path is not None
    assert copy_files(tmp_path / "built") == [built.copy.path.name]


def test_a_failed_build_leaves_the_old_copy_and_no_half_written_file(
    analytics: AnalyticsService, loaded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(copy_module, "_BULK_ROWS", 3)
    analytics.refresh()
    before = copy_tables(analytics)
    with loaded.session() as session:  # a conversation disappears: the copy is rebuilt
        session.execute(sa.delete(Message).where(Message.conversation_id == "g2"))
        session.execute(sa.delete(Conversation).where(Conversation.id == "g2"))
    # The statement after the bulk read fails, in the export process (SQLite) or here.
    monkeypatch.setattr(copy_module, "_STATS", "SELECT error('stats failed {where}')")
    with pytest.raises(BulkReadError, match=r"failed: .*stats failed TRUE"):
        analytics.refresh()
    path = analytics.copy.path
    assert path is not None
    assert copy_files(path.parent) == [path.name]
    with duckdb.connect(str(path), read_only=True) as con:
        assert table_rows(con) == before
    monkeypatch.undo()
    monkeypatch.setattr(copy_module, "_BULK_ROWS", 3)
    assert analytics.refresh().rebuilt
    ids = [row[0] for row in copy_tables(analytics)["conversations"]]
    assert "g2" not in ids and len(ids) == len(before["conversations"]) - 1


def test_a_new_file_from_sqlite_keeps_nulls_and_converts_offsets_to_utc(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    database.upgrade()
    with database.engine.begin() as conn:  # written by other means than the platform
        conn.exec_driver_sql("INSERT INTO companies (id, name) VALUES ('acme', 'Acme')")
        conn.exec_driver_sql(
            "INSERT INTO conversations (id, company_id, started_at, ended_at, channel) "
            "VALUES ('x', 'acme', '2024-05-01T12:00:00+02:00', NULL, NULL)"
        )
        conn.exec_driver_sql(
            "INSERT INTO messages (conversation_id, seq, role, content, created_at, "
            "latency_ms, model, error) VALUES "
            "('x', 0, 'user', 'hi', '2024-05-01 10:00:00.250000', NULL, NULL, NULL), "
            "('x', 1, 'assistant', 'hello', '2024-05-01T10:00:01-01:30', 900, 'm', 'boom')"
        )
    monkeypatch.setattr(copy_module, "_BULK_ROWS", 0)
    service = AnalyticsService(database, settings, copy_dir=tmp_path / "copy")
    assert service.refresh().rebuilt
    with service.copy.connect() as con:
        conversation = con.execute(
            "SELECT started_at, ended_at, channel, company_id FROM conversations"
        ).fetchone()
        messages = con.execute(
            "SELECT created_at, latency_ms, model, error, company_id FROM messages ORDER BY seq"
        ).fetchall()
    assert conversation is not None
    assert [str(v) if v is not None else None for v in conversation] == [
        "2024-05-01 10:00:00",
        None,
        None,
        "acme",
    ]
    assert [(str(m[0]), *m[1:]) for m in messages] == [
        ("2024-05-01 10:00:00.250000", None, None, None, "acme"),
        ("2024-05-01 11:30:01", 900, "m", "boom", "acme"),
    ]
    database.dispose()
