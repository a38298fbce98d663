"""Permission matrix: every role x every tool operation x own/other company, each audited.

The workspace areas are part of it: every role reads and writes a file of its own company,
of the other company, of the shared area, of its own user folder and of another user's.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from platform_tools import AnalyticsTool, ConfigurationTool

from ai_tool.clock import ClockAITool
from audit_trail import AuditTrail
from masterai.registry import ApprovalRequest, ExecutionContext, ToolRegistry, approve_all
from masterai.sandbox import CodeExecutionEnvironment
from masterai.security import Principal, UserDirectory, load_principal
from masterai.security.workspace import WorkspaceService
from masterai.settings import SandboxSettings
from masterai.store import Database
from masterai.tools.code import CodeTool
from masterai.tools.files import FilesystemTool
from service_guard import require_service

OWN, OTHER = "acme", "globex"
ROLES = ("super_admin", "admin", "analyst", "viewer")

# (tool, operation) -> how the company is named in the call
OPERATIONS: dict[tuple[str, str], str] = {
    ("configuration", "get"): "arg",
    ("configuration", "update"): "arg",
    ("analytics", "summary"): "list",
    ("code", "execute_code"): "scope",
    ("code", "list_languages"): "scope",
    ("clock", "get_time"): "scope",
    ("filesystem", "list_directory"): "scope",
    ("filesystem", "create_directory"): "scope",
}

# What each role may do on its own company; nobody but super_admin may touch the other one.
ALLOWED_ON_OWN: dict[str, set[tuple[str, str]]] = {
    "super_admin": set(OPERATIONS),
    "admin": set(OPERATIONS),
    "analyst": {("configuration", "get"), ("analytics", "summary"), ("clock", "get_time")},
    "viewer": {
        ("configuration", "get"),
        ("analytics", "summary"),
        ("clock", "get_time"),
        ("filesystem", "list_directory"),
    },
}


def expected_allowed(role: str, op: tuple[str, str], company: str) -> bool:
    if role == "super_admin":
        return True
    return company == OWN and op in ALLOWED_ON_OWN[role]


@pytest.fixture
def registry(database: Database, tmp_path: Path) -> Iterator[ToolRegistry]:
    """Stand-ins for configuration/analytics; the real clock, filesystem and code tools."""
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    # Sandbox run directories must be reachable by the sandbox user, so not under tmp_path.
    run_dir = Path(tempfile.mkdtemp(prefix="masterai-matrix-"))
    run_dir.chmod(0o755)
    environment = CodeExecutionEnvironment(SandboxSettings(backend="bubblewrap", run_dir=run_dir))
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    registry = ToolRegistry(database)
    registry.register(ConfigurationTool())
    registry.register(AnalyticsTool())
    registry.register(CodeTool(environment, workspace), category="code")
    registry.register(ClockAITool())
    registry.register(FilesystemTool(WorkspaceService(workspace)))
    yield registry
    environment.close()
    shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
def principals(database: Database) -> dict[str, Principal]:
    directory = UserDirectory(database)
    directory.add_company(OWN, "Acme")
    directory.add_company(OTHER, "Globex")
    for role in ROLES:
        access = "write" if role == "admin" else "read"
        directory.add_user(role, role, companies={OWN: access} if role != "super_admin" else {})
    return {role: load_principal(database, role) for role in ROLES}


def call_for(op: tuple[str, str], company: str, n: int) -> tuple[dict[str, Any], str | None]:
    operation = op[1]
    params: dict[str, Any] = {"operation": operation}
    style = OPERATIONS[op]
    if style == "arg":
        params["company_id"] = company
    elif style == "list":
        params["company_ids"] = [company]
    if op == ("code", "execute_code"):
        params |= {"language": "python", "code": f"print({n} * 2)"}
    if op == ("filesystem", "create_directory"):
        params["path"] = f"companies/{company}/dir{n}"
    return params, company if style == "scope" else None


async def test_every_role_operation_and_company_is_decided_and_audited_once(
    registry: ToolRegistry, principals: dict[str, Principal]
) -> None:
    log = registry.audit_log
    trail = AuditTrail.begin(log)
    cases = list(itertools.product(ROLES, OPERATIONS, (OWN, OTHER)))
    mismatches = []
    for n, (role, op, company) in enumerate(cases):
        params, scope = call_for(op, company, n)
        context = ExecutionContext(
            principal=principals[role], company_id=scope, client_address=f"10.0.0.{n}"
        )
        result = await registry.execute_tool(op[0], params, context)
        allowed = expected_allowed(role, op, company)
        expected_status = "ok" if allowed else "denied"
        if result.status != expected_status:
            mismatches.append((role, op, company, result.status, result.error))
        trail.expect(
            result.audit_id,
            user_name=role,
            tool=op[0],
            operation=op[1],
            status=expected_status,
            company_id=company,
            client_address=f"10.0.0.{n}",
        )
        if not allowed:
            assert result.error is not None and "Permission denied" in result.error
        elif op == ("code", "execute_code"):
            # the program really ran in the sandbox
            assert result.data["result"]["output"] == f"{n * 2}\n", result.content
    assert mismatches == []
    trail.check()
    assert log.verify().ok


async def test_list_tools_shows_only_what_the_role_may_call(
    registry: ToolRegistry, principals: dict[str, Principal]
) -> None:
    def shown(role: str) -> dict[str, list[str]]:
        return {
            t.name: [o.name for o in t.operations] for t in registry.list_tools(principals[role])
        }

    assert shown("analyst") == {
        "analytics": ["summary"],
        "clock": ["get_time", "sleep", "alarm"],
        "configuration": ["get"],
    }
    viewer = shown("viewer")
    assert "code" not in viewer
    assert viewer["configuration"] == ["get"]
    assert viewer["filesystem"] == ["read_file", "list_directory", "get_info", "search"]
    assert shown("admin")["configuration"] == ["get", "update", "copy"]
    assert shown("admin")["code"] == [
        "execute_code",
        "transform_data",
        "validate_data",
        "list_sessions",
        "delete_session",
        "list_languages",
    ]
    listing = {t.name: t for t in registry.list_tools(principals["analyst"])}
    schema = listing["configuration"].schema
    assert "update" not in str(schema)
    assert "get" in str(schema)


async def test_copy_needs_read_on_source_and_write_on_target(
    registry: ToolRegistry, principals: dict[str, Principal], database: Database
) -> None:
    UserDirectory(database).grant_company("admin", OTHER, "read")
    admin = load_principal(database, "admin")
    context = ExecutionContext(principal=admin)
    ok = await registry.execute_tool(
        "configuration",
        {"operation": "copy", "source_company_id": OTHER, "target_company_id": OWN},
        context,
    )
    assert ok.status == "ok"
    denied = await registry.execute_tool(
        "configuration",
        {"operation": "copy", "source_company_id": OWN, "target_company_id": OTHER},
        context,
    )
    assert denied.status == "denied"
    assert "may not change company 'globex'" in (denied.error or "")


async def test_code_arguments_are_checked_against_code_execution_limits(
    registry: ToolRegistry, principals: dict[str, Principal], database: Database
) -> None:
    directory = UserDirectory(database)
    directory.set_grant("admin", "code_execution.languages", ["python"])
    directory.set_grant("admin", "code_execution.max_execution_time", 10)
    directory.set_grant("admin", "code_execution.max_memory", "256m")
    context = ExecutionContext(principal=load_principal(database, "admin"), company_id=OWN)

    async def run(**extra: Any) -> str:
        params = {"operation": "execute_code", "language": "python", "code": "1"} | extra
        result = await registry.execute_tool("code", params, context)
        return result.error or result.status

    assert await run() == "ok"
    assert await run(timeout=5, memory="128m") == "ok"
    assert "language 'r' is not allowed. Allowed: python" in await run(language="r")
    assert "timeout 30s exceeds the limit of 10s" in await run(timeout=30)
    assert "memory '1g' exceeds the limit of 256m" in await run(memory="1g")


# Role access per tool category, written out independently of masterai.security.roles.
ROLE_ACCESS: dict[str, dict[str, str]] = {
    "super_admin": {"*": "write"},
    "admin": {"*": "write", "admin": "none"},
    "analyst": {"analytics": "read", "configuration": "read", "clock": "read"},
    "viewer": {"*": "read", "code": "none", "admin": "none"},
}


def spec_allows(role: str, category: str, read_only: bool, company: str) -> bool:
    if role != "super_admin" and company != OWN:
        return False
    access = ROLE_ACCESS[role]
    level = access.get(category, access.get("*", "none"))
    return level == "write" or (level == "read" and read_only)


async def test_every_operation_of_every_built_in_tool_follows_the_role_table(
    database: Database, principals: dict[str, Principal], tmp_path: Path
) -> None:
    from masterai.settings import RegistrySettings, Settings
    from masterai.tools import build_registry

    settings = Settings(home=tmp_path / "home", registry=RegistrySettings(default_timeout=5))
    registry = build_registry(settings, database)

    async def refuse(_: ApprovalRequest) -> bool:
        return False

    mismatches = []
    calls = 0
    trail = AuditTrail.begin(registry.audit_log)
    for name in registry.names():
        registered = registry.get(name)
        assert registered is not None
        for op, definition in registered.tool.get_operation_definitions().items():
            for role, company in itertools.product(ROLES, (OWN, OTHER)):
                context = ExecutionContext(
                    principal=principals[role], company_id=company, approver=refuse
                )
                result = await registry.execute_tool(name, {"operation": op}, context)
                calls += 1
                trail.expect(
                    result.audit_id,
                    user_name=role,
                    tool=name,
                    operation=op,
                    company_id=company,
                    status=result.status,
                )
                policy_denied = (result.error or "").startswith("Permission denied")
                # model calls and code runs are their own permissions: super admins and
                # admins only (a read-only operation may still run code: run_realtime_batch)
                expected = (
                    spec_allows(role, registered.category, definition.read_only, company)
                    and (role in {"super_admin", "admin"} or not registered.calls_model(op))
                    and (role in {"super_admin", "admin"} or not registered.runs_code(op))
                )
                if policy_denied == expected:
                    mismatches.append((role, name, op, company, result.status, result.error))
    assert mismatches == []
    trail.check()
    assert "code" in registry.names()
    assert calls >= 8 * len(registry.names())
    assert registry.audit_log.verify().ok


# --- the workspace areas ------------------------------------------------------------------

AREAS = ("own company", "other company", "shared", "own user folder", "other user's folder")


def area_path(area: str, role: str) -> str:
    """The folder of ``area`` as seen by the user called ``role``."""
    return {
        "own company": f"companies/{OWN}",
        "other company": f"companies/{OTHER}",
        "shared": "shared",
        "own user folder": f"users/{role}",
        "other user's folder": "users/nobody",
    }[area]


def workspace_allows(role: str, area: str, write: bool) -> bool:
    """The rules of docs/workspace.md, written out independently of the service."""
    access = ROLE_ACCESS[role]
    level = access.get("filesystem", access.get("*", "none"))
    if level == "none" or (write and level != "write"):
        return False
    if area == "own company":
        return role == "super_admin" or not write or role == "admin"
    if area == "other company":
        return role == "super_admin"
    if area == "shared":
        return not write or role == "super_admin"
    return area == "own user folder"


async def test_every_role_reads_and_writes_the_workspace_areas_as_the_rules_say(
    registry: ToolRegistry, principals: dict[str, Principal], tmp_path: Path
) -> None:
    workspace = tmp_path / "workspace"
    for role in (*ROLES, "nobody"):
        for area in AREAS:
            directory = workspace / area_path(area, role)
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "data.txt").write_text(f"data of {directory.name}")
    log = registry.audit_log
    trail = AuditTrail.begin(log)
    mismatches = []
    cases = itertools.product(ROLES, AREAS, (False, True))
    for n, (role, area, write) in enumerate(cases):
        folder = area_path(area, role)
        if write:
            params = {"operation": "write_file", "path": f"{folder}/new{n}.txt", "content": "x"}
        else:
            params = {"operation": "read_file", "path": f"{folder}/data.txt"}
        context = ExecutionContext(principal=principals[role], approver=approve_all)
        result = await registry.execute_tool("filesystem", params, context)
        allowed = workspace_allows(role, area, write)
        if result.status != ("ok" if allowed else "denied"):
            mismatches.append((role, area, "write" if write else "read", result.error))
        trail.expect(result.audit_id, user_name=role, status=result.status)
        assert (workspace / folder / f"new{n}.txt").exists() == (write and allowed)
        if not allowed:
            assert (result.error or "").startswith("Permission denied"), result.error
            assert "data of" not in result.content
        elif not write:
            assert result.content == f"data of {Path(folder).name}"
    assert mismatches == []
    trail.check()
    assert log.verify().ok
