"""The ``code`` tool's workspace files: company permissions, and approval before replacing."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from masterai.registry import ApprovalRequest, ExecutionContext, ToolRegistry, ToolResult
from masterai.sandbox import CodeExecutionEnvironment, CodeExecutionRequest, ExecutionResult
from masterai.security import Principal, role_defaults
from masterai.security.permissions import DataAccessPermissions
from masterai.settings import SandboxSettings
from masterai.store import Database
from masterai.tools.code import CodeTool
from service_guard import require_service

ADA = Principal(
    name="ada",
    role="admin",
    permissions=dataclasses.replace(
        role_defaults("admin"),
        data_access=DataAccessPermissions(write_companies=frozenset({"acme"})),
    ),
)
OUT = "companies/acme/out"


class Approver:
    """Records what it was asked and answers ``answer``."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.requests: list[ApprovalRequest] = []

    async def __call__(self, request: ApprovalRequest) -> bool:
        self.requests.append(request)
        return self.answer


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "workspace"


@pytest.fixture
def tool(workspace: Path) -> Iterator[CodeTool]:
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    # Run directories must be reachable by the sandbox user, so not under pytest's tmp_path.
    run_dir = Path(tempfile.mkdtemp(prefix="masterai-code-ws-"))
    run_dir.chmod(0o755)
    environment = CodeExecutionEnvironment(SandboxSettings(backend="bubblewrap", run_dir=run_dir))
    tool = CodeTool(environment, workspace)
    yield tool
    tool.close()
    shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def registry(tmp_path: Path, tool: CodeTool) -> Iterator[ToolRegistry]:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    database.upgrade()
    registry = ToolRegistry(database)
    registry.register(tool, category="code")
    yield registry
    database.dispose()


async def run(
    registry: ToolRegistry, approver: Approver | None = None, **arguments: Any
) -> ToolResult:
    params = {"operation": "execute_code", "language": "python", **arguments}
    return await registry.execute_tool(
        "code", params, ExecutionContext(principal=ADA, approver=approver)
    )


WRITE_NEW = "open('result.txt', 'w').write('NEW')"


async def test_output_dir_over_existing_files_is_refused_without_approval(
    registry: ToolRegistry, workspace: Path
) -> None:
    (workspace / OUT).mkdir(parents=True)
    (workspace / OUT / "result.txt").write_text("OLD")
    refused = Approver(False)
    result = await run(registry, refused, code=WRITE_NEW, output_dir=OUT)
    assert (result.status, (workspace / OUT / "result.txt").read_text()) == ("denied", "OLD")
    (request,) = refused.requests
    assert request.preview is not None and "Already there: result.txt" in request.preview
    nobody = await run(registry, None, code=WRITE_NEW, output_dir=OUT)
    assert (nobody.status, (workspace / OUT / "result.txt").read_text()) == ("denied", "OLD")


async def test_an_approved_run_replaces_the_files_in_output_dir(
    registry: ToolRegistry, workspace: Path
) -> None:
    (workspace / OUT).mkdir(parents=True)
    (workspace / OUT / "result.txt").write_text("OLD")
    result = await run(registry, Approver(True), code=WRITE_NEW, output_dir=OUT)
    assert result.ok, result.error
    assert result.data["result"]["saved"] == [f"{OUT}/result.txt"]
    assert (workspace / OUT / "result.txt").read_text() == "NEW"


async def test_a_new_output_dir_is_written_without_asking(
    registry: ToolRegistry, workspace: Path
) -> None:
    result = await run(registry, None, code=WRITE_NEW, output_dir=OUT)
    assert result.ok, result.error
    assert (workspace / OUT / "result.txt").read_text() == "NEW"


class PlantingEnvironment:
    """Runs programs in the real sandbox, then plants a file where the output will go."""

    def __init__(self, inner: CodeExecutionEnvironment, plant: Path) -> None:
        self.inner = inner
        self.plant = plant

    async def execute_code(self, request: CodeExecutionRequest) -> ExecutionResult:
        result = await self.inner.execute_code(request)
        self.plant.write_text("PLANTED")
        return result


@pytest.mark.parametrize("answer", [False, True])
async def test_a_file_that_appears_during_the_run_is_replaced_only_if_approved(
    registry: ToolRegistry,
    tool: CodeTool,
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: bool,
) -> None:
    (workspace / OUT).mkdir(parents=True)  # empty: nobody is asked before the run
    target = workspace / OUT / "result.txt"
    planting = PlantingEnvironment(tool.environment_for(None), target)
    monkeypatch.setattr(tool, "environment_for", lambda backend: planting)
    approver = Approver(answer)
    result = await run(registry, approver, code=WRITE_NEW, output_dir=OUT)
    (request,) = approver.requests
    assert request.preview == f"Replaces '{OUT}/result.txt'"
    assert (result.ok, target.read_text()) == ((True, "NEW") if answer else (False, "PLANTED"))


async def test_output_dir_and_input_files_of_another_company_are_refused_before_running(
    registry: ToolRegistry, workspace: Path
) -> None:
    (workspace / "companies" / "globex").mkdir(parents=True)
    (workspace / "companies" / "globex" / "data.csv").write_text("secret")
    out = await run(registry, Approver(True), code=WRITE_NEW, output_dir="companies/globex/out")
    assert out.status == "denied" and "company 'globex'" in (out.error or "")
    assert not (workspace / "companies" / "globex" / "out").exists()
    read = await run(
        registry,
        Approver(True),
        code="print(open('data.csv').read())",
        input_files=["companies/globex/data.csv"],
    )
    assert read.status == "denied" and "secret" not in read.content


async def test_an_input_file_that_is_a_link_is_refused(
    registry: ToolRegistry, workspace: Path
) -> None:
    (workspace / "companies" / "acme").mkdir(parents=True)
    (workspace / "companies" / "acme" / "passwd").symlink_to("/etc/passwd")
    result = await run(
        registry, code="print(open('passwd').read())", input_files=["companies/acme/passwd"]
    )
    assert result.status == "failed" and "is a symbolic link" in (result.error or "")
    assert "root:" not in result.content


@pytest.mark.parametrize(
    ("arguments", "where"),
    [
        ({"input_files": ["../../etc/shadow"]}, "'input_files[0]' must not contain '..'"),
        ({"input_files": ["/etc/shadow"]}, "'input_files[0]' must be relative"),
        ({"output_dir": "out"}, "'output_dir' 'out' is outside the workspace areas"),
        ({"output_dir": "companies/acme/\x00"}, "'output_dir' must not contain NUL"),
    ],
)
async def test_malformed_workspace_paths_are_invalid(
    registry: ToolRegistry, arguments: dict[str, Any], where: str
) -> None:
    result = await run(registry, code="print(1)", **arguments)
    assert result.status == "invalid"
    assert where in (result.error or "")
