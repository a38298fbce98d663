"""The CLI root: help, one-line errors, generated reference without drift."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from masterai.cli import app
from masterai.cli.common import RootGroup, fail
from masterai.cli.reference import render_reference

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]


def test_help_lists_every_command_group() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("start", "tool", "docs"):
        assert name in result.output


def test_cli_error_is_one_line_on_stderr_with_exit_code() -> None:
    demo = typer.Typer(cls=RootGroup)

    @demo.command()
    def boom(code: int = 3) -> None:
        fail(f"no such company: {'acme'!r}", exit_code=code)

    @demo.command()
    def other() -> None:
        """Second command so that ``boom`` is addressed by name."""

    result = runner.invoke(demo, ["boom", "--code", "4"])
    assert result.exit_code == 4
    assert result.stderr.strip() == "error: no such company: 'acme'"
    assert result.stdout == ""


def test_docs_cli_md_matches_the_commands() -> None:
    committed = (REPO / "docs" / "cli.md").read_text()
    assert committed == render_reference(app), (
        "docs/cli.md is out of date: run `masterai docs cli > docs/cli.md`"
    )


def test_a_bug_in_a_command_is_one_error_line_not_a_traceback(
    masterai_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from masterai.app import Platform

    def broken(*_: object) -> None:
        raise RuntimeError("the wiring is wrong")

    assert runner.invoke(app, ["init"]).exit_code == 0
    monkeypatch.setattr(Platform, "call_sync", broken)
    result = runner.invoke(app, ["tool", "run", "clock", "--args", '{"operation": "get_time"}'])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: internal error: RuntimeError: the wiring is wrong "
        "(MASTERAI_DEBUG=1 shows the traceback)\n"
    )
