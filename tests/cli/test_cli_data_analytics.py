"""The analytics, configuration and data commands through Typer's runner (SQLite home)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from masterai.cli import app, context
from masterai.registry import approve_all

runner = CliRunner()


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands ask on the terminal, as when stdin is a TTY (the runner's stdin is not)."""
    monkeypatch.setattr(context, "cli_approver", lambda yes: approve_all if yes else context._ask)


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_demo_seed_then_analytics_reports_and_config_changes(
    masterai_home: Path, terminal: None
) -> None:
    code, out, err = invoke("init")
    assert code == 0, err
    code, out, err = invoke(
        "demo", "seed", "--conversations", "400", "--end-date", "2024-06-30", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["companies"][0] == "acme-retail"
    code, _, err = invoke("demo", "seed", "--conversations", "400")
    assert code == 1 and "demo data exists already" in err

    code, out, err = invoke("analytics", "refresh", "--json")
    assert code == 0 and json.loads(out)["messages_added"] == 0  # seeding refreshed it
    code, out, err = invoke("analytics", "refresh", "--rebuild", "--json")
    assert code == 0 and json.loads(out)["rebuilt"] is True
    code, out, err = invoke("analytics", "summary", "-c", "globex-bank", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["scope"]["company_ids"] == ["globex-bank"] and summary["conversations"] > 0
    code, out, _ = invoke("analytics", "failures", "-c", "initech-saas")
    assert code == 0 and "Error: " in out
    code, _, err = invoke("analytics", "costs", "--period", "year")
    assert code == 2 and "'period' must be one of 'day', 'week', 'month'; got 'year'" in err
    code, _, err = invoke("analytics", "summary", "-c", "nope")
    assert code == 1 and "unknown company 'nope'" in err

    report = masterai_home / "r.md"
    code, out, err = invoke(
        "report",
        "generate",
        "company_summary",
        "-c",
        "acme-retail",
        "--format",
        "markdown",
        "--out",
        str(report),
    )
    assert code == 0, err
    assert report.read_text().startswith("# Company summary: acme-retail")

    code, out, err = invoke(
        "config",
        "set-prompt",
        "acme-retail",
        "--prompt",
        "Be brief.",
        "--note",
        "cli test",
        input="n\n",
    )
    assert code == 3 and "denied" in err.lower()
    assert "+Be brief." in out
    # A dry run asks nothing (no input given) and shows the diff; the version below proves
    # it wrote nothing.
    code, out, err = invoke(
        "config", "set-prompt", "acme-retail", "--prompt", "Be brief.", "--dry-run"
    )
    assert code == 0, err
    assert "would change 1 of 1" in out and "+Be brief." in out
    code, out, err = invoke("config", "set-prompt", "acme-retail", "--prompt", "Be brief.", "--yes")
    assert code == 0, err
    code, out, _ = invoke("config", "show", "acme-retail", "--json")
    shown = json.loads(out)
    assert (shown["version"], shown["system_prompt"]) == (4, "Be brief.")
    code, out, err = invoke("config", "rollback", "acme-retail", "3", "--yes")
    assert code == 0, err
    code, out, _ = invoke("config", "history", "acme-retail", "--json")
    assert [v["version"] for v in json.loads(out)][:2] == [5, 4]


def test_import_reports_bad_lines_and_imports_nothing(masterai_home: Path, tmp_path: Path) -> None:
    data = tmp_path / "c.jsonl"
    good = {
        "id": "a1",
        "company_id": "shop",
        "messages": [{"role": "user", "content": "Hi", "created_at": "2024-05-01T10:00:00Z"}],
    }
    data.write_text(json.dumps(good) + "\n" + '{"id": "a2"}\n')
    code, _, err = invoke("init")
    assert code == 0, err
    code, _, err = invoke("conversations", "import", str(data), "--create-companies")
    assert code == 1
    assert "line 2:" in err and "nothing was imported" in err
    code, out, err = invoke(
        "conversations", "import", str(data), "--create-companies", "--skip-bad", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["conversations"] == 1
