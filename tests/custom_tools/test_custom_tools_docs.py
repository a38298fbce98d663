"""The console example of docs/custom-tools.md runs as written, and says what the doc says."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from masterai.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "custom-tools.md"
runner = CliRunner()


def commands() -> list[list[str]]:
    lines = re.findall(r"^\$ masterai (.+)$", DOC.read_text(), flags=re.MULTILINE)
    return [shlex.split(line) for line in lines]


def test_the_documented_commands_create_test_activate_call_export_and_publish(
    masterai_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    definition = re.search(r"```json\n(.+?)```", DOC.read_text(), flags=re.DOTALL)
    assert definition is not None
    (tmp_path / "shout.json").write_text(definition.group(1))
    assert runner.invoke(app, ["init"]).exit_code == 0
    outcomes = {}
    for argv in commands():
        result = runner.invoke(app, argv)
        outcomes[" ".join(argv[:2])] = (result.exit_code, result.stdout)

    assert all(code == 0 for code, _ in outcomes.values()), outcomes
    assert "version 1 as a draft" in outcomes["custom-tools create"][1]
    assert "1 passed, all passed" in outcomes["custom-tools test"][1]
    assert json.loads(outcomes["tool run"][1])["data"]["result"] == {"text": "HELLO"}
    bundle = json.loads((tmp_path / "shout.bundle.json").read_text())
    assert bundle["manifest"]["name"] == "shout"
    assert "Published 'shout' version 1" in outcomes["catalog publish"][1]
    assert "shout" in outcomes["catalog search"][1]
    assert "active" in outcomes["custom-tools list"][1]


def test_an_unreadable_definition_file_is_one_clear_error(
    masterai_home: Path, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    (tmp_path / "bad.json").write_text("{not json")

    result = runner.invoke(app, ["custom-tools", "create", str(tmp_path / "bad.json")])

    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "bad.json" in result.output
