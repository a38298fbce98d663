"""The platform commands: init, user, company, tool, audit (through Typer's runner)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from masterai.cli import app
from masterai.store import Database

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout if code == 0 else result.stderr


@pytest.fixture
def home(masterai_home: Path, database: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """MASTERAI_HOME plus MASTERAI_DATABASE_URL pointing at the (SQLite or PostgreSQL) fixture."""
    monkeypatch.setenv("MASTERAI_DATABASE_URL", database.url)
    monkeypatch.setenv("COLUMNS", "200")
    return database


@pytest.fixture
def sqlite_home(
    masterai_home: Path, _sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """MASTERAI_HOME with an already migrated embedded database (migrating is the slow part)."""
    masterai_home.mkdir(parents=True)
    shutil.copyfile(_sqlite_template, masterai_home / "masterai.db")
    return masterai_home


def test_init_is_idempotent_and_prints_the_token_once(home: Database) -> None:
    first = json.loads(run("init", "--json"))
    assert first["created"] is True and first["token"].startswith("mai_")
    second = json.loads(run("init", "--json"))
    assert (second["created"], second["token"]) == (False, None)
    with home.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
    assert len(stored) == 1 and first["token"] not in stored[0]


def test_users_companies_and_grants_are_managed_from_the_cli(home: Database) -> None:
    run("init")
    run("company", "add", "acme", "--name", "Acme")
    run("company", "add", "globex", "--name", "Globex")
    assert [c["id"] for c in json.loads(run("company", "list", "--json"))] == ["acme", "globex"]
    run("user", "add", "ann", "--role", "admin", "--company", "acme")
    run(
        "user",
        "grant",
        "ann",
        "--company",
        "globex:read",
        "--set",
        'code_execution.languages=["python"]',
        "--set",
        "tools.clock=none",
    )
    (ann,) = [u for u in json.loads(run("user", "list", "--json")) if u["name"] == "ann"]
    assert ann["companies"] == {"acme": "write", "globex": "read"}
    assert ann["grants"] == {"code_execution.languages": ["python"], "tools.clock": "none"}
    assert "clock" not in run("tool", "list", "--as", "ann")
    assert "filesystem" in run("tool", "list", "--as", "ann")


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (
            ("company", "add", "Not OK", "--name", "x"),
            "error: invalid: Invalid company id 'Not OK'",
            2,
        ),
        (("user", "add", "bob", "--role", "wizard"), "error: invalid: Unknown role 'wizard'", 2),
        (("user", "grant", "bob", "--role", "viewer"), "error: invalid: Unknown user 'bob'", 2),
        (("user", "grant", "admin"), "error: Nothing to change", 1),
        (("user", "grant", "admin", "--set", "nonsense"), "error: Invalid --set 'nonsense'", 1),
        (("tool", "run", "clock", "--args", "{bad"), "error: invalid: Invalid --args: not JSON", 2),
        (
            ("tool", "run", "clock", "--args", "[]"),
            "error: invalid: Invalid --args: expected a JSON",
            2,
        ),
        (
            ("tool", "run", "clock", "--args", "[" * 100_000),
            "error: invalid: Invalid --args: JSON nested",
            2,
        ),
        (
            (
                "tool",
                "run",
                "clock",
                "--args",
                '{"operation": "get_time", "format": 1, "format": 2}',
            ),
            "error: invalid: Invalid --args: the key 'format' appears twice",
            2,
        ),
        (("tool", "run", "nope"), "error: not_found: Unknown tool: nope", 2),
        (
            ("tool", "run", "clock", "--company", "ghost"),
            "error: invalid: Unknown company 'ghost' in the call's company scope",
            2,
        ),
        (("tool", "list", "--as", "ghost"), "error: denied: Unknown user 'ghost'", 3),
        (("tool", "run", "clock", "--as", " "), "error: denied: --as must name a user", 3),
        (("audit", "search", "--since", "soon"), "error: Invalid --since 'soon'", 1),
        (("audit", "search", "--status", "meh"), "error: Invalid --status 'meh'", 1),
        (("audit", "search", "--since", "9" * 12 + "d"), "error: Invalid --since '9999", 1),
    ],
)
def test_bad_input_is_one_clear_error_line(
    sqlite_home: Path, args: tuple[str, ...], message: str, code: int
) -> None:
    run("init")
    err = run(*args, code=code)
    assert err.startswith(message), err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("audit", "tail", "-n", "0"), "error: Invalid value for '-n' / '--lines'"),
        (("audit", "search", "--bogus"), "error: No such option: --bogus"),
        (("tool", "run"), "error: Missing argument 'name'"),
        (("tool", "runn"), "error: No such command 'runn'. Did you mean 'run'?"),
    ],
)
def test_usage_errors_are_one_line_naming_the_help_command(
    args: tuple[str, ...], message: str
) -> None:
    err = run(*args, code=2)
    assert err.startswith(message), err
    assert len(err.strip().splitlines()) == 1
    assert err.strip().endswith("--help`)")


def test_text_that_looks_like_markup_is_printed_as_typed(
    sqlite_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    run("init")
    assert run("user", "show", "[/]", code=2).startswith("error: invalid: Unknown user '[/]'")
    assert "Unknown tool: [bold]x" in run("tool", "run", "[bold]x", code=2)
    run("company", "add", "odd", "--name", "[/]Odd")
    assert "[/]Odd" in run("company", "list")
    tail = run("audit", "tail")
    assert "[bold]x" in tail and "Unknown tool: [bold]x" in tail


def test_commands_before_init_explain_what_to_do(masterai_home: Path) -> None:
    assert "run `masterai init` first" in run("tool", "list", code=1)
    assert (masterai_home / "masterai.db").exists()


def test_tool_run_is_audited_and_destructive_operations_need_yes(home: Database) -> None:
    run("init")
    assert run("tool", "run", "clock", "--args", '{"operation": "get_time"}').startswith("20")
    write = (
        "tool",
        "run",
        "filesystem",
        "--args",
        '{"operation": "write_file", "path": "shared/n.txt", "content": "hi"}',
    )
    assert "pass --yes to approve" in run(*write, code=3)
    assert "Wrote 2 bytes" in run(*write, "--yes")
    invalid = runner.invoke(
        app, ["tool", "run", "clock", "--args", '{"operation": "nap"}', "--json"]
    )
    assert invalid.exit_code == 2
    assert json.loads(invalid.stdout)["status"] == "invalid"
    records = json.loads(run("audit", "tail", "--json"))
    assert [(r["tool"], r["operation"], r["status"], r["user"]) for r in records] == [
        ("admin", "add_user", "ok", "masterai init"),
        ("clock", "get_time", "ok", "admin"),
        ("filesystem", "write_file", "denied", "admin"),
        ("filesystem", "write_file", "ok", "admin"),
        ("clock", "nap", "invalid", "admin"),
    ]
    assert [
        r["id"] for r in json.loads(run("audit", "search", "--tool", "filesystem", "--json"))
    ] == [3, 4]
    # reading the audit is audited too: the tail (6) and the search (7) before this verify
    assert "ok: 7 records verified" in run("audit", "verify")


def test_tool_run_audits_the_client_address_and_company_context(
    home: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass
    import socket

    run("init")
    run("company", "add", "acme", "--name", "Acme")
    run("user", "add", "ann", "--role", "analyst", "--company", "acme")
    clock = '{"operation": "get_time"}'
    run("tool", "run", "clock", "--args", clock, "--company", "acme", "--as", "ann")
    monkeypatch.setenv("SSH_CLIENT", "203.0.113.7 50123 22")
    run("tool", "run", "clock", "--args", clock, "--company", "globex", code=2)
    run("company", "add", "globex", "--name", "Globex")
    run("tool", "run", "clock", "--args", clock, "--company", "globex", "--as", "ann", code=3)
    local = f"cli:{getpass.getuser()}@{socket.gethostname()}"[:64]
    remote = f"203.0.113.7 {local}"[:64]
    records = json.loads(run("audit", "tail", "--json"))
    assert [
        (r["user"], r["tool"], r["status"], r["company_id"], r["client_address"])
        for r in records
        if r["tool"] == "clock"
    ] == [
        ("ann", "clock", "ok", "acme", local),
        ("admin", "clock", "invalid", "globex", remote),
        ("ann", "clock", "denied", "globex", remote),
    ]
    records = [r for r in records if r["user"] == "ann"]
    found = json.loads(
        run("audit", "search", "--tool", "clock", "--user", "ann", "--company", "acme", "--json")
    )
    assert [r["id"] for r in found] == [records[0]["id"]]
    assert local in run("audit", "search", "--user", "ann", "--company", "acme")
    assert json.loads(run("audit", "search", "--company", "acme", "--since", "1h", "--json"))
    assert json.loads(run("audit", "search", "--since", "2999-01-01", "--json")) == []


def test_the_filesystem_tool_is_confined_to_the_workspace_under_home(
    sqlite_home: Path, tmp_path: Path
) -> None:
    run("init")

    def write(path: str, code: int = 0) -> str:
        args = json.dumps({"operation": "write_file", "path": path, "content": "hi"})
        return run("tool", "run", "filesystem", "--args", args, "--yes", code=code)

    write("shared/notes/n.txt")
    assert (sqlite_home / "workspace" / "shared" / "notes" / "n.txt").read_text() == "hi"
    outside = tmp_path / "outside"
    outside.mkdir()
    (sqlite_home / "workspace" / "shared" / "out").symlink_to(outside)
    for path, reason, code in [
        ("../escape.txt", "must not contain '..'", 2),
        (str(outside / "escape.txt"), "must be relative", 2),
        ("notes/n.txt", "outside the workspace areas", 2),
        # a link is never followed: refused when the path is opened (docs/workspace.md)
        ("shared/out/escape.txt", "is a symbolic link", 1),
    ]:
        assert reason in write(path, code=code)
    assert list(outside.iterdir()) == []
    assert not (sqlite_home / "escape.txt").exists()
    statuses = [r["status"] for r in json.loads(run("audit", "tail", "--json"))]
    assert statuses[-5:] == ["ok", "invalid", "invalid", "invalid", "failed"]


def test_audit_verify_exits_non_zero_naming_the_tampered_record(home: Database) -> None:
    run("init")
    for _ in range(3):
        run("tool", "run", "clock", "--args", '{"operation": "get_time"}')
    with home.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET user_name = 'mallory' WHERE id = 2"))
    assert run("audit", "verify", code=1).startswith("error: audit chain broken at record 2:")
    report = runner.invoke(app, ["audit", "verify", "--json"])
    assert report.exit_code == 1
    assert json.loads(report.stdout)["first_broken_id"] == 2
    assert json.loads(report.stdout)["problem"] == "modified"


CLOCK = '{"operation": "get_time"}'


def one_error_line(*args: str) -> str:
    """Run a command that must fail with exit status 1 and exactly one stderr line."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def test_init_creates_a_private_audit_key_that_signs_every_record(
    home: Database, masterai_home: Path
) -> None:
    import stat

    summary = json.loads(run("init", "--json"))
    key_file = masterai_home / "audit.key"
    assert summary["audit_key"] == f"the audit key file {key_file.absolute()}"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert "Audit records are signed with the audit key file" in run("init")
    run("tool", "run", "clock", "--args", CLOCK)
    assert {r["key_epoch"] for r in json.loads(run("audit", "tail", "--json"))} == {1}
    # the head after init's add_user, the run and the tail, signed outside the database
    checkpoint = json.loads((masterai_home / "audit.checkpoint").read_text())
    assert (checkpoint["last_id"], checkpoint["key_epoch"]) == (3, 1)
    assert "ok: 3 records verified" in run("audit", "verify")


def test_audit_verify_names_the_checkpoint_when_the_newest_records_are_deleted(
    home: Database, masterai_home: Path
) -> None:
    run("init")
    for _ in range(4):
        run("tool", "run", "clock", "--args", CLOCK)
    with home.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE id > 3"))
    checkpoint = masterai_home.absolute() / "audit.checkpoint"
    assert one_error_line("audit", "verify").startswith(
        f"error: audit chain broken at record 4: records 4 to 5 are missing: the checkpoint "
        f"file {checkpoint} records 5 records"
    )
    report = runner.invoke(app, ["audit", "verify", "--json"])
    assert report.exit_code == 1
    assert {k: json.loads(report.stdout)[k] for k in ("problem", "checkpoint")} == {
        "problem": "truncated",
        "checkpoint": f"the checkpoint file {checkpoint}",
    }


def test_a_malformed_row_is_one_line_from_verify_and_marked_by_tail_and_search(
    home: Database,
) -> None:
    run("init")
    for _ in range(2):
        run("tool", "run", "clock", "--args", CLOCK)
    with home.engine.begin() as conn:  # the one malformation both databases can store
        conn.execute(text("UPDATE audit_log SET company_ids = '[\"acme\",' WHERE id = 2"))
    assert one_error_line("audit", "verify").startswith(
        "error: audit chain broken at record 2: record 2 is malformed: company_ids is not a "
        "JSON list of company ids"
    )
    report = runner.invoke(app, ["audit", "verify", "--json"])
    assert report.exit_code == 1
    assert json.loads(report.stdout)["problem"] == "malformed"
    for args in (("audit", "tail", "--json"), ("audit", "search", "--tool", "clock", "--json")):
        (marked,) = [r for r in json.loads(run(*args)) if r["id"] == 2]
        assert marked["status"] == "malformed"
        assert marked["problems"][0].startswith("company_ids is not a JSON list")
    assert re.search(r"^\s*2 .*clock\.get_time\s+malformed", run("audit", "tail"), re.M)


def test_rows_with_bad_json_and_bad_timestamps_never_give_a_traceback(
    sqlite_home: Path,
) -> None:
    run("init")
    for _ in range(3):
        run("tool", "run", "clock", "--args", CLOCK)
    database = Database(f"sqlite:///{sqlite_home / 'masterai.db'}")
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET params = '{oops' WHERE id = 3"))
        conn.execute(text("UPDATE audit_log SET created_at = 'soon' WHERE id = 4"))
    database.dispose()
    assert "record 3 is malformed: params is not valid JSON: '{oops'" in one_error_line(
        "audit", "verify"
    )
    records = {r["id"]: r for r in json.loads(run("audit", "tail", "--json"))}
    assert (records[3]["status"], records[3]["params"]) == ("malformed", None)
    assert (records[4]["status"], records[4]["created_at"]) == ("malformed", None)
    assert records[5]["status"] == "ok"
    table = run("audit", "tail")
    assert re.search(r"^\s*4\s+\?\s+admin\s+clock\.get_time\s+malformed", table, re.M), table


def test_rotate_key_starts_a_new_epoch_and_earlier_records_still_verify(
    home: Database, masterai_home: Path
) -> None:
    run("init")
    run("tool", "run", "clock", "--args", CLOCK)
    rotated = json.loads(run("audit", "rotate-key", "--json"))
    assert (rotated["key_epoch"], rotated["epochs"]) == (2, [1, 2])
    assert "Started audit key epoch 3" in run("audit", "rotate-key")
    run("tool", "run", "clock", "--args", CLOCK)
    epochs = [r["key_epoch"] for r in json.loads(run("audit", "tail", "--json"))]
    assert epochs == [1, 1, 2, 3, 3]  # each rotation's own record is the new epoch's first
    assert "ok: 6 records verified" in run("audit", "verify")
    assert list(json.loads((masterai_home / "audit.key").read_text())["keys"]) == ["1", "2", "3"]


def test_a_missing_key_file_for_signed_records_is_one_error_line(
    home: Database, masterai_home: Path
) -> None:
    run("init")
    run("tool", "run", "clock", "--args", CLOCK)
    key_file = masterai_home / "audit.key"
    key_file.unlink()
    for args in (("audit", "verify"), ("audit", "tail"), ("init",)):
        message = one_error_line(*args)
        assert message.startswith(
            f"error: The audit key is missing: the audit key file {key_file.absolute()} does "
            "not exist, but records are signed from record 1 on"
        ), message
    assert not key_file.exists()


def test_a_key_given_by_the_setting_is_not_rotated_by_the_cli(
    home: Database, masterai_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTERAI_AUDIT__KEY", "k" * 40)
    assert json.loads(run("init", "--json"))["audit_key"] == "the setting MASTERAI_AUDIT__KEY"
    assert not (masterai_home / "audit.key").exists()
    message = one_error_line("audit", "rotate-key")
    assert message.startswith("error: failed: The audit key comes from MASTERAI_AUDIT__KEY")
    assert "k" * 40 not in message
    assert "ok: 2 records verified" in run("audit", "verify")  # init's and the refusal


def test_db_upgrade_creates_and_migrates_the_embedded_database(masterai_home: Path) -> None:
    from masterai.store.migrate import head_revision

    assert f"Database at revision {head_revision()}" in run("db", "upgrade")
    assert (masterai_home / "masterai.db").exists()
    assert f"revision {head_revision()}" in run("db", "upgrade")


def test_user_tokens_authenticate_as_that_user(home: Database) -> None:
    from masterai.security import authenticate_token

    run("init")
    run("user", "add", "vic", "--role", "viewer")
    token = run("user", "token", "vic", "--name", "laptop").strip()
    assert authenticate_token(home, token).name == "vic"
    assert "laptop" not in token


def test_a_bad_value_in_user_grant_changes_nothing(sqlite_home: Path) -> None:
    run("init")
    run("company", "add", "acme", "--name", "Acme")
    run("user", "add", "ann", "--role", "viewer")
    err = run(
        "user",
        "grant",
        "ann",
        "--role",
        "admin",
        "--company",
        "acme",
        "--set",
        "tools.code=x",
        code=2,
    )
    assert err.startswith("error: invalid: tools.code must be one of none, read, write, got 'x'")
    (ann,) = [u for u in json.loads(run("user", "list", "--json")) if u["name"] == "ann"]
    assert (ann["role"], ann["companies"], ann["grants"]) == ("viewer", {}, {})


def test_user_show_prints_effective_permissions(home: Database) -> None:
    run("init")
    run("company", "add", "acme", "--name", "Acme")
    run("user", "add", "ann", "--role", "analyst", "--company", "acme")
    run("user", "grant", "ann", "--set", "tools.code=read")
    shown = json.loads(run("user", "show", "ann", "--json"))
    assert shown["role"] == "analyst"
    assert shown["permissions"]["data_access"]["read_companies"] == ["acme"]
    assert shown["permissions"]["tools"]["code"] == "read"
    assert shown["permissions"]["code_execution"]["enabled"] is False
    assert "tools.analytics" in run("user", "show", "ann")
    assert run("user", "show", "nobody", code=2).startswith("error: invalid: Unknown user 'nobody'")


def test_an_unreachable_database_is_one_line_without_the_password(
    masterai_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASTERAI_DATABASE_URL", "postgresql://app:hunter2@127.0.0.1:1/x")
    err = run("company", "list", code=1)
    assert err.startswith("error: Cannot open the database postgresql+psycopg://app:***@")
    assert "hunter2" not in err
    assert len(err.strip().splitlines()) == 1


def test_tool_show_describes_parameters_roles_and_needs(sqlite_home: Path) -> None:
    run("init")
    shown = json.loads(run("tool", "show", "configuration", "update_prompt", "--json"))
    (op,) = shown["operations"]
    assert (op["name"], op["needs_approval"], op["names_company"], op["calls_model"]) == (
        "update_prompt",
        True,
        True,
        False,
    )
    params = {p["name"]: (p["type"], p["required"], p["role"]) for p in op["parameters"]}
    assert params["company_id"] == ("string", True, "company")
    assert params["prompt"] == ("string", True, None)
    text = run("tool", "show", "configuration", "test_configuration")
    assert "needs: a model (costs money), company access" in text
    run("user", "add", "vic", "--role", "viewer")
    err = run("tool", "show", "admin", "--as", "vic", code=2)
    assert err.startswith("error: Unknown tool 'admin'")


def test_tool_run_exits_with_the_status_of_the_program_it_ran(sqlite_home: Path) -> None:
    require_bwrap()
    run("init")
    program = {
        "operation": "execute_code",
        "language": "python",
        "code": "import sys; print('partial'); sys.exit(4)",
    }
    result = runner.invoke(app, ["tool", "run", "code", "--args", json.dumps(program)])
    assert result.exit_code == 4, (result.stdout, result.stderr)
    assert "Program exit code 4" in result.stdout and "partial" in result.stdout
    as_json = runner.invoke(app, ["tool", "run", "code", "--args", json.dumps(program), "--json"])
    assert as_json.exit_code == 4
    assert json.loads(as_json.stdout)["data"]["result"]["exit_code"] == 4


def require_bwrap() -> None:
    from service_guard import require_service

    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")


def test_the_audit_statuses_of_the_cli_are_the_audit_layer_s() -> None:
    from masterai.audit import STATUSES
    from masterai.cli.audit import STATUSES as CLI_STATUSES

    assert CLI_STATUSES == STATUSES
