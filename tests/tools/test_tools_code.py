"""The ``code`` tool through the registry: sandboxed runs, workspace files, permissions."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from masterai.registry import ExecutionContext, ToolRegistry
from masterai.sandbox import CodeExecutionEnvironment
from masterai.security import Principal, role_defaults, system_principal
from masterai.settings import SandboxSettings
from masterai.store import Database
from masterai.tools.code import CodeTool
from service_guard import require_service

ROOT = ExecutionContext(principal=system_principal("root"))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def registry(tmp_path: Path, workspace: Path) -> Iterator[ToolRegistry]:
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    database.upgrade()
    # Run directories must be reachable by the sandbox user, so not under pytest's tmp_path.
    run_dir = Path(tempfile.mkdtemp(prefix="masterai-code-tool-"))
    run_dir.chmod(0o755)
    environment = CodeExecutionEnvironment(SandboxSettings(backend="bubblewrap", run_dir=run_dir))
    registry = ToolRegistry(database)
    registry.register(CodeTool(environment, workspace), category="code")
    yield registry
    environment.close()
    shutil.rmtree(run_dir, ignore_errors=True)


def payload(content: str) -> dict[str, object]:
    value = json.loads(content)
    assert isinstance(value, dict)
    return value


async def test_program_reads_a_workspace_file_and_its_output_is_saved_back(
    registry: ToolRegistry, workspace: Path
) -> None:
    (workspace / "data").mkdir()
    (workspace / "data" / "numbers.csv").write_text("n\n1\n2\n3\n")
    code = (
        "import csv\n"
        "rows = [int(r['n']) for r in csv.DictReader(open('numbers.csv'))]\n"
        "print(sum(rows))\n"
        "open('total.txt', 'w').write(str(sum(rows) * 10))\n"
    )
    result = await registry.execute_tool(
        "code",
        {
            "operation": "execute_code",
            "language": "python",
            "code": code,
            "input_files": ["data/numbers.csv"],
            "output_dir": "out",
        },
        ROOT,
    )
    assert result.ok, result.error
    body = payload(result.content)
    assert body["result"]["output"] == "6\n"
    assert body["result"]["exit_code"] == 0
    assert body["result"]["saved"] == ["out/total.txt"]
    assert (workspace / "out" / "total.txt").read_text() == "60"
    assert "exit code 0" in body["summary"]


async def test_input_files_outside_the_workspace_are_refused(registry: ToolRegistry) -> None:
    result = await registry.execute_tool(
        "code",
        {
            "operation": "execute_code",
            "language": "bash",
            "code": "cat shadow",
            "input_files": ["../../etc/shadow"],
        },
        ROOT,
    )
    assert not result.ok
    assert "'input_files[0]' must not contain '..'" in (result.error or "")


async def test_a_timeout_is_reported_not_raised(registry: ToolRegistry) -> None:
    result = await registry.execute_tool(
        "code",
        {"operation": "execute_code", "language": "bash", "code": "sleep 30", "timeout": 1},
        ROOT,
    )
    assert result.ok
    body = payload(result.content)
    assert body["result"]["timed_out"] is True
    assert "timed out" in body["summary"]


async def test_viewers_may_not_run_code_and_admins_only_within_their_limits(
    registry: ToolRegistry,
) -> None:
    viewer = ExecutionContext(
        principal=Principal(name="vera", role="viewer", permissions=role_defaults("viewer"))
    )
    denied = await registry.execute_tool(
        "code", {"operation": "execute_code", "language": "python", "code": "print(1)"}, viewer
    )
    assert not denied.ok
    assert denied.status == "denied"

    admin = ExecutionContext(
        principal=Principal(name="ada", role="admin", permissions=role_defaults("admin"))
    )
    too_long = await registry.execute_tool(
        "code",
        {"operation": "execute_code", "language": "python", "code": "print(1)", "timeout": 999},
        admin,
    )
    assert not too_long.ok
    assert "exceeds the limit" in (too_long.error or "")
    bash = await registry.execute_tool(
        "code", {"operation": "execute_code", "language": "bash", "code": "id"}, admin
    )
    assert not bash.ok
    assert "language 'bash' is not allowed" in (bash.error or "")


async def test_unknown_language_is_rejected_with_the_supported_ones(
    registry: ToolRegistry,
) -> None:
    result = await registry.execute_tool(
        "code", {"operation": "execute_code", "language": "cobol", "code": "x"}, ROOT
    )
    assert not result.ok
    assert "cobol" in (result.error or "")
    assert "python" in (result.error or "")
