"""``masterai start``: first run sets everything up; a second run changes nothing."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from masterai.cli import app

runner = CliRunner()


def test_first_start_creates_admin_seeds_demo_and_lists_tools(masterai_home: Path) -> None:
    result = runner.invoke(app, ["start", "--no-chat"])
    assert result.exit_code == 0, result.output
    assert re.search(r"\bmai_[A-Za-z0-9_-]{20,}", result.output), "token printed once"
    assert "Seeded 4000 conversations" in result.output
    for tool in ("analytics", "clock", "configuration", "filesystem"):
        assert tool in result.output
    assert (masterai_home / "masterai.db").exists()
    assert (masterai_home / "workspace").is_dir()

    again = runner.invoke(app, ["start", "--no-chat"])
    assert again.exit_code == 0, again.output
    assert "Already initialised" in again.output
    assert "mai_" not in again.output
    assert "Seeded" not in again.output


def test_start_without_demo_leaves_the_database_empty(masterai_home: Path) -> None:
    result = runner.invoke(app, ["start", "--no-demo", "--no-chat"])
    assert result.exit_code == 0, result.output
    assert "Seeded" not in result.output
    listed = runner.invoke(app, ["company", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.strip() == "[]"
