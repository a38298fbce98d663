"""The README's tour runs as written (every ``masterai`` line, in a fresh home)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from masterai.cli import app
from service_guard import require_service

ROOT = Path(__file__).resolve().parents[1]


def tour_commands() -> list[list[str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## A tour\n\n```bash\n(.*?)```", readme, re.DOTALL)
    assert block, "README has no tour"
    commands = []
    for line in block.group(1).splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0] == "masterai":  # the chat line needs a hosted model
            commands.append(words[1:])
    return commands


def test_every_tour_command_succeeds(
    masterai_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    commands = tour_commands()
    assert len(commands) >= 8
    for args in commands:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"masterai {shlex.join(args)}:\n{result.output}"
    assert (tmp_path / "comparison.html").stat().st_size > 10_000
