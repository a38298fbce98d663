"""The analytics tool's changing operations (import, refresh) and reports returned as content."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from services_data import small_data_set

from masterai.audit import AuditLog
from masterai.registry import ExecutionContext, ToolRegistry, ToolResult
from masterai.security import DataAccessPermissions, Principal, role_defaults
from masterai.settings import Settings
from masterai.store import Database
from masterai.tools import build_registry

SHOP = {
    "id": "n1",
    "company_id": "acme",
    "messages": [{"role": "user", "content": "Hi", "created_at": "2024-05-03T10:00:00Z"}],
}


def person(role: str, companies: set[str] | None = None) -> Principal:
    permissions = role_defaults(role)
    if companies is not None:
        write = frozenset(companies) if role == "admin" else frozenset()
        permissions = dataclasses.replace(
            permissions,
            data_access=DataAccessPermissions(
                read_companies=frozenset(companies), write_companies=write
            ),
        )
    return Principal(name=f"{role}-user", role=role, permissions=permissions)


def jsonl(*rows: dict[str, Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "home" / "workspace"


@pytest.fixture
def registry(database: Database, tmp_path: Path) -> ToolRegistry:
    with database.session() as session:
        session.add_all(small_data_set())
    return build_registry(Settings(home=tmp_path / "home"), database)


async def run(registry: ToolRegistry, who: Principal, args: dict[str, Any]) -> ToolResult:
    return await registry.execute_tool("analytics", args, ExecutionContext(principal=who))


async def conversations(registry: ToolRegistry, company: str) -> int:
    result = await run(
        registry,
        person("super_admin"),
        {"operation": "analyze_conversations", "company_id": company},
    )
    assert result.ok, result.error
    count = result.data["result"]["conversations"]
    assert isinstance(count, int)
    return count


async def test_import_of_content_writes_conversations_without_asking(
    registry: ToolRegistry, database: Database
) -> None:
    result = await run(
        registry,
        person("admin", {"acme"}),
        {"operation": "import_conversations", "content": jsonl(SHOP), "format": "jsonl"},
    )
    assert result.ok, result.error
    assert result.data["result"] == {
        "conversations": 1,
        "messages": 1,
        "skipped": [],
        "created_companies": [],
    }
    assert result.data["summary"] == "Imported 1 conversations, 1 messages."
    assert await conversations(registry, "acme") == 4
    (record,) = [r for r in AuditLog(database).recent() if r.operation == "import_conversations"]
    assert (record.user_name, record.status) == ("admin-user", "ok")


async def test_import_of_a_workspace_csv_file_by_path(
    registry: ToolRegistry, workspace: Path
) -> None:
    (workspace / "companies" / "globex" / "uploads").mkdir(parents=True)
    (workspace / "companies" / "globex" / "uploads" / "m.csv").write_text(
        "conversation_id,company_id,role,content,created_at\n"
        "p1,globex,user,Hello,2024-05-04 09:00:00\n"
    )
    result = await run(
        registry,
        person("super_admin"),
        {"operation": "import_conversations", "path": "companies/globex/uploads/m.csv"},
    )
    assert result.ok, result.error
    assert result.data["result"]["conversations"] == 1
    assert await conversations(registry, "globex") == 3


@pytest.mark.parametrize("path", ["../outside.jsonl", "/etc/passwd"])
async def test_import_path_outside_the_workspace_is_refused(
    registry: ToolRegistry, workspace: Path, path: str
) -> None:
    workspace.mkdir(parents=True)
    (workspace.parent / "outside.jsonl").write_text(jsonl(SHOP))
    result = await run(
        registry, person("super_admin"), {"operation": "import_conversations", "path": path}
    )
    # refused as malformed before anything runs (the workspace's rules: docs/workspace.md)
    assert (result.ok, result.status) == (False, "invalid")
    assert repr(path) in (result.error or "")
    assert await conversations(registry, "acme") == 3


@pytest.mark.parametrize(
    ("args", "where"),
    [
        ({"content": jsonl(SHOP), "path": "x.jsonl", "format": "jsonl"}, "exactly one of"),
        ({"format": "jsonl"}, "exactly one of"),
        ({"content": jsonl(SHOP)}, "format is required with content"),
        ({"content": jsonl(SHOP), "format": "html"}, "format 'html' cannot be imported"),
    ],
)
async def test_import_arguments_that_cannot_work_are_invalid(
    registry: ToolRegistry, args: dict[str, Any], where: str
) -> None:
    result = await run(
        registry, person("super_admin"), {"operation": "import_conversations", **args}
    )
    assert (result.ok, result.status) == (False, "invalid")
    assert where in (result.error or "")


async def test_import_naming_a_company_the_user_may_not_change_imports_nothing(
    registry: ToolRegistry,
) -> None:
    theirs = {**SHOP, "id": "n2", "company_id": "globex"}
    args = {"operation": "import_conversations", "content": jsonl(SHOP, theirs), "format": "jsonl"}
    result = await run(registry, person("admin", {"acme"}), args)
    assert (result.ok, result.status) == (False, "failed")
    assert "line 2: you may not add conversations to company 'globex'" in (result.error or "")
    assert await conversations(registry, "acme") == 3
    skipped = await run(registry, person("admin", {"acme"}), {**args, "skip_bad": True})
    assert skipped.ok, skipped.error
    assert skipped.data["result"]["conversations"] == 1
    assert [b["line"] for b in skipped.data["result"]["skipped"]] == [2]
    assert await conversations(registry, "globex") == 2


@pytest.mark.parametrize(
    "args",
    [
        {"operation": "import_conversations", "content": jsonl(SHOP), "format": "jsonl"},
        {"operation": "refresh"},
    ],
)
async def test_read_only_analytics_users_may_not_import_or_refresh(
    registry: ToolRegistry, args: dict[str, Any]
) -> None:
    result = await run(registry, person("analyst", {"acme"}), args)
    assert (result.ok, result.status) == (False, "denied")
    assert "changes data" in (result.error or "")


async def test_refresh_reports_what_it_copied(registry: ToolRegistry) -> None:
    admin = person("super_admin")
    first = await run(registry, admin, {"operation": "refresh"})
    assert first.ok, first.error
    assert first.data["result"]["messages_added"] > 0
    again = await run(registry, admin, {"operation": "refresh"})
    assert again.data["result"] == {
        "messages_added": 0,
        "conversations_reloaded": False,
        "rebuilt": False,
    }
    assert again.data["summary"] == "Updated the analytics copy: 0 messages added."
    rebuilt = await run(registry, admin, {"operation": "refresh", "rebuild": True})
    assert rebuilt.data["result"]["rebuilt"] is True
    assert rebuilt.data["summary"].startswith("Rebuilt the analytics copy: ")


async def test_a_report_with_include_content_is_returned_and_not_written(
    registry: ToolRegistry, workspace: Path
) -> None:
    result = await run(
        registry,
        person("analyst", {"acme"}),
        {
            "operation": "generate_report",
            "report_type": "company_summary",
            "company_id": "acme",
            "format": "markdown",
            "include_content": True,
        },
    )
    assert result.ok, result.error
    report = result.data["result"]
    assert report["content"].startswith("# Company summary: acme")
    assert (report["path"], report["format"]) == (None, "markdown")
    assert report["bytes"] == len(report["content"].encode())
    assert not (workspace / "reports").exists()


async def test_include_content_with_a_filename_is_invalid(registry: ToolRegistry) -> None:
    result = await run(
        registry,
        person("super_admin"),
        {
            "operation": "generate_report",
            "report_type": "costs",
            "filename": "c.html",
            "include_content": True,
        },
    )
    assert (result.ok, result.status) == (False, "invalid")
    assert "filename and include_content exclude each other" in (result.error or "")


async def test_an_import_format_is_not_a_report_format(registry: ToolRegistry) -> None:
    result = await run(
        registry,
        person("super_admin"),
        {"operation": "generate_report", "report_type": "costs", "format": "csv"},
    )
    assert (result.ok, result.status) == (False, "invalid")
    assert "format 'csv' is not a report format" in (result.error or "")
