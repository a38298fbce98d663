"""The examples in docs/platform.md run as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from masterai.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "platform.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_python_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    (code,) = blocks("python")
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
    out = capsys.readouterr().out
    assert "'clock'" in out and "'filesystem'" in out
    assert "Permission denied" in out
    assert "4 audit records" in out


def test_every_console_example_succeeds(masterai_home: Path) -> None:
    runner = CliRunner()
    commands = [
        shlex.split(line[2:])
        for block in blocks("console")
        for line in block.splitlines()
        if line.startswith("$ masterai ")
    ]
    assert len(commands) >= 10
    for argv in commands:
        result = runner.invoke(app, argv[1:])
        assert result.exit_code == 0, (argv, result.stdout, result.stderr)
    verify = runner.invoke(app, ["audit", "verify"])
    assert "records verified" in verify.stdout
