"""The config, analytics, report, import and demo commands act only through the registry.

Each command is checked for its audit trail (one record per registry call, with the acting
user, a ``cli:`` client address and the company it named), its permission checks and its
``--json`` output, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from masterai.audit import AuditLog
from masterai.cli import app, context
from masterai.registry import approve_all
from masterai.store import Database
from masterai.store.models import AuditRecord

runner = CliRunner()

CONVERSATION = {
    "id": "imp-1",
    "company_id": "shop",
    "messages": [
        {"role": "user", "content": "Where is my parcel?", "created_at": "2024-06-01T10:00:00Z"},
        {
            "role": "assistant",
            "content": "On its way.",
            "created_at": "2024-06-01T10:00:02Z",
            "latency_ms": 2000,
        },
    ],
}


def run(*args: str, code: int = 0, input: str | None = None) -> Result:
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


@pytest.fixture
def home(masterai_home: Path, database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """MASTERAI_HOME plus MASTERAI_DATABASE_URL pointing at the (SQLite or PostgreSQL) fixture."""
    monkeypatch.setenv("MASTERAI_DATABASE_URL", database.url)
    monkeypatch.setenv("COLUMNS", "200")
    run("init")
    return database


@pytest.fixture
def seeded(home: Database) -> Database:
    """The demo data (30 days), an analyst and a viewer of acme-retail only."""
    run("demo", "seed", "--conversations", "150", "--days", "30", "--end-date", "2024-06-30")
    run("user", "add", "ann", "--role", "analyst", "--company", "acme-retail")
    run("user", "add", "vic", "--role", "viewer", "--company", "acme-retail")
    return home


def last_id(database: Database) -> int:
    head = AuditLog(database).head()
    return head[0] if head else 0


def records_after(database: Database, before: int) -> list[AuditRecord]:
    return [r for r in AuditLog(database).recent(100) if r.id > before]


def what(record: AuditRecord) -> tuple[Any, ...]:
    assert record.client_address is not None
    assert record.client_address.startswith("cli:"), record.client_address
    return (record.user_name, record.tool, record.operation, record.status, record.company_id)


READS = [
    pytest.param(["analytics", "summary"], "analyze_conversations", id="analytics-summary"),
    pytest.param(["analytics", "failures"], "identify_failures", id="analytics-failures"),
    pytest.param(["analytics", "patterns"], "identify_patterns", id="analytics-patterns"),
    pytest.param(["analytics", "satisfaction"], "measure_satisfaction", id="analytics-sat"),
    pytest.param(["analytics", "costs", "--period", "week"], "analyze_costs", id="analytics-costs"),
    pytest.param(["analytics", "forecast", "--horizon", "7"], "predict_usage", id="forecast"),
    pytest.param(
        ["report", "generate", "company_summary", "--format", "json"],
        "generate_report",
        id="report-generate",
    ),
]


@pytest.mark.parametrize(("command", "operation"), READS)
def test_an_analysis_is_one_audited_call_as_the_acting_user(
    seeded: Database, command: list[str], operation: str
) -> None:
    before = last_id(seeded)
    out = run(*command, "-c", "acme-retail", "--as", "ann", "--json").stdout
    assert isinstance(json.loads(out), dict)
    (record,) = records_after(seeded, before)
    assert what(record) == ("ann", "analytics", operation, "ok", "acme-retail")


@pytest.mark.parametrize(
    ("command", "operation", "shape"),
    [
        (["config", "show", "acme-retail"], "get_configuration", dict),
        (["config", "history", "acme-retail", "--limit", "2"], "list_versions", list),
        (["config", "diff", "acme-retail", "1", "3"], "diff_versions", dict),
    ],
)
def test_a_configuration_read_is_one_audited_call_as_the_acting_user(
    seeded: Database, command: list[str], operation: str, shape: type
) -> None:
    before = last_id(seeded)
    out = run(*command, "--as", "ann", "--json").stdout
    assert isinstance(json.loads(out), shape)
    (record,) = records_after(seeded, before)
    assert what(record) == ("ann", "configuration", operation, "ok", "acme-retail")


def test_config_diff_prints_the_diff_or_its_changes_as_json(seeded: Database) -> None:
    text = run("config", "diff", "acme-retail", "1", "2").stdout
    assert text.startswith("system_prompt:\n  --- before\n  +++ after\n")
    assert "+You are Acme Retail's friendly shopping assistant. Answer in at most" in text
    assert text.endswith("max_tokens: 800 -> 600\n")
    changes = json.loads(run("config", "diff", "acme-retail", "1", "2", "--json").stdout)
    assert [(c["field"], c["old"], c["new"]) for c in changes["changes"]][1:] == [
        ("max_tokens", 800, 600)
    ]
    assert changes["changes"][0]["field"] == "system_prompt"


@pytest.mark.parametrize(
    ("command", "operation", "version"),
    [
        (["set-prompt", "acme-retail", "--prompt", "Be brief.", "--yes"], "update_prompt", 4),
        (["set-prompt", "acme-retail", "--prompt", "Be brief.", "--dry-run"], "update_prompt", 3),
        (["rollback", "acme-retail", "1", "--yes"], "rollback", 4),
    ],
)
def test_a_configuration_change_is_one_audited_call(
    seeded: Database, command: list[str], operation: str, version: int
) -> None:
    before = last_id(seeded)
    change = json.loads(run("config", *command, "--json").stdout)
    assert change["operation"] == operation
    (record,) = records_after(seeded, before)
    assert what(record) == ("admin", "configuration", operation, "ok", "acme-retail")
    shown = json.loads(run("config", "show", "acme-retail", "--json").stdout)
    assert shown["version"] == version


def test_a_change_without_yes_or_a_terminal_is_refused_and_changes_nothing(
    seeded: Database,
) -> None:
    before = last_id(seeded)
    err = run("config", "rollback", "acme-retail", "1", code=3).stderr
    assert "denied: Authorization denied" in err and "pass --yes to approve it" in err
    (record,) = records_after(seeded, before)
    assert what(record) == ("admin", "configuration", "rollback", "denied", "acme-retail")
    assert json.loads(run("config", "show", "acme-retail", "--json").stdout)["version"] == 3


def test_on_a_terminal_the_diff_is_shown_and_the_answer_decides(
    seeded: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The runner's stdin is not a terminal; this is what cli_approver does when it is.
    monkeypatch.setattr(context, "cli_approver", lambda yes: approve_all if yes else context._ask)
    out = run("config", "set-prompt", "acme-retail", "--prompt", "Be brief.", input="y\n").stdout
    assert "+Be brief." in out and "Proceed?" in out
    assert out.rstrip().endswith("update_prompt: changed 1 of 1 companies (acme-retail)")
    assert json.loads(run("config", "show", "acme-retail", "--json").stdout)["version"] == 4


def test_a_viewer_cannot_show_another_companys_configuration(seeded: Database) -> None:
    before = last_id(seeded)
    err = run("config", "show", "globex-bank", "--as", "vic", code=3).stderr
    assert "may not read company 'globex-bank'" in err
    (record,) = records_after(seeded, before)
    assert what(record) == ("vic", "configuration", "get_configuration", "denied", "globex-bank")


def test_a_viewer_cannot_import_conversations(seeded: Database, tmp_path: Path) -> None:
    data = tmp_path / "c.jsonl"
    data.write_text(json.dumps({**CONVERSATION, "company_id": "acme-retail"}) + "\n")
    summary = ("analytics", "summary", "-c", "acme-retail", "--json")
    conversations = json.loads(run(*summary).stdout)["conversations"]
    before = last_id(seeded)
    err = run("conversations", "import", str(data), "--as", "vic", code=3).stderr
    assert "read-only access to 'analytics'" in err
    (record,) = records_after(seeded, before)
    assert what(record) == ("vic", "analytics", "import_conversations", "denied", None)
    assert json.loads(run(*summary).stdout)["conversations"] == conversations


def test_import_of_a_file_outside_the_workspace_sends_its_text(
    home: Database, tmp_path: Path
) -> None:
    data = tmp_path / "outside.jsonl"
    data.write_text(json.dumps(CONVERSATION) + "\n")
    before = last_id(home)
    report = json.loads(
        run("conversations", "import", str(data), "--create-companies", "--json").stdout
    )
    assert report == {
        "conversations": 1,
        "messages": 2,
        "skipped": [],
        "created_companies": ["shop"],
    }
    imported, refreshed = records_after(home, before)
    assert what(imported) == ("admin", "analytics", "import_conversations", "ok", None)
    assert imported.params["content"] == data.read_text() and "path" not in imported.params
    assert imported.params["format"] == "jsonl"
    assert what(refreshed) == ("admin", "analytics", "refresh", "ok", None)
    summary = json.loads(run("analytics", "summary", "-c", "shop", "--json").stdout)
    assert summary["conversations"] == 1


def test_import_of_a_workspace_file_sends_its_path(home: Database, masterai_home: Path) -> None:
    folder = masterai_home / "workspace" / "shared" / "uploads"
    folder.mkdir(parents=True)
    (folder / "c.jsonl").write_text(json.dumps(CONVERSATION) + "\n")
    before = last_id(home)
    out = run("conversations", "import", str(folder / "c.jsonl"), "--create-companies").stdout
    assert out == "Imported 1 conversations, 2 messages.\n"
    imported, refreshed = records_after(home, before)
    assert imported.params["path"] == "shared/uploads/c.jsonl"
    assert "content" not in imported.params
    assert (imported.status, refreshed.operation, refreshed.status) == ("ok", "refresh", "ok")
    assert json.loads(run("analytics", "refresh", "--json").stdout)["messages_added"] == 0


def test_a_file_too_large_to_send_is_refused_with_the_setting_and_the_alternative(
    home: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTERAI_REGISTRY__MAX_PARAMS_BYTES", "300")
    data = tmp_path / "big.jsonl"
    data.write_text(json.dumps(CONVERSATION) + "\n")
    before = last_id(home)
    err = run("conversations", "import", str(data), "--create-companies", code=2).stderr
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("error: invalid: ")
    assert "MASTERAI_REGISTRY__MAX_PARAMS_BYTES" in err and "copy it into the workspace" in err
    (record,) = records_after(home, before)
    assert (record.tool, record.status, record.user_name) == ("analytics", "invalid", "admin")
    assert run("company", "list", "--json").stdout.strip() == "[]"


def test_import_into_a_company_the_user_may_not_change_imports_nothing(
    seeded: Database, tmp_path: Path
) -> None:
    run("user", "add", "ada", "--role", "admin", "--company", "acme-retail")
    data = tmp_path / "c.jsonl"
    rows = [{**CONVERSATION, "company_id": "acme-retail"}, {**CONVERSATION, "id": "imp-2"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    err = run("conversations", "import", str(data), "--create-companies", "--as", "ada", code=1)
    assert "line 2: you may not add conversations to company 'shop'" in err.stderr
    assert "nothing was imported" in err.stderr
    assert "shop" not in run("company", "list").stdout


def test_report_generate_out_writes_the_file_and_nothing_in_the_workspace(
    seeded: Database, masterai_home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reports" / "costs.md"
    before = last_id(seeded)
    shown = json.loads(
        run(
            "report", "generate", "costs", "-c", "acme-retail", "--format", "markdown",
            "--out", str(out), "--as", "ann", "--json",
        ).stdout
    )  # fmt: skip
    text = out.read_text()
    assert text.startswith("# Cost report: acme-retail")
    assert shown["path"] == str(out) and "content" not in shown
    assert shown["bytes"] == len(text.encode())
    assert not (masterai_home / "workspace" / "reports").exists()
    (record,) = records_after(seeded, before)
    assert what(record) == ("ann", "analytics", "generate_report", "ok", "acme-retail")
    assert record.params["include_content"] is True


def test_report_generate_without_out_writes_into_the_workspace(
    seeded: Database, masterai_home: Path
) -> None:
    out = run("report", "generate", "comparison", "--format", "markdown").stdout
    # a report of several companies is private to its author (docs/workspace.md)
    (written,) = (masterai_home / "workspace" / "users" / "admin" / "reports").iterdir()
    assert out.startswith("Wrote Cross-company comparison") and written.name in out
    assert written.read_text().startswith("# Cross-company comparison")


def test_demo_seed_is_the_admin_tool_then_a_refresh(home: Database) -> None:
    before = last_id(home)
    seeded = json.loads(
        run("demo", "seed", "--companies", "2", "--conversations", "60", "--json").stdout
    )
    assert seeded["companies"] == ["acme-retail", "globex-bank"]
    seed, refresh = records_after(home, before)
    assert what(seed) == ("admin", "admin", "seed_demo", "ok", None)
    assert what(refresh) == ("admin", "analytics", "refresh", "ok", None)
    assert json.loads(run("analytics", "refresh", "--json").stdout)["messages_added"] == 0


def test_demo_seed_as_an_analyst_is_denied(seeded: Database) -> None:
    before = last_id(seeded)
    run("demo", "seed", "--replace", "--as", "ann", code=3)
    (record,) = records_after(seeded, before)
    assert what(record) == ("ann", "admin", "seed_demo", "denied", None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["config", "show", "acme-retail", "--version", "99999999999999999999"],
            "version must be an integer from 1 to 2147483647, got 99999999999999999999",
            id="config-version",
        ),
        pytest.param(
            ["analytics", "summary", "--start", "0001-01-01", "--end", "9999-12-31"],
            "start_date '0001-01-01' is outside the supported range 1970-01-01..2099-12-31",
            id="analytics-dates",
        ),
        pytest.param(
            ["analytics", "summary", "--end", "9999-12-31"],
            "end_date '9999-12-31' is outside the supported range",
            id="analytics-end",
        ),
    ],
)
def test_an_out_of_range_value_is_one_error_line(
    seeded: Database, args: list[str], message: str
) -> None:
    result = run(*args, code=1)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in result.output
