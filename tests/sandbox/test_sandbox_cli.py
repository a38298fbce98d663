"""``masterai exec`` and ``masterai sandbox ...`` through Typer's runner, on real backends."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sandbox_helpers import RUN_DIR
from typer.testing import CliRunner

from masterai.cli import app
from masterai.sandbox import CodeExecutionEnvironment

runner = CliRunner()


@pytest.fixture(autouse=True)
def _test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTERAI_SANDBOX__RUN_DIR", str(RUN_DIR))
    monkeypatch.setenv("MASTERAI_SANDBOX__CGROUP_PARENT", "masterai-sandbox-tests")


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
    ("args", "message"),
    [
        (["-l", "cobol", "--code", "x"], "Unsupported language: 'cobol'. Supported languages:"),
        (["-l", "python"], "Give exactly one of --code TEXT or --file PATH"),
        (["-l", "python", "--code", "1", "--memory", "huge"], "Invalid memory: 'huge'"),
        (["-l", "python", "--code", "1", "--timeout", "99999"], "timeout 99999.0 is above"),
        (["-l", "python", "--code", "1", "--backend", "vm"], "Invalid --backend: 'vm'"),
        (["-l", "python", "-f", "/nonexistent.py"], "Cannot read --file '/nonexistent.py'"),
    ],
)
def test_exec_rejects_bad_input_with_one_clear_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["exec", *args])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and message in result.stderr


def test_doctor_reports_each_backend_and_runtime() -> None:
    result = runner.invoke(app, ["sandbox", "doctor", "--json"])
    report = json.loads(result.stdout)
    assert set(report["checks"]) >= {"backend bubblewrap", "backend docker", "runtime python"}
    assert result.exit_code == (0 if report["checks"]["backend bubblewrap"] == "ok" else 1)
