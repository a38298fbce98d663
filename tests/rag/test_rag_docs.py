"""The examples of docs/rag.md run as written and print what the doc shows."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from masterai.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "rag.md"
runner = CliRunner()


def _block(language: str) -> str:
    found = re.search(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert found is not None
    return found.group(1)


def _console() -> list[tuple[list[str], str]]:
    """``(argv, expected output)`` of each ``$ masterai`` line of the console block."""
    pairs: list[tuple[list[str], str]] = []
    for line in _block("console").splitlines():
        if line.startswith("$ masterai "):
            pairs.append((shlex.split(line[len("$ masterai ") :]), ""))
        else:
            argv, expected = pairs[-1]
            pairs[-1] = (argv, (expected + "\n" + line).strip())
    return pairs


@pytest.fixture
def seeded(masterai_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "faq.jsonl").write_text(_block("json"))
    for argv in (["init"], ["demo", "seed", "--companies", "1", "--conversations", "10"]):
        result = runner.invoke(app, argv)
        assert result.exit_code == 0, result.stdout
    return masterai_home


def test_every_console_example_prints_what_the_doc_shows(seeded: Path) -> None:
    pairs = _console()
    assert len(pairs) == 5
    for argv, expected in pairs:
        result = runner.invoke(app, argv)
        assert result.exit_code == 0, (argv, result.stdout, result.stderr)
        pattern = re.escape(expected).replace(re.escape("..."), ".*")
        assert re.fullmatch(pattern, result.stdout.strip()), (argv, result.stdout)


def test_the_python_example_finds_the_english_gift_card_answer(seeded: Path) -> None:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(_block("python"), str(DOC), "exec"), {})
    assert printed.getvalue().strip() == "gift"
