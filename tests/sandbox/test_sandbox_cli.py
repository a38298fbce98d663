"""``masterai exec`` and ``masterai sandbox ...`` through Typer's runner, on real backends.

``masterai exec`` is a call of the ``code`` tool (see ``tests/cli/test_cli_exec_face.py``
for its audit and permissions); these tests run it on each backend.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from sandbox_helpers import RUN_DIR
from typer.testing import CliRunner

from masterai.cli import app
from masterai.sandbox import CodeExecutionEnvironment

runner = CliRunner()


@pytest.fixture(autouse=True)
def _test_settings(
    masterai_home: Path, _sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An initialised home (``masterai exec`` acts as its local super admin)."""
    masterai_home.mkdir(parents=True)
    shutil.copyfile(_sqlite_template, masterai_home / "masterai.db")
    monkeypatch.setenv("MASTERAI_SANDBOX__RUN_DIR", str(RUN_DIR))
    monkeypatch.setenv("MASTERAI_SANDBOX__CGROUP_PARENT", "masterai-sandbox-tests")
    assert runner.invoke(app, ["init"]).exit_code == 0


def test_exec_json_prints_the_result_and_exits_with_the_programs_status(
    sandbox: CodeExecutionEnvironment,
) -> None:
    code = "import sys; open('out.txt', 'w').write('hi'); print('six'); sys.exit(6)"
    args = ["exec", "-l", "python", "--code", code, "--json", "--backend", sandbox.backend.name]
    result = runner.invoke(app, args)
    assert result.exit_code == 6, result.output
    data = json.loads(result.stdout)
    assert data["output"] == "six\n" and data["exit_code"] == 6
    assert data["backend"] == sandbox.backend.name
    assert base64.b64decode(data["files"]["out.txt"]) == b"hi"


def test_exec_file_prints_output_and_a_status_line(tmp_path: Path) -> None:
    program = tmp_path / "prog.sh"
    program.write_text("cat data.txt; echo warn >&2")
    (tmp_path / "data.txt").write_text("from input\n")
    args = ["exec", "-l", "bash", "-f", str(program), "-i", str(tmp_path / "data.txt")]
    result = runner.invoke(app, [*args, "--timeout", "5", "--memory", "64m", "--cpus", "0.5"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "from input\n"
    assert "warn\n" in result.stderr and "-- exit 0 in" in result.stderr


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["-l", "cobol", "--code", "x"], 2, "invalid: 'language' must be one of"),
        (["-l", "python"], 2, "Give exactly one of --code TEXT or --file PATH"),
        (["-l", "python", "--code", "1", "--memory", "0"], 2, "Invalid memory: '0'"),
        (["-l", "python", "--code", "1", "--memory", "huge"], 3, "Invalid size 'huge'"),
        (["-l", "python", "--code", "1", "--timeout", "99999"], 3, "timeout 99999.0s exceeds"),
        (["-l", "python", "--code", "1", "--backend", "vm"], 2, "'backend' must be one of"),
        (["-l", "python", "-f", "/nonexistent.py"], 2, "Cannot read --file '/nonexistent.py'"),
    ],
)
def test_exec_refuses_bad_input_with_one_clear_line(
    args: list[str], status: int, message: str
) -> None:
    result = runner.invoke(app, ["exec", *args])
    assert result.exit_code == status
    assert result.stderr.startswith("error: ") and message in result.stderr


def test_doctor_reports_each_backend_and_runtime() -> None:
    result = runner.invoke(app, ["sandbox", "doctor", "--json"])
    report = json.loads(result.stdout)
    assert set(report["checks"]) >= {"backend bubblewrap", "backend docker", "runtime python"}
    assert result.exit_code == (0 if report["checks"]["backend bubblewrap"] == "ok" else 1)
