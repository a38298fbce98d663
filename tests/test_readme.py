"""The README's tour runs as written (every ``masterai`` line, in a fresh home)."""

from __future__ import annotations

import json
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


# What each tour command prints (a pattern searched in its output), and the registry call
# (tool, operation) it must have left in the audit trail.
EXPECTED: dict[str, tuple[str, tuple[str, str] | None]] = {
    "start": (r"Created super admin admin.*Seeded 4000 conversations", ("admin", "seed_demo")),
    "tool list": (r"clock\s+.*get_time.*\n(.*\n)*.*configuration", None),
    "tool run": (r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d.*\+01:00\n$", ("clock", "get_time")),
    "analytics summary": (
        r"^\d+ conversations, \d+ messages \(acme-retail, ",
        ("analytics", "analyze_conversations"),
    ),
    "analytics failures": (
        r"^Failures in \d+ conversations \(globex-bank",
        ("analytics", "identify_failures"),
    ),
    "report generate": (
        r"Wrote Cross-company comparison.* to comparison\.html",
        ("analytics", "generate_report"),
    ),
    "config show": (r"provider\s+.*openai", ("configuration", "get_configuration")),
    "exec": (r"^6\n", ("code", "execute_code")),
    "audit tail": (r"analytics\.analyze_conversations\s+ok\s+acme-retail", ("admin", "audit_tail")),
    "audit verify": (r"^ok: \d+ records verified", ("admin", "audit_verify")),
}


def _key(args: list[str]) -> str:
    return (
        " ".join(args[:2])
        if args[0] in ("tool", "analytics", "report", "config", "audit")
        else args[0]
    )


def test_every_tour_command_prints_what_it_should_and_is_audited(
    masterai_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    runner = CliRunner()
    commands = tour_commands()
    assert sorted(_key(args) for args in commands) == sorted(EXPECTED)
    for args in commands:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"masterai {shlex.join(args)}:\n{result.output}"
        pattern, _ = EXPECTED[_key(args)]
        assert re.search(pattern, result.stdout, re.DOTALL | re.MULTILINE), (
            f"masterai {shlex.join(args)} printed:\n{result.stdout}"
        )
    assert (tmp_path / "comparison.html").stat().st_size > 10_000
    listed = json.loads(runner.invoke(app, ["audit", "tail", "-n", "1000", "--json"]).stdout)
    calls = [(r["tool"], r["operation"], r["status"], r["user"]) for r in listed]
    for key, (_, call) in EXPECTED.items():
        if call is not None:
            assert (*call, "ok", "admin") in calls, f"{key}: no audit record of {call}"
    assert all(r["client_address"].startswith("cli:") for r in listed)
