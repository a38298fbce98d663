"""Importing conversations from JSONL and CSV: validation with line numbers, all-or-nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from masterai.services.importer import ImportFileError, import_conversations
from masterai.store import Database
from masterai.store.models import Company, Conversation, Message

GOOD = {
    "id": "x1",
    "company_id": "acme",
    "channel": "web",
    "resolved": True,
    "satisfaction": 4,
    "messages": [
        {"role": "user", "content": "Hi", "created_at": "2024-05-01T10:00:00Z"},
        {
            "role": "assistant",
            "content": "Hello",
            "created_at": "2024-05-01T10:00:02Z",
            "latency_ms": 2000,
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "cost_usd": 0.001,
        },
    ],
}


@pytest.fixture
def acme(database: Database) -> Database:
    with database.session() as session:
        session.add(Company(id="acme", name="Acme"))
    return database


def counts(database: Database) -> tuple[int, int]:
    with database.session() as session:
        return (
            session.scalar(sa.select(sa.func.count()).select_from(Conversation)) or 0,
            session.scalar(sa.select(sa.func.count()).select_from(Message)) or 0,
        )


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_jsonl_import_writes_conversations_with_their_messages(
    acme: Database, tmp_path: Path
) -> None:
    report = import_conversations(acme, write_jsonl(tmp_path / "c.jsonl", [GOOD]))
    assert (report.conversations, report.messages) == (1, 2)
    with acme.session() as session:
        conv = session.get(Conversation, "x1")
        assert conv is not None
        assert conv.started_at.isoformat() == "2024-05-01T10:00:00+00:00"
        assert [(m.seq, m.role) for m in conv.messages] == [(0, "user"), (1, "assistant")]


def test_bad_lines_are_reported_by_number_and_nothing_is_imported(
    acme: Database, tmp_path: Path
) -> None:
    rows = [
        GOOD,
        "{not json",
        {**GOOD, "id": "x2", "satisfaction": 7},
        {**GOOD, "id": "x3", "company_id": "nope"},
        {**GOOD, "id": "x1"},
        {**GOOD, "id": "x4", "user_ref": "nul\u0000here"},
    ]
    path = write_jsonl(tmp_path / "c.jsonl", rows)
    with pytest.raises(ImportFileError) as caught:
        import_conversations(acme, path)
    lines = {b.line: b.message for b in caught.value.bad}
    assert sorted(lines) == [2, 3, 4, 5, 6]
    assert lines[6] == "contains a NUL character"
    assert "satisfaction" in lines[3] and "7" in lines[3]
    assert "unknown company 'nope'" in lines[4]
    assert "duplicate conversation id 'x1'" in lines[5]
    assert counts(acme) == (0, 0)
    report = import_conversations(acme, path, skip_bad=True)
    assert report.conversations == 1
    assert [b.line for b in report.skipped] == [2, 3, 4, 5, 6]
    assert counts(acme) == (1, 2)


def test_csv_rows_are_grouped_into_conversations(acme: Database, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text(
        "conversation_id,company_id,role,content,created_at,latency_ms,escalated,message_model\n"
        "a,acme,user,Where is it?,2024-05-01 10:00:00,,true,\n"
        "b,acme,user,Hello,2024-05-02 11:00:00,,false,\n"
        "a,acme,assistant,On its way,2024-05-01 10:00:03,3000,true,gpt-4o\n"
    )
    report = import_conversations(acme, path)
    assert (report.conversations, report.messages) == (2, 3)
    with acme.session() as session:
        a = session.get(Conversation, "a")
        assert a is not None and a.escalated is True
        assert [(m.role, m.latency_ms, m.model) for m in a.messages] == [
            ("user", None, None),
            ("assistant", 3000, "gpt-4o"),
        ]
    existing = import_conversations(acme, path, skip_bad=True)
    assert existing.conversations == 0
    assert "exists already" in existing.skipped[0].message


def test_unknown_format_and_missing_columns_are_explained(acme: Database, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot tell the format"):
        import_conversations(acme, tmp_path / "data.xlsx")
    bad = tmp_path / "bad.csv"
    bad.write_text("conversation_id,role\nx,user\n")
    with pytest.raises(ValueError, match="missing CSV column"):
        import_conversations(acme, bad)
