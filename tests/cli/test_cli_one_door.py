"""Every CLI command that touches data acts through the registry and leaves audit records.

The commands come from the generated docs/cli.md, so a new command must be added here (or to
the short list of commands that touch no data) before the suite passes.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from masterai.audit import AuditLog
from masterai.cli import app
from masterai.settings import Settings
from masterai.store import open_database

runner = CliRunner()
CLI_MD = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
OWN, OTHER = "acme-retail", "globex-bank"
LOCAL = f"cli:{getpass.getuser()}@{socket.gethostname()}"[:64]


@dataclass(frozen=True)
class Walk:
    argv: tuple[str, ...]
    """Run as the local super admin."""
    tool: str
    """The tool every record it leaves belongs to (``exec`` -> ``code``...)."""
    company: str | None = None
    """The company context its records carry."""
    as_viewer: tuple[str, ...] | None = None
    """Run ``--as`` a viewer of OWN only, it must be refused (exit 3) by the policy."""


IMPORT_LINE = {
    "id": "walk-1",
    "company_id": OWN,
    "messages": [{"role": "user", "content": "Hello", "created_at": "2026-11-30T10:00:00Z"}],
}

WALK_TOOL = {
    "name": "walked",
    "description": "Echo a text",
    "parameters": {"type": "object", "properties": {"text": {"type": "string"}}},
    "code": "def run(args, ctx):\n    return args\n",
    "tests": [{"arguments": {"text": "a"}, "expected": {"text": "a"}}],
}
"""A custom tool definition ({tool_file}); the template holds 'walkie' (active, published,
exported to {bundle_file}) and 'other' (tested) made from it."""

WALK_DATASET = f"companies/{OWN}/datasets/conversations/v1"
"""The dataset the template prepares (fine-tune and evaluation walks use it)."""

WALKS: dict[str, Walk] = {
    "user add": Walk(
        ("user", "add", "zed", "--role", "viewer", "--company", OWN),
        "admin",
        OWN,
        ("user", "add", "zoe", "--role", "viewer"),
    ),
    "user list": Walk(("user", "list"), "admin", None, ("user", "list")),
    "user show": Walk(("user", "show", "vic"), "admin", None, ("user", "show", "vic")),
    "user grant": Walk(
        ("user", "grant", "vic", "--set", "tools.clock=read"),
        "admin",
        None,
        ("user", "grant", "vic", "--role", "super_admin"),
    ),
    "user token": Walk(("user", "token", "vic"), "admin", None, ("user", "token", "admin")),
    "user revoke-token": Walk(
        ("user", "revoke-token", "admin", "1"),
        "admin",
        None,
        ("user", "revoke-token", "admin", "1"),
    ),
    "company add": Walk(
        ("company", "add", "initech", "--name", "Initech"),
        "admin",
        "initech",
        ("company", "add", "hooli", "--name", "Hooli"),
    ),
    "company list": Walk(("company", "list"), "admin", None, ("company", "list")),
    "tool run": Walk(("tool", "run", "clock", "--args", '{"operation": "get_time"}'), "clock"),
    "audit verify": Walk(("audit", "verify"), "admin", None, ("audit", "verify")),
    "audit tail": Walk(("audit", "tail"), "admin", None, ("audit", "tail")),
    "login-link": Walk(("login-link",), "admin", None, ("login-link",)),
    "audit rotate-key": Walk(("audit", "rotate-key"), "admin", None, ("audit", "rotate-key")),
    "audit search": Walk(("audit", "search", "--company", OWN), "admin", OWN, ("audit", "search")),
    "config show": Walk(("config", "show", OWN), "configuration", OWN, ("config", "show", OTHER)),
    "config history": Walk(
        ("config", "history", OWN), "configuration", OWN, ("config", "history", OTHER)
    ),
    "config diff": Walk(
        ("config", "diff", OWN, "1", "1"), "configuration", OWN, ("config", "diff", OTHER, "1", "1")
    ),
    "config set-prompt": Walk(
        ("config", "set-prompt", OWN, "--prompt", "Be brief.", "--yes"),
        "configuration",
        OWN,
        ("config", "set-prompt", OWN, "--prompt", "Be brief.", "--yes"),
    ),
    "config rollback": Walk(
        ("config", "rollback", OWN, "1", "--yes"),
        "configuration",
        OWN,
        ("config", "rollback", OWN, "1", "--yes"),
    ),
    **{
        f"analytics {name}": Walk(
            ("analytics", name, "--company", OWN),
            "analytics",
            OWN,
            ("analytics", name, "--company", OTHER),
        )
        for name in ("summary", "failures", "patterns", "satisfaction", "costs", "forecast")
    },
    "analytics refresh": Walk(
        ("analytics", "refresh"), "analytics", None, ("analytics", "refresh")
    ),
    "conversations import": Walk(
        ("conversations", "import", "{import_file}"),
        "analytics",
        None,
        ("conversations", "import", "{import_file}"),
    ),
    "demo seed": Walk(
        ("demo", "seed", "--companies", "2", "--conversations", "40", "--days", "7", "--replace"),
        "admin",
        None,
        ("demo", "seed", "--companies", "2", "--conversations", "40", "--replace"),
    ),
    "report generate": Walk(
        ("report", "generate", "company_summary", "--company", OWN, "--format", "json"),
        "analytics",
        OWN,
        ("report", "generate", "company_summary", "--company", OTHER),
    ),
    "exec": Walk(
        ("exec", "--language", "python", "--code", "print(6 * 7)"),
        "code",
        None,
        ("exec", "--language", "python", "--code", "print(1)"),
    ),
    "webhooks add": Walk(
        ("webhooks", "add", "https://hooks.example.com/in", "--event", "*", "--company", OWN),
        "integration",
        OWN,
        ("webhooks", "add", "https://hooks.example.com/v", "--company", OWN),
    ),
    "webhooks list": Walk(("webhooks", "list"), "integration"),
    "webhooks remove": Walk(
        # --json: the walk removes the template's webhook 1, so it is walked once.
        ("webhooks", "remove", "1", "--yes", "--json"),
        "integration",
        None,
        ("webhooks", "remove", "1", "--yes"),
    ),
    "webhooks deliveries": Walk(("webhooks", "deliveries"), "integration"),
    "webhooks redeliver": Walk(
        ("webhooks", "redeliver", "1"), "integration", None, ("webhooks", "redeliver", "1")
    ),
    "scripts add": Walk(
        ("scripts", "add", "walk", "--language", "python", "--code", "print(1)", "--company", OWN),
        "code",
        OWN,
        ("scripts", "add", "walk", "--language", "python", "--code", "print(1)"),
    ),
    **{
        f"scripts {name}": Walk(
            ("scripts", name, *(("nightly",) if name not in ("list", "runs") else ())),
            "code",
            None,
            ("scripts", name, *(("nightly",) if name not in ("list", "runs") else ())),
        )
        for name in ("list", "show", "run", "runs", "enable", "disable")
    },
    "scripts remove": Walk(
        ("scripts", "remove", "nightly", "--yes"),
        "code",
        None,
        ("scripts", "remove", "nightly", "--yes"),
    ),
    "tests generate": Walk(("tests", "generate", OWN), "code", OWN, ("tests", "generate", OWN)),
    "tests run": Walk(("tests", "run", OWN), "code", OWN, ("tests", "run", OWN)),
    "datasets prepare": Walk(
        ("datasets", "prepare", OWN, "--not-escalated"),
        "aidev",
        OWN,
        ("datasets", "prepare", OWN),
    ),
    "finetune start": Walk(
        ("finetune", "start", "openai:gpt-4o-mini", WALK_DATASET, "--suffix", "walk"),
        "aidev",
        None,
        ("finetune", "start", "openai:gpt-4o-mini", WALK_DATASET),
    ),
    "finetune show": Walk(("finetune", "show", "1"), "aidev"),
    "finetune list": Walk(("finetune", "list"), "aidev"),
    "finetune cancel": Walk(
        ("finetune", "cancel", "1", "--yes"), "aidev", None, ("finetune", "cancel", "1", "--yes")
    ),
    "finetune evaluate": Walk(
        ("finetune", "evaluate", "scripted:walk.json", "--dataset", WALK_DATASET),
        "aidev",
        None,
        ("finetune", "evaluate", "scripted:walk.json", "--dataset", WALK_DATASET),
    ),
    "rag index": Walk(
        ("rag", "index", OWN, "--id", "walk", "--text", "Refunds take five days."),
        "aidev",
        OWN,
        ("rag", "index", OWN, "--id", "walk", "--text", "Refunds take five days."),
    ),
    "rag search": Walk(
        ("rag", "search", OWN, "refund"), "aidev", OWN, ("rag", "search", OTHER, "refund")
    ),
    "rag update": Walk(("rag", "update", OWN), "aidev", OWN, ("rag", "update", OWN)),
    **{
        " ".join(argv[:2]): Walk(argv, "registry", None, argv if refused else None)
        for argv, refused in (
            (("custom-tools", "create", "{tool_file}"), True),
            (("custom-tools", "update", "walkie", "{tool_file}"), True),
            (("custom-tools", "test", "walkie"), True),
            (("custom-tools", "activate", "other", "1", "--yes"), True),
            (("custom-tools", "disable", "walkie"), True),
            (("custom-tools", "show", "walkie"), False),
            (("custom-tools", "list"), False),
            (("custom-tools", "remove", "walkie", "--yes"), True),
            (("custom-tools", "export", "walkie"), False),
            (("custom-tools", "import", "{bundle_file}", "--name", "copied"), True),
            (("catalog", "publish", "other", "1"), True),
            (("catalog", "search", "echo"), False),
        )
    },
    "alerts list": Walk(("alerts", "list", "--company", OWN), "registry", OWN),
    "alerts ack": Walk(("alerts", "ack", "1"), "registry", None, ("alerts", "ack", "1")),
    "alerts backlog": Walk(("alerts", "backlog"), "registry"),
    "catalog install": Walk(
        ("catalog", "install", "walkie", "1", "--company", OWN),
        "registry",
        OWN,
        ("catalog", "install", "walkie", "1", "--company", OWN),
    ),
}

# Commands that read or write no platform data, and why.
NO_DATA = {
    "start": "runs init, demo seed and tool list, each walked on its own",
    "init": "creates the first super admin through admin.add_user (tested in the platform tests)",
    "chat": "the agent; its steps are registry calls (tests/cli/test_cli_chat.py)",
    "ask": "the agent; its steps are registry calls (tests/cli/test_cli_chat.py)",
    "db upgrade": "schema migration of the local database",
    "tool list": "the registry's own listing of what the caller may call",
    "tool show": "the registry's own description of a tool",
    "sandbox build-images": "builds the sandbox images of this machine",
    "sandbox doctor": "checks this machine's sandbox set-up",
    "docs cli": "prints the command reference",
    "serve": "serves the HTTP API, whose endpoints are registry calls (tests/api)",
    "mcp": "serves MCP on stdio; every tool call and resource read is a registry call "
    "(tests/mcp_face)",
    "integrations check-email": "checks the SMTP settings (an integration.check_email call; "
    "tests/integrations)",
    "integrations check-db": "checks a configured database connection (an "
    "integration.check_database call; tests/integrations)",
    "worker": "runs the scheduler and workers; each run is a code.run_script registry call "
    "made as the script's owner (tests/jobs)",
}


def documented_commands() -> set[str]:
    names = re.findall(r"^#+ `masterai ([^`]+)`$", CLI_MD.read_text(), flags=re.MULTILINE)
    groups = {n.split()[0] for n in names if " " in n}
    return {n for n in names if n not in groups}


def test_every_documented_command_is_walked_or_touches_no_data() -> None:
    documented = documented_commands()
    assert documented == set(WALKS) | set(NO_DATA), (
        "walk these new commands (or say why they touch no data): "
        f"{sorted(documented - set(WALKS) - set(NO_DATA))}; gone: "
        f"{sorted(set(WALKS) | set(NO_DATA) - documented)}"
    )


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[str]:
    """A wire-level fake of OpenAI's fine-tuning endpoints (tests/aidev/fake_openai.py)."""
    import sys

    sys.path.append(str(Path(__file__).resolve().parents[1] / "aidev"))
    from fake_openai import serve_fake

    with serve_fake() as fake:
        yield fake.base_url


@pytest.fixture(scope="module")
def seeded_template(tmp_path_factory: pytest.TempPathFactory, fake_openai: str) -> Iterator[Path]:
    """A home with the super admin, a small demo data set and a viewer of OWN only."""
    home = tmp_path_factory.mktemp("one-door") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MASTERAI_HOME", str(home))
        mp.delenv("MASTERAI_DATABASE_URL", raising=False)
        mp.setenv("OPENAI_BASE_URL", fake_openai)
        mp.setenv("OPENAI_API_KEY", "sk-walk")
        for argv in (
            ("init",),
            ("demo", "seed", "--companies", "2", "--conversations", "60", "--days", "10"),
            ("user", "add", "vic", "--role", "viewer", "--company", OWN),
            ("scripts", "add", "nightly", "--language", "python", "--code", "print(1)"),
            ("tests", "generate", OWN),
            ("rag", "index", OWN, "--id", "faq", "--text", "A refund takes five days."),
            ("datasets", "prepare", OWN),
            ("finetune", "start", "openai:gpt-4o-mini", WALK_DATASET),
            *_custom_tools(home),
        ):
            result = runner.invoke(app, list(argv))
            assert result.exit_code == 0, (argv, result.stdout, result.stderr)
        _one_dead_delivery(home)
        _scripted_model(home)
        _one_alert(home)
    yield home


def _one_alert(home: Path) -> None:
    """Alert 1, of OWN, for the alerts walks (as a realtime custom tool would raise it)."""
    from masterai.services.alerts import NewAlert, Severity, SourceKind, record_alert

    database = open_database(Settings(home=home))
    try:
        with database.session() as session:
            record_alert(
                session,
                NewAlert(
                    source="walkie", source_kind=SourceKind.CUSTOM_TOOL, severity=Severity.HIGH,
                    kind="walk", message="a walk alert", company_id=OWN,
                ),
            )  # fmt: skip
    finally:
        database.dispose()


def _custom_tools(home: Path) -> list[tuple[str, ...]]:
    """Commands making 'walkie' (active, published, exported into ``home``) and 'other'."""
    folder = home.parent
    commands: list[tuple[str, ...]] = []
    for name in ("walkie", "other"):
        (folder / f"{name}.json").write_text(json.dumps({**WALK_TOOL, "name": name}))
        commands += [
            ("custom-tools", "create", str(folder / f"{name}.json")),
            ("custom-tools", "test", name),
        ]
    bundle = str(home / "walkie.bundle.json")
    return [
        *commands,
        ("custom-tools", "activate", "walkie", "1", "--yes"),
        ("catalog", "publish", "walkie", "1"),
        ("custom-tools", "export", "walkie", "--output", bundle),
    ]


def _scripted_model(home: Path) -> None:
    """OWN's configuration on a scripted model that passes its generated suite (tests run)."""
    from masterai.services.configs import ConfigurationService

    (home / "models").mkdir()
    (home / "models" / "walk.json").write_text(json.dumps([{"text": "Happy to help."}] * 200))
    database = open_database(Settings(home=home))
    try:
        ConfigurationService(database).update_configuration(
            OWN, {"provider": "scripted", "model": "walk.json"}, author="walks"
        )
    finally:
        database.dispose()


def _one_dead_delivery(home: Path) -> None:
    """Webhook 1 of OWN and delivery 1 (dead: the guard refuses loopback) for the walks."""
    import asyncio

    from masterai.events import Dispatcher

    for argv in (
        ("webhooks", "add", "http://127.0.0.1:9/hook", "--event", "*", "--company", OWN),
        ("config", "set-prompt", OWN, "--prompt", "Be brief.", "--yes"),
    ):
        result = runner.invoke(app, list(argv))
        assert result.exit_code == 0, (argv, result.stdout, result.stderr)
    settings = Settings(home=home)
    database = open_database(settings)
    try:
        report = asyncio.run(
            Dispatcher(database, settings.integrations, settings.egress).dispatch_once()
        )
    finally:
        database.dispose()
    assert report.dead == 1


@pytest.fixture
def home(
    seeded_template: Path, fake_openai: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-walk")
    copy = tmp_path / "home"
    shutil.copytree(seeded_template, copy)
    monkeypatch.setenv("MASTERAI_HOME", str(copy))
    monkeypatch.delenv("MASTERAI_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("MASTERAI_LLM__SCRIPTED_DIR", str(copy / "models"))
    return copy


def _argv(argv: tuple[str, ...], tmp_path: Path) -> list[str]:
    import_file = tmp_path / "walk.jsonl"
    import_file.write_text(json.dumps(IMPORT_LINE) + "\n")
    tool_file = tmp_path / "walked.json"
    tool_file.write_text(json.dumps(WALK_TOOL))
    files = {
        "{import_file}": import_file,
        "{tool_file}": tool_file,
        "{bundle_file}": Path(os.environ["MASTERAI_HOME"]) / "walkie.bundle.json",
    }
    for placeholder, path in files.items():
        argv = tuple(a.replace(placeholder, str(path)) for a in argv)
    return list(argv)


def _new_records(home: Path, before: int) -> list[dict[str, object]]:
    database = open_database(Settings(home=home))
    try:
        records = AuditLog(database).search(limit=100_000)
    finally:
        database.dispose()
    return [
        {
            "user": r.user_name,
            "tool": r.tool,
            "status": r.status,
            "company_id": r.company_id,
            "client_address": r.client_address,
        }
        for r in records
        if r.id > before
    ]


def _count(home: Path) -> int:
    database = open_database(Settings(home=home))
    try:
        return AuditLog(database).count()
    finally:
        database.dispose()


@pytest.mark.parametrize("command", sorted(WALKS))
def test_a_command_leaves_audit_records_of_its_caller_address_and_company(
    home: Path, tmp_path: Path, command: str
) -> None:
    walk = WALKS[command]
    before = _count(home)
    result = runner.invoke(app, _argv(walk.argv, tmp_path))
    assert result.exit_code == 0, (walk.argv, result.stdout, result.stderr)
    assert result.stdout.strip(), "a command that touches data prints what it did"
    records = _new_records(home, before)
    assert records, f"{command} left no audit record"
    mine = [r for r in records if r["tool"] == walk.tool]
    assert mine, (command, records)
    for record in records:
        assert (record["user"], record["client_address"], record["status"]) == (
            "admin",
            LOCAL,
            "ok",
        ), (command, record)
    if walk.company is not None:
        assert {r["company_id"] for r in mine} == {walk.company}, (command, mine)


@pytest.mark.parametrize("command", sorted(c for c, w in WALKS.items() if w.as_viewer))
def test_a_viewer_is_refused_where_the_permission_matrix_says_so(
    home: Path, tmp_path: Path, command: str
) -> None:
    walk = WALKS[command]
    assert walk.as_viewer is not None
    before = _count(home)
    result = runner.invoke(app, [*_argv(walk.as_viewer, tmp_path), "--as", "vic"])
    assert result.exit_code == 3, (walk.as_viewer, result.stdout, result.stderr)
    assert result.stderr.startswith("error: denied: Permission denied:"), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    records = _new_records(home, before)
    assert [(r["user"], r["status"], r["client_address"]) for r in records] == [
        ("vic", "denied", LOCAL)
    ], (command, records)


@pytest.mark.parametrize("command", sorted(c for c, w in WALKS.items() if "--json" not in w.argv))
def test_every_data_command_prints_one_json_document_with_json(
    home: Path, tmp_path: Path, command: str
) -> None:
    walk = WALKS[command]
    result = runner.invoke(app, [*_argv(walk.argv, tmp_path), "--json"])
    assert result.exit_code == 0, (walk.argv, result.stdout, result.stderr)
    json.loads(result.stdout)
