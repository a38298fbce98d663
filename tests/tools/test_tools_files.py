"""The ``filesystem`` tool over the company-isolated workspace, through the registry."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from ai_tool import AIToolAuthorizationDenied, AIToolCall
from masterai.registry import ApprovalRequest, ExecutionContext, ToolRegistry, ToolResult
from masterai.security import ParameterRole, Principal, role_defaults, system_principal
from masterai.security.permissions import DataAccessPermissions
from masterai.security.workspace import WorkspaceService
from masterai.settings import Settings
from masterai.store import Database
from masterai.tools import build_registry
from masterai.tools.files import FilesystemTool

ROOT = system_principal("root")


def person(name: str, role: str, read: set[str], write: set[str]) -> Principal:
    permissions = dataclasses.replace(
        role_defaults(role),
        data_access=DataAccessPermissions(
            read_companies=frozenset(read), write_companies=frozenset(write)
        ),
    )
    return Principal(name=name, role=role, permissions=permissions)


ADA = person("ada", "admin", set(), {"acme"})
VERA = person("vera", "viewer", {"acme"}, set())
NEMO = person("nemo", "viewer", set(), set())


class Approver:
    """Records what it was asked and answers ``answer``."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.requests: list[ApprovalRequest] = []

    async def __call__(self, request: ApprovalRequest) -> bool:
        self.requests.append(request)
        return self.answer


@pytest.fixture
def registry(database: Database, tmp_path: Path) -> ToolRegistry:
    return build_registry(Settings(home=tmp_path / "home"), database)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "home" / "workspace"


async def fs(
    registry: ToolRegistry,
    who: Principal,
    operation: str,
    approver: Approver | None = None,
    **args: Any,
) -> ToolResult:
    context = ExecutionContext(principal=who, approver=approver)
    return await registry.execute_tool("filesystem", {"operation": operation, **args}, context)


async def test_the_built_in_filesystem_tool_is_the_workspace_one_with_declared_paths(
    registry: ToolRegistry,
) -> None:
    registered = registry.get("filesystem")
    assert registered is not None and isinstance(registered.tool, FilesystemTool)
    roles = {b.label: b.role for b in registered.roles_of("move")}
    assert roles == {"source": ParameterRole.PATH, "destination": ParameterRole.PATH}
    listing = {t.name: t for t in registry.list_tools(VERA)}
    assert [o.name for o in listing["filesystem"].operations] == [
        "read_file",
        "list_directory",
        "get_info",
        "search",
    ]


@pytest.mark.parametrize(
    ("operation", "args"),
    [
        ("write_file", {"path": "companies/acme/a.txt", "content": "x"}),
        ("append_to_file", {"path": "companies/acme/a.txt", "content": "x"}),
        ("delete", {"path": "companies/acme/a.txt"}),
        ("move", {"source": "companies/acme/a.txt", "destination": "companies/acme/b.txt"}),
    ],
)
async def test_changing_or_replacing_a_file_asks_first(
    registry: ToolRegistry, workspace: Path, operation: str, args: dict[str, Any]
) -> None:
    (workspace / "companies" / "acme").mkdir(parents=True)
    (workspace / "companies" / "acme" / "a.txt").write_text("original")
    refused = Approver(False)
    result = await fs(registry, ADA, operation, refused, **args)
    assert (result.status, len(refused.requests)) == ("denied", 1)
    assert (workspace / "companies" / "acme" / "a.txt").read_text() == "original"
    approved = await fs(registry, ADA, operation, Approver(True), **args)
    assert approved.ok, approved.error


async def test_creating_a_directory_or_a_copy_replaces_nothing_and_runs_unasked(
    registry: ToolRegistry, workspace: Path
) -> None:
    assert (await fs(registry, ADA, "create_directory", path="companies/acme/in")).ok
    write = await fs(
        registry, ADA, "write_file", Approver(True), path="companies/acme/in/a.txt", content="a"
    )
    assert write.content == "Wrote 1 bytes to 'companies/acme/in/a.txt'"
    copy = await fs(
        registry, ADA, "copy_file", source="companies/acme/in/a.txt", destination="users/ada/a.txt"
    )
    assert copy.content == "Copied 'companies/acme/in/a.txt' to 'users/ada/a.txt'"
    again = await fs(
        registry, ADA, "copy_file", source="users/ada/a.txt", destination="companies/acme/in/a.txt"
    )
    assert (again.status, again.error) == ("failed", "'companies/acme/in/a.txt' already exists")


@pytest.mark.parametrize(
    ("who", "shown"),
    [
        (ROOT, "companies/\nshared/\nusers/"),
        (VERA, "companies/\nshared/\nusers/"),
        (NEMO, "shared/\nusers/"),
    ],
)
async def test_the_root_lists_only_the_areas_the_caller_may_see(
    registry: ToolRegistry, who: Principal, shown: str
) -> None:
    listed = await fs(registry, who, "list_directory")
    assert (listed.ok, listed.content) == (True, shown)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("../secret", "invalid"),
        ("/etc/passwd", "invalid"),
        ("notes.txt", "invalid"),
        ("companies/acme/\x00", "invalid"),
        ("companies/globex/data.txt", "denied"),
        ("users/ada/data.txt", "denied"),
        ("companies/acme/missing.txt", "failed"),
        ("companies/acme/link.txt", "failed"),
    ],
)
async def test_a_refused_read_says_why_with_its_status(
    registry: ToolRegistry, workspace: Path, path: str, status: str
) -> None:
    (workspace / "companies" / "acme").mkdir(parents=True)
    (workspace / "companies" / "acme" / "link.txt").symlink_to("/etc/hostname")
    result = await fs(registry, VERA, "read_file", path=path)
    assert result.status == status, result.error
    assert repr(path) in (result.error or "")


async def test_get_info_and_search_stay_inside_what_the_caller_may_read(
    registry: ToolRegistry, workspace: Path
) -> None:
    for company in ("acme", "globex"):
        folder = workspace / "companies" / company / "notes"
        folder.mkdir(parents=True)
        (folder / "todo.md").write_text(f"call {company} back\nnothing else\n")
    info = await fs(registry, VERA, "get_info", path="companies/acme/notes/todo.md")
    assert {k: info.data[k] for k in ("path", "type", "size")} == {
        "path": "companies/acme/notes/todo.md",
        "type": "file",
        "size": 28,
    }
    found = await fs(registry, VERA, "search", pattern="*.md", content="back")
    assert found.content == "companies/acme/notes/todo.md:1: call acme back"
    names = await fs(registry, ROOT, "search", path="companies", pattern="todo.md")
    assert names.content.splitlines() == [
        "companies/acme/notes/todo.md",
        "companies/globex/notes/todo.md",
    ]


async def test_the_audit_records_the_workspace_path_of_a_refused_call(
    registry: ToolRegistry,
) -> None:
    result = await fs(registry, VERA, "read_file", path="companies/globex/r.txt")
    (record,) = registry.audit_log.recent(1)
    assert (record.id, record.status, record.user_name) == (result.audit_id, "denied", "vera")
    assert (record.params["operation"], record.params["path"]) == (
        "read_file",
        "companies/globex/r.txt",
    )


async def test_a_caller_without_a_principal_touches_no_file(tmp_path: Path) -> None:
    tool = FilesystemTool(WorkspaceService(tmp_path / "workspace"))

    async def approve(*_: Any) -> bool:
        return True

    call = AIToolCall("1", "filesystem", {"operation": "list_directory"})
    with pytest.raises(AIToolAuthorizationDenied, match="need a known principal"):
        await tool.execute(call, "someone", approve)
    assert not (tmp_path / "workspace").exists()


async def test_nobody_is_asked_about_a_directory_the_caller_may_not_create(
    registry: ToolRegistry, workspace: Path
) -> None:
    approver = Approver(True)
    result = await fs(registry, ADA, "create_directory", approver, path="companies/globex/x")
    assert (result.status, approver.requests) == ("denied", [])
    assert not (workspace / "companies" / "globex").exists()
