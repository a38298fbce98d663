"""The examples in docs/workspace.md run as written and print what the page shows."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from masterai.cli import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "workspace.md"
EXIT_BY_STATUS = {"invalid": 2, "denied": 3, "failed": 1}
AUDIT_ID = re.compile(r"\(audit record \d+\)")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def tour() -> list[tuple[str, str]]:
    """Each ``$ masterai ...`` line of the console example with the output shown under it."""
    (block,) = blocks("console")
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return [(command, "\n".join(output)) for command, output in steps]


def test_the_console_example_prints_what_the_page_shows(masterai_home: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    steps = tour()
    assert len(steps) >= 15
    for command, shown in steps:
        result = runner.invoke(app, shlex.split(command)[1:])
        printed = (result.stdout + result.stderr).strip()
        status = re.match(r"error: (\w+):", shown)
        assert result.exit_code == (EXIT_BY_STATUS[status.group(1)] if status else 0), command
        # audit record ids depend on how many records `init` writes: compare without them
        assert AUDIT_ID.sub("(audit record N)", printed) == AUDIT_ID.sub(
            "(audit record N)", shown
        ), command


def test_the_python_example_prints_what_the_page_shows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = blocks("python")[0]
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
    assert capsys.readouterr().out == blocks("text")[0]
