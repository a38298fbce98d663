"""The registry pipeline: concurrency, bad input, limits, failures, authorization, audit."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from platform_tools import BuggyLegacyTool, ConfigurationTool, SleepyCodeTool, SlowTool
from sqlalchemy import func, select

from ai_tool import AIToolParameter
from ai_tool.clock import ClockAITool
from ai_tool.filesystem import FilesystemAITool
from masterai.registry import (
    ApprovalRequest,
    DuplicateToolError,
    Effect,
    ExecutionContext,
    ToolRegistry,
)
from masterai.security import REDACTED, ParameterRole, system_principal
from masterai.settings import RegistrySettings
from masterai.store import Database
from masterai.store.models import Base
from masterai.tools import FILESYSTEM_ROLES

ROOT = ExecutionContext(principal=system_principal("root"), client_address="127.0.0.1")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


@pytest.fixture
def registry(database: Database, workspace: Path) -> ToolRegistry:
    registry = ToolRegistry(
        database, settings=RegistrySettings(default_timeout=5, max_params_bytes=10_000)
    )
    registry.register(ClockAITool())
    registry.register(FilesystemAITool(workspace), roles=FILESYSTEM_ROLES)
    registry.register(ConfigurationTool())
    registry.register(SlowTool(), timeout=0.2)
    registry.register(BuggyLegacyTool())
    return registry


def nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth):
        value = [value]
    return value


def row_counts(database: Database) -> dict[str, int]:
    with database.session() as s:
        return {
            t.name: s.execute(select(func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
        }


async def test_200_concurrent_calls_leave_200_records_in_a_valid_chain(
    registry: ToolRegistry,
) -> None:
    started = time.perf_counter()
    results = await asyncio.gather(
        *(
            registry.execute_tool("clock", {"operation": "get_time"}, ROOT)
            if n % 2
            else registry.execute_tool("nope", {}, ROOT)
            for n in range(200)
        )
    )
    elapsed = time.perf_counter() - started
    assert sorted(r.audit_id or 0 for r in results) == list(range(1, 201))
    assert [r.status for r in results].count("ok") == 100
    report = registry.audit_log.verify()
    assert (report.ok, report.checked) == (True, 200)
    assert elapsed < 30
    stats = registry.monitor.stats()
    assert stats["clock"].by_status == {"ok": 100}
    assert stats["nope"].by_status == {"not_found": 100}


@pytest.mark.parametrize(
    ("tool", "params", "status", "message"),
    [
        ("nope", {}, "not_found", "Unknown tool: nope. Available tools: buggy, clock"),
        (
            "clock",
            {"operation": "delet"},
            "invalid",
            "Unsupported operation: delet. Available operations: alarm, get_time, sleep",
        ),
        ("clock", {}, "invalid", "No 'operation' argument provided"),
        ("clock", {"operation": 3}, "invalid", "'operation' must be a string"),
        ("clock", ["get_time"], "invalid", "Arguments must be a JSON object, got list"),
        ("filesystem", {"operation": "write_file", "path": 5, "content": "x"}, "invalid", "path"),
        (
            "filesystem",
            {"operation": "write_file", "path": "a.txt", "content": "x", "mode": "w"},
            "invalid",
            "mode",
        ),
        (
            "filesystem",
            {"operation": "append_to_file", "path": "a.txt", "content": "x" * 20_000},
            "invalid",
            "Arguments too large: 2",
        ),
        (
            "filesystem",
            {"operation": "append_to_file", "path": "a.txt", "content": float("nan")},
            "invalid",
            "not valid JSON",
        ),
        (
            "filesystem",
            {"operation": "append_to_file", "path": "a.txt", "content": nested(100_000)},
            "invalid",
            "Arguments are nested too deeply",
        ),
    ],
)
async def test_bad_input_is_rejected_clearly_audited_and_writes_nothing_else(
    registry: ToolRegistry,
    database: Database,
    workspace: Path,
    tool: Any,
    params: Any,
    status: str,
    message: str,
) -> None:
    before = row_counts(database)
    result = await registry.execute_tool(tool, params, ROOT)
    assert (result.ok, result.status) == (False, status)
    assert message in (result.error or "")
    after = row_counts(database)
    assert after.pop("audit_log") == before.pop("audit_log") + 1
    assert after == before
    assert list(workspace.iterdir()) == []
    (record,) = registry.audit_log.recent(1)
    assert (record.status, record.error) == (status, result.error)


async def test_huge_arguments_are_stored_in_the_audit_log_as_a_bounded_preview(
    registry: ToolRegistry,
) -> None:
    await registry.execute_tool(
        "filesystem", {"operation": "append_to_file", "path": "a", "content": "y" * 50_000}, ROOT
    )
    (record,) = registry.audit_log.recent(1)
    assert record.params["_truncated"] is True
    assert record.params["bytes"] > 50_000
    assert len(record.params["preview"]) == 500


async def test_a_call_past_its_limit_times_out_and_is_audited(registry: ToolRegistry) -> None:
    started = time.perf_counter()
    result = await registry.execute_tool("slow", {"operation": "wait"}, ROOT)
    assert result.status == "timeout"
    assert result.error == "slow call timed out after 0.2s (operation 'wait')"
    assert time.perf_counter() - started < 3
    (record,) = registry.audit_log.recent(1)
    assert record.status == "timeout"


async def test_a_code_calls_own_timeout_extends_the_registry_limit(database: Database) -> None:
    class NotCode(SleepyCodeTool):
        """The same parameter, declared as meaning nothing to the policy."""

        name = "not_code"
        parameters = [
            SleepyCodeTool.parameters[0],
            AIToolParameter("timeout", "number", "Limit", required=False, role=ParameterRole.PLAIN),
        ]

    registry = ToolRegistry(database, settings=RegistrySettings(default_timeout=0.3))
    registry.register(SleepyCodeTool(), category="code")
    registry.register(NotCode(), category="clock")
    cut = await registry.execute_tool("sleepy", {"operation": "run", "seconds": 0.6}, ROOT)
    assert (cut.status, cut.error) == (
        "timeout",
        "sleepy call timed out after 0.3s (operation 'run')",
    )
    asked = {"operation": "run", "seconds": 0.6, "timeout": 1}
    assert (await registry.execute_tool("sleepy", asked, ROOT)).content == "slept"
    # only a declared time limit is bounded by the policy, so only it extends the limit
    other = await registry.execute_tool("not_code", asked, ROOT)
    assert other.status == "timeout"


async def test_tool_errors_become_failed_results(registry: ToolRegistry) -> None:
    raised = await registry.execute_tool("slow", {"operation": "fail"}, ROOT)
    assert (raised.status, raised.error) == ("failed", "the backend said no")
    reported = await registry.execute_tool("slow", {"operation": "error_result"}, ROOT)
    assert (reported.status, reported.error) == ("failed", "quota exhausted")
    ok = await registry.execute_tool("slow", {"operation": "wait", "seconds": 0}, ROOT)
    assert (ok.ok, ok.content) == (True, "done")


async def test_programming_errors_propagate_after_being_audited(registry: ToolRegistry) -> None:
    with pytest.raises(KeyError):
        await registry.execute_tool("buggy", {}, ROOT)
    (record,) = registry.audit_log.recent(1)
    assert record.status == "failed"
    assert "KeyError" in (record.error or "")


async def test_destructive_operations_are_denied_without_an_approval_callback(
    registry: ToolRegistry, workspace: Path
) -> None:
    params = {"operation": "write_file", "path": "a.txt", "content": "hello"}
    denied = await registry.execute_tool("filesystem", params, ROOT)
    assert denied.status == "denied"
    assert not (workspace / "a.txt").exists()

    asked: list[ApprovalRequest] = []

    async def approve(request: ApprovalRequest) -> bool:
        asked.append(request)
        return True

    context = ExecutionContext(principal=ROOT.principal, approver=approve)
    approved = await registry.execute_tool("filesystem", params, context)
    assert approved.status == "ok"
    assert (workspace / "a.txt").read_text() == "hello"
    assert [(r.tool, r.operation, r.destructive) for r in asked] == [
        ("filesystem", "write_file", True)
    ]
    assert dict(asked[0].arguments) == params
    assert Effect.CHANGES_DATA in asked[0].effects


async def test_secrets_in_arguments_are_redacted_before_storage(registry: ToolRegistry) -> None:
    params = {
        "operation": "update",
        "company_id": "acme",
        "api_key": "sk-live-0123456789abcdef",
        "provider_token": "plain-value",
        "model": "Bearer abcdefghijklmnop",
    }
    result = await registry.execute_tool("configuration", params, ROOT)
    assert result.ok
    (record,) = registry.audit_log.recent(1)
    assert record.params == {
        "operation": "update",
        "company_id": "acme",
        "api_key": REDACTED,
        "provider_token": REDACTED,
        "model": REDACTED,
    }
    # results are redacted in the audit log even for principals allowed to see secrets
    summary = json.loads(record.result_summary or "")
    assert summary["args"]["api_key"] == summary["args"]["provider_token"] == REDACTED
    assert summary["args"]["model"] == REDACTED
    assert summary["args"]["company_id"] == "acme"
    assert record.client_address == "127.0.0.1"
    assert record.company_id == "acme"
    assert result.data == {
        "op": "update",
        "args": {k: v for k, v in params.items() if k != "operation"},
    }


def test_registering_a_name_twice_is_refused(registry: ToolRegistry) -> None:
    with pytest.raises(DuplicateToolError, match="'clock' is already registered"):
        registry.register(ClockAITool())


async def test_results_are_redacted_for_principals_without_sensitive_data(
    database: Database, registry: ToolRegistry
) -> None:
    from masterai.security import UserDirectory, load_principal

    directory = UserDirectory(database)
    directory.add_company("acme", "Acme")
    directory.add_user("ann", "admin", companies={"acme": "write"})
    params = {"operation": "update", "company_id": "acme", "api_key": "k-123", "model": "m"}
    ann = ExecutionContext(principal=load_principal(database, "ann"))
    redacted = await registry.execute_tool("configuration", params, ann)
    assert redacted.data["args"] == {"company_id": "acme", "api_key": REDACTED, "model": "m"}
    assert "k-123" not in redacted.content
    directory.set_grant("ann", "data_access.sensitive_data", True)
    trusted = ExecutionContext(principal=load_principal(database, "ann"))
    clear = await registry.execute_tool("configuration", params, trusted)
    assert clear.data["args"]["api_key"] == "k-123"
