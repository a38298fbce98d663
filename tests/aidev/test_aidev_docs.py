"""docs/aidev.md runs as written: the walkthrough's commands and the Python example."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, serve_fake
from typer.testing import CliRunner

from masterai.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "aidev.md"
runner = CliRunner()

# What each walkthrough command prints (searched in its output), in order.
EXPECTED = [
    r"Created super admin",
    r"Seeded 80 conversations",
    r"companies/acme-retail/datasets/support/v1: \d+ training and \d+ validation examples",
    r"fine-tune job 1 \(ftjob-1\) started on openai:gpt-4o-mini-2024-07-18: validating_files",
    r"fine-tune job 1: running",
    r"1 running openai:gpt-4o-mini-2024-07-18 companies/acme-retail/datasets/support/v1/train",
    r"scripted:answers.json on companies/acme-retail/datasets/support/v1 .*: pass rate 0%",
    r"weighted score 1.0; english: 1.0; short: 1.0",
]


def _block(language: str, after: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"{after}.*?```{language}\n(.*?)```", text, re.DOTALL)
    assert found, f"docs/aidev.md has no {language} block after {after!r}"
    return found.group(1)


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    home = tmp_path / "home"
    scripts = tmp_path / "models"
    scripts.mkdir()
    (scripts / "answers.json").write_text(json.dumps([{"text": "Let me check."}] * 100))
    monkeypatch.setenv("MASTERAI_HOME", str(home))
    monkeypatch.delenv("MASTERAI_DATABASE_URL", raising=False)
    monkeypatch.setenv("MASTERAI_LLM__SCRIPTED_DIR", str(scripts))
    monkeypatch.setenv("COLUMNS", "200")
    with serve_fake() as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-docs")
        yield fake


def test_the_walkthrough_runs_as_written(fake: FakeOpenAI) -> None:
    commands = [shlex.split(line)[1:] for line in _block("bash", "## Walkthrough").splitlines()]
    assert len(commands) == len(EXPECTED)
    for argv, pattern in zip(commands, EXPECTED, strict=True):
        result = runner.invoke(app, argv)
        assert result.exit_code == 0, (argv, result.stdout, result.stderr)
        assert re.search(pattern, result.stdout), (argv, result.stdout)
    assert fake.created[0]["suffix"] == "acme"


def test_the_python_example_prints_the_weighted_score(fake: FakeOpenAI) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(_block("python", "## From Python"), str(DOC), "exec"), {})
    assert output.getvalue() == "0.6667\n"
