"""``masterai rag``: progress of ``update``, refusal of unreadable input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from masterai.cli import app

runner = CliRunner()


@pytest.fixture
def home(masterai_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for argv in (["init"], ["demo", "seed", "--companies", "1", "--conversations", "10"]):
        assert runner.invoke(app, argv).exit_code == 0
    lines = [json.dumps({"id": f"d{i}", "text": f"document number {i}"}) for i in range(3)]
    (tmp_path / "docs.jsonl").write_text("\n".join(lines))
    result = runner.invoke(app, ["rag", "index", "acme-retail", "--documents", "docs.jsonl"])
    assert result.exit_code == 0, result.stdout
    return masterai_home


def test_update_prints_progress_after_each_batch(home: Path) -> None:
    argv = ["rag", "update", "acme-retail", "--model", "local:hashing-v1/64", "--batch", "1"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines() == [
        "re-embedded 1 chunks, 2 remaining",
        "re-embedded 2 chunks, 1 remaining",
        "acme-retail/default uses local:hashing-v1/64 (3 chunks re-embedded this run)",
    ]


def test_update_with_conversations_adds_the_seeded_ones_once(home: Path) -> None:
    argv = ["rag", "update", "acme-retail", "--conversations"]
    first = runner.invoke(app, argv)
    again = runner.invoke(app, argv)
    assert first.exit_code == 0, first.stdout
    assert first.stdout.splitlines()[-1] == "10 new conversation(s) indexed, 0 already there"
    assert again.stdout.splitlines()[-1] == "0 new conversation(s) indexed, 10 already there"


def test_search_json_lists_hits_with_document_ids(home: Path) -> None:
    result = runner.invoke(app, ["rag", "search", "acme-retail", "number 2", "--json"])
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["hits"][0]["id"] == "d2"


def test_an_unreadable_documents_file_is_refused_with_exit_2(home: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.jsonl").write_text("{not json")
    result = runner.invoke(app, ["rag", "index", "acme-retail", "--documents", "bad.jsonl"])
    assert result.exit_code == 2
    assert "invalid" in result.stderr and "bad.jsonl" in result.stderr
