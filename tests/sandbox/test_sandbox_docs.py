"""The examples in docs/sandbox.md run and print what the page says."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from sandbox_helpers import RUN_DIR
from typer.testing import CliRunner

from masterai.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"


def console_examples() -> list[tuple[str, str]]:
    """``(command, expected stdout)`` of each complete ``$ masterai exec`` example."""
    examples = []
    for block in re.findall(r"```console\n(.*?)```", DOC.read_text(), re.DOTALL):
        if "..." in block:
            continue  # abridged output
        for chunk in block.split("$ ")[1:]:
            command, _, expected = chunk.partition("\n")
            examples.append((command, expected))
    return examples


@pytest.fixture(autouse=True)
def _test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTERAI_SANDBOX__RUN_DIR", str(RUN_DIR))
    monkeypatch.setenv("MASTERAI_SANDBOX__CGROUP_PARENT", "masterai-sandbox-tests")


@pytest.fixture
def initialised_home(masterai_home: Path, _sqlite_template: Path) -> None:
    """A home after ``masterai init`` (the page's commands act as its local super admin)."""
    masterai_home.mkdir(parents=True)
    shutil.copyfile(_sqlite_template, masterai_home / "masterai.db")
    assert CliRunner().invoke(app, ["init"]).exit_code == 0


@pytest.mark.usefixtures("initialised_home")
@pytest.mark.parametrize(("command", "expected"), console_examples())
def test_console_example_prints_what_the_docs_show(command: str, expected: str) -> None:
    args = shlex.split(command)
    assert args[0] == "masterai"
    result = CliRunner().invoke(app, args[1:])
    assert result.stdout == expected
    status = re.search(r"exit (\d+)'?\)?$", command)
    assert result.exit_code == (int(status.group(1)) if status else 0), result.stderr


def test_python_example_runs() -> None:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert code is not None
    exec(compile(code.group(1), str(DOC), "exec"), {"__name__": "docs_example"})
