"""``masterai exec``: a face over the ``code`` tool (Typer's runner, real bubblewrap sandbox).

Every run is one audited registry call as the local super admin (or ``--as`` a user), so a
fresh ``MASTERAI_HOME`` is initialised for each test.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from masterai.audit import AuditLog
from masterai.cli import app
from masterai.store import Database
from masterai.store.models import AuditRecord
from service_guard import require_service

runner = CliRunner()

# Run directories must be reachable by the sandbox user, so not under pytest's tmp_path.
RUN_DIR = Path(f"/tmp/masterai-cli-exec-tests-{os.getpid()}")
CGROUP_PARENT = f"masterai-cli-exec-tests-{os.getpid()}"
CONTRACT_KEYS = {
    "output",
    "error",
    "exit_code",
    "execution_time",
    "timed_out",
    "memory_exceeded",
    "output_truncated",
    "files",
    "backend",
    "language",
}


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module", autouse=True)
def _sandbox_traces() -> Iterator[None]:
    yield
    # Each command's sandboxes built ahead end when its environment is collected.
    gc.collect()
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    parents = [
        Path("/sys/fs/cgroup") / controller / CGROUP_PARENT
        for controller in ("memory", "pids", "cpu", "unified", "")
    ]
    deadline = time.monotonic() + 10
    while any(p.is_dir() and any(p.glob("*/")) for p in parents) and time.monotonic() < deadline:
        time.sleep(0.05)
    for parent in parents:
        with contextlib.suppress(OSError):
            parent.rmdir()


@pytest.fixture(autouse=True)
def home(masterai_home: Path, _sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialised home (local super admin ``admin``) whose sandbox is bubblewrap."""
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    masterai_home.mkdir(parents=True)
    shutil.copyfile(_sqlite_template, masterai_home / "masterai.db")
    monkeypatch.setenv("MASTERAI_SANDBOX__BACKEND", "bubblewrap")
    monkeypatch.setenv("MASTERAI_SANDBOX__RUN_DIR", str(RUN_DIR))
    monkeypatch.setenv("MASTERAI_SANDBOX__CGROUP_PARENT", CGROUP_PARENT)
    initialised = invoke("init")
    assert initialised.exit_code == 0, initialised.stderr
    return masterai_home


def audit_records(home: Path) -> list[AuditRecord]:
    database = Database(f"sqlite:///{home / 'masterai.db'}")
    try:
        return AuditLog(database).recent(100)
    finally:
        database.dispose()


def test_exec_prints_the_output_and_exits_with_the_programs_status() -> None:
    code = "import sys; print('six'); print('warn', file=sys.stderr); sys.exit(6)"
    result = invoke("exec", "--language", "python", "--code", code)
    assert result.exit_code == 6, result.stderr
    assert result.stdout == "six\n"
    assert result.stderr.startswith("warn\n-- exit 6 in ")
    assert result.stderr.endswith("s (bubblewrap)\n")


def test_exec_status_line_counts_the_output_files() -> None:
    result = invoke("exec", "-l", "bash", "--code", "echo a > a.txt; echo b > b.txt")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.endswith("(bubblewrap), 2 output file(s)\n")


def test_exec_json_prints_the_contract_keys_with_base64_output_files() -> None:
    code = "import sys; open('out.txt', 'w').write('hi'); print('six'); sys.exit(6)"
    result = invoke("exec", "-l", "python", "--code", code, "--json")
    assert result.exit_code == 6, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == CONTRACT_KEYS
    assert (data["output"], data["exit_code"], data["backend"], data["language"]) == (
        "six\n",
        6,
        "bubblewrap",
        "python",
    )
    assert data["files"] == {"out.txt": base64.b64encode(b"hi").decode()}


def test_input_files_and_stdin_reach_the_program(tmp_path: Path) -> None:
    (tmp_path / "prog.sh").write_text("cat named.txt data.bin; tr a-z A-Z")
    (tmp_path / "some.txt").write_text("first\n")
    (tmp_path / "data.bin").write_bytes(b"second\n")
    (tmp_path / "stdin.txt").write_text("third\n")
    result = invoke(
        "exec",
        "-l",
        "bash",
        "--file",
        str(tmp_path / "prog.sh"),
        "--input",
        f"named.txt={tmp_path / 'some.txt'}",
        "-i",
        str(tmp_path / "data.bin"),
        "--stdin",
        str(tmp_path / "stdin.txt"),
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "first\nsecond\nTHIRD\n"


def test_output_dir_gets_the_programs_files(tmp_path: Path) -> None:
    code = "mkdir sub; printf hi > a.txt; printf '\\377' > sub/b.bin"
    out = tmp_path / "out"
    result = invoke("exec", "-l", "bash", "--code", code, "--output-dir", str(out))
    assert result.exit_code == 0, result.stderr
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "a.txt",
        "sub/b.bin",
    ]
    assert ((out / "a.txt").read_bytes(), (out / "sub" / "b.bin").read_bytes()) == (b"hi", b"\xff")


def test_a_program_killed_at_its_time_limit_exits_137() -> None:
    result = invoke("exec", "-l", "bash", "--code", "sleep 30", "--timeout", "1")
    assert result.exit_code == 137, result.stderr
    assert "[timed_out]" in result.stderr


def test_exec_leaves_exactly_one_audit_record_of_the_code_tool(home: Path) -> None:
    before = audit_records(home)
    result = invoke("exec", "-l", "python", "--code", "print(1)")
    assert result.exit_code == 0, result.stderr
    added = audit_records(home)[len(before) :]
    assert [(r.tool, r.operation, r.status, r.user_name) for r in added] == [
        ("code", "execute_code", "ok", "admin")
    ]
    assert (added[0].client_address or "").startswith("cli:")


def test_as_a_viewer_is_denied_with_status_3_and_audited(home: Path) -> None:
    assert invoke("user", "add", "vic", "--role", "viewer").exit_code == 0
    result = invoke("exec", "-l", "python", "--code", "print(1)", "--as", "vic")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith("error: denied: ") and result.stderr.count("\n") == 1
    newest = audit_records(home)[-1]
    assert (newest.tool, newest.operation, newest.status, newest.user_name) == (
        "code",
        "execute_code",
        "denied",
        "vic",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-l", "python", "--timeout", "60"], "timeout 60.0s exceeds the limit of 30s"),
        (["-l", "python", "--memory", "1g"], "memory '1g' exceeds the limit of 512m"),
        (["-l", "bash"], "language 'bash' is not allowed"),
    ],
)
def test_a_run_beyond_the_users_code_execution_permissions_is_denied(
    home: Path, args: list[str], message: str
) -> None:
    assert invoke("user", "add", "ada", "--role", "admin").exit_code == 0
    result = invoke("exec", *args, "--code", "1", "--as", "ada")
    assert result.exit_code == 3, result.stderr
    assert result.stderr.startswith("error: denied: ") and message in result.stderr
    assert audit_records(home)[-1].status == "denied"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-l", "cobol", "--code", "x"], "'language' must be one of"),
        (["-l", "python"], "Give exactly one of --code TEXT or --file PATH"),
        (["-l", "python", "--code", "1", "--backend", "vm"], "'backend' must be one of"),
        (["-l", "python", "--code", "1", "--network", "host"], "'network' must be one of"),
        (["-l", "python", "--code", "1", "--cpus", "64"], "cpus 64.0 is above the allowed"),
        (["-l", "python", "-f", "/nonexistent.py"], "Cannot read --file '/nonexistent.py'"),
        (["-l", "bash", "--code", "1", "-i", ".env=/dev/null"], "Invalid input file name"),
    ],
)
def test_invalid_arguments_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = invoke("exec", *args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1
