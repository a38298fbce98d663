"""The ``code`` tool through the registry: sandboxed runs, workspace files, permissions."""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
def environment() -> Iterator[CodeExecutionEnvironment]:
    """A bubblewrap environment (the configured backend of the tool under test)."""
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    # Run directories must be reachable by the sandbox user, so not under pytest's tmp_path.
    run_dir = Path(tempfile.mkdtemp(prefix="masterai-code-tool-"))
    run_dir.chmod(0o755)
    environment = CodeExecutionEnvironment(SandboxSettings(backend="bubblewrap", run_dir=run_dir))
    yield environment
    environment.close()
    shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def tool(environment: CodeExecutionEnvironment, workspace: Path) -> Iterator[CodeTool]:
    tool = CodeTool(environment, workspace)
    yield tool
    tool.close()


@pytest.fixture
def registry(tmp_path: Path, tool: CodeTool) -> ToolRegistry:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    database.upgrade()
    registry = ToolRegistry(database)
    registry.register(tool, category="code")
    return registry


def payload(content: str) -> dict[str, Any]:
    value = json.loads(content)
    assert isinstance(value, dict)
    return value


async def test_program_reads_a_workspace_file_and_its_output_is_saved_back(
    registry: ToolRegistry, workspace: Path
) -> None:
    (workspace / "companies" / "acme" / "data").mkdir(parents=True)
    (workspace / "companies" / "acme" / "data" / "numbers.csv").write_text("n\n1\n2\n3\n")
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
            "input_files": ["companies/acme/data/numbers.csv"],
            "output_dir": "companies/acme/out",
        },
        ROOT,
    )
    assert result.ok, result.error
    body = payload(result.content)
    assert body["result"]["output"] == "6\n"
    assert body["result"]["exit_code"] == 0
    assert body["result"]["saved"] == ["companies/acme/out/total.txt"]
    assert (workspace / "companies" / "acme" / "out" / "total.txt").read_text() == "60"
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


def execute(**arguments: object) -> dict[str, object]:
    return {"operation": "execute_code", **arguments}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


async def test_inline_files_reach_the_program_and_output_files_come_back_in_base64(
    registry: ToolRegistry, workspace: Path
) -> None:
    code = "data = open('in.bin', 'rb').read()\nopen('out.bin', 'wb').write(data[::-1])\n"
    arguments = execute(
        language="python", code=code, files={"in.bin": b64(b"\x00\xffab")}, include_files=True
    )
    result = await registry.execute_tool("code", arguments, ROOT)
    assert result.ok, result.error
    body = payload(result.content)["result"]
    assert body["file_contents"] == [{"name": "out.bin", "content_base64": b64(b"ba\xff\x00")}]
    assert (body["files"], body["backend"], body["language"]) == (
        {"out.bin": 4},
        "bubblewrap",
        "python",
    )
    assert list(workspace.iterdir()) == []  # nothing saved without output_dir


async def test_output_file_contents_are_left_out_unless_asked_for(
    registry: ToolRegistry,
) -> None:
    arguments = execute(language="bash", code="echo hi > a.txt")
    result = await registry.execute_tool("code", arguments, ROOT)
    assert result.ok, result.error
    body = payload(result.content)["result"]
    assert body["files"] == {"a.txt": 3}
    assert "file_contents" not in body


async def test_an_inline_file_that_is_not_base64_is_invalid(registry: ToolRegistry) -> None:
    arguments = execute(language="bash", code="true", files={"a.txt": "not base64!"})
    result = await registry.execute_tool("code", arguments, ROOT)
    assert result.status == "invalid"
    assert "'files.a.txt' must be the file's content encoded as base64" in (result.error or "")


async def test_an_inline_file_name_with_a_path_is_invalid(registry: ToolRegistry) -> None:
    arguments = execute(language="bash", code="true", files={"../x": b64(b"x")})
    result = await registry.execute_tool("code", arguments, ROOT)
    assert result.status == "invalid"
    assert "Invalid input file name: '../x'" in (result.error or "")


async def test_a_limit_above_the_sandbox_ceiling_is_invalid(registry: ToolRegistry) -> None:
    result = await registry.execute_tool(
        "code", execute(language="bash", code="true", cpus=64), ROOT
    )
    assert result.status == "invalid"
    assert "cpus 64 is above the allowed maximum" in (result.error or "")


async def test_a_network_other_than_none_is_invalid(registry: ToolRegistry) -> None:
    result = await registry.execute_tool(
        "code", execute(language="bash", code="true", network="host"), ROOT
    )
    assert result.status == "invalid"
    assert "'network' must be one of 'none'" in (result.error or "")


def test_the_configured_backend_is_served_by_the_tools_own_environment(
    tool: CodeTool, environment: CodeExecutionEnvironment
) -> None:
    assert tool.environment_for(None) is environment
    assert tool.environment_for("bubblewrap") is environment


def test_another_backend_gets_one_environment_kept_for_later_calls(tool: CodeTool) -> None:
    docker = tool.environment_for("docker")
    assert docker.backend.name == "docker"
    assert tool.environment_for("docker") is docker


async def test_a_call_may_choose_the_docker_backend(registry: ToolRegistry, tool: CodeTool) -> None:
    from masterai.sandbox import SandboxError
    from masterai.sandbox.images import iter_missing

    docker = tool.environment_for("docker")
    try:
        docker.backend.check()
        missing = list(iter_missing(docker.backend.client, docker.settings))  # type: ignore[attr-defined]
    except SandboxError as e:
        missing = [f"backend unavailable: {e}"]
    require_service(not missing, f"docker sandbox unavailable: {missing}")
    arguments = execute(language="bash", code="echo hi", backend="docker")
    result = await registry.execute_tool("code", arguments, ROOT)
    assert result.ok, result.error
    body = payload(result.content)["result"]
    assert (body["output"], body["backend"]) == ("hi\n", "docker")
