"""The console examples of docs/scripts.md run as written (a demo company, no model needed)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from masterai.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "scripts.md"
runner = CliRunner()


def commands() -> list[list[str]]:
    lines = re.findall(r"^\$ masterai (.+)$", DOC.read_text(), flags=re.MULTILINE)
    return [shlex.split(line) for line in lines]


def test_every_documented_command_does_what_the_doc_says(
    masterai_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The receiver is not reached here: deliveries wait in the outbox.
    for argv in (["init"], ["demo", "seed", "--companies", "1", "--conversations", "60"]):
        assert runner.invoke(app, argv).exit_code == 0
    outcomes = {}
    for argv in commands():
        result = runner.invoke(app, argv)
        outcomes[" ".join(argv[:2])] = (result.exit_code, result.stdout)

    assert (
        outcomes["tests generate"][0] == 0
        and "Saved test suite v1" in outcomes["tests generate"][1]
    )
    assert outcomes["scripts add"][0] == 0 and "Europe/Paris" in outcomes["scripts add"][1]
    assert outcomes["scripts run"][0] == 0 and "nightly checks" in outcomes["scripts run"][1]
    assert "succeeded" in outcomes["scripts runs"][1]
    # No model key is configured here: the suite cannot run, and the command says so.
    assert outcomes["tests run"][0] != 0
    assert outcomes["tool run"][0] == 0
    listed = runner.invoke(app, ["scripts", "list", "--json"])
    names = [s["name"] for s in json.loads(listed.stdout)]
    assert names == ["nightly-ai-tests", "nightly-suite"]
