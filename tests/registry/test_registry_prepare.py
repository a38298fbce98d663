"""Preparation: declared roles at registration, one validation per call, the order of checks,
approval as a step, and the audit of refused and multi-company calls."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from ai_tool import (
    AITool,
    AIToolCall,
    AIToolDefinition,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
)
from masterai.registry import (
    ApprovalRequest,
    CallRequest,
    Effect,
    ExecutionContext,
    InvalidArguments,
    PipelineError,
    Preview,
    ToolRegistry,
    UndeclaredRoleError,
    approved_preview,
    pipeline,
)
from masterai.security import (
    ParameterRole,
    Principal,
    role_defaults,
    system_principal,
)
from masterai.security.permissions import DataAccessPermissions
from masterai.store import Database
from masterai.store.models import Company

ROOT = ExecutionContext(principal=system_principal("root"), client_address="127.0.0.1")


def viewer_of(*companies: str) -> Principal:
    permissions = role_defaults("viewer")
    permissions = dataclasses.replace(
        permissions, data_access=DataAccessPermissions(read_companies=frozenset(companies))
    )
    return Principal(name="vic", role="viewer", permissions=permissions)


class CountingTool(AITool):
    """A strict tool whose extra check counts how often the arguments are validated."""

    type_check_arguments = True

    def __init__(self, parameters: list[AIToolParameter] | None = None) -> None:
        self.validations = 0
        self.runs: list[dict[str, Any]] = []
        self.parameters = parameters or [
            AIToolParameter("tenant_id", "string", "Tenant", role=ParameterRole.COMPANY),
            AIToolParameter("count", "integer", "How many", required=False),
        ]

    def get_definition(self) -> AIToolDefinition:
        return self._build_definition_from_operations("counting", "Counts.", self.parameters)

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        names = {p.name for p in self.parameters}
        return {
            "look": AIToolOperationDefinition(
                "look", self._handle, None, names, set(), "Read", read_only=True
            ),
            "change": AIToolOperationDefinition(
                "change", self._handle, None, names, set(), "Change", destructive=True
            ),
        }

    def check_operation_arguments(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> None:
        self.validations += 1

    async def _handle(self, call: AIToolCall, requester: Any, auth: Any) -> AIToolResult:
        self.runs.append(dict(call.arguments))
        preview = approved_preview(call)
        body = {"ran": True, "preview": preview.payload if preview else None}
        return AIToolResult(id=call.id, name="counting", content=json.dumps(body))


class PreviewingCountingTool(CountingTool):
    """Computes what a change would do once, before approval."""

    def __init__(self) -> None:
        super().__init__()
        self.previews = 0

    async def preview_call(self, checked: Any, requester_ref: Any) -> Preview:
        self.previews += 1
        return Preview(text=f"would change {checked.arguments['tenant_id']}", payload="plan-1")


@pytest.fixture
def registry(database: Database) -> ToolRegistry:
    with database.session() as s:
        s.add_all([Company(id="acme", name="Acme"), Company(id="globex", name="Globex")])
    return ToolRegistry(database)


def _tool(name: str, *parameters: AIToolParameter) -> AITool:
    tool = CountingTool(list(parameters))
    tool.get_definition = lambda: tool._build_definition_from_operations(  # type: ignore[method-assign]
        name, "Test tool.", tool.parameters
    )
    return tool


@pytest.mark.parametrize(
    "name",
    ["recipients", "tenant_id", "callback_url", "judge_model", "api_key", "path", "to"],
)
def test_a_parameter_that_looks_like_a_role_must_declare_one(
    registry: ToolRegistry, name: str
) -> None:
    tool = _tool("loose", AIToolParameter(name, "string", "Something"))
    with pytest.raises(UndeclaredRoleError, match=f"parameter\\(s\\) {name} look like"):
        registry.register(tool)
    assert registry.names() == []


def test_an_undeclared_nested_field_is_named_with_its_path(registry: ToolRegistry) -> None:
    nested = AIToolParameter(
        "changes",
        "object",
        "Changes",
        properties=[AIToolParameter("tenant_email", "string", "Contact")],
    )
    with pytest.raises(UndeclaredRoleError, match=r"changes\.tenant_email"):
        registry.register(_tool("nested", nested))


def test_a_parameter_declared_plain_or_declared_at_registration_is_accepted(
    registry: ToolRegistry,
) -> None:
    registry.register(
        _tool("plain", AIToolParameter("max_tokens", "integer", "Tokens", role=ParameterRole.PLAIN))
    )
    registered = registry.register(
        _tool("seed_era", AIToolParameter("recipients", "array", "To")),
        roles={"recipients": ParameterRole.EMAIL},
    )
    assert [b.role for b in registered.roles_of("look")] == [ParameterRole.EMAIL]


def test_a_lazily_registered_tool_is_checked_when_it_is_built(registry: ToolRegistry) -> None:
    built: list[str] = []

    def factory() -> AITool:
        built.append("loose")
        return _tool("loose", AIToolParameter("tenant", "string", "Tenant"))

    registry.register_factory("loose", factory)
    assert registry.names() == ["loose"] and built == []
    with pytest.raises(UndeclaredRoleError, match="tenant"):
        registry.get("loose")


async def test_an_undeclared_recipients_parameter_cannot_reach_the_policy_unchecked(
    registry: ToolRegistry,
) -> None:
    registry.register(
        _tool("mailer", AIToolParameter("recipients", "array", "To")),
        roles={"recipients": ParameterRole.EMAIL},
    )
    viewer = ExecutionContext(principal=viewer_of("acme"))
    result = await registry.execute_tool(
        "mailer", {"operation": "look", "recipients": ["x@evil.example"]}, viewer
    )
    assert result.status == "denied"
    assert "e-mail domain 'evil.example' is not allowed" in (result.error or "")


async def test_a_tenant_id_declared_as_company_is_checked_and_audited(
    registry: ToolRegistry,
) -> None:
    registry.register(CountingTool())
    viewer = ExecutionContext(principal=viewer_of("acme"), client_address="10.0.0.1")
    denied = await registry.execute_tool(
        "counting", {"operation": "look", "tenant_id": "globex"}, viewer
    )
    assert (denied.status, denied.error) == (
        "denied",
        "Permission denied: 'vic' may not read company 'globex'",
    )
    allowed = await registry.execute_tool(
        "counting", {"operation": "look", "tenant_id": "acme"}, viewer
    )
    assert allowed.ok
    first, second = registry.audit_log.recent(2)
    assert (first.company_id, first.status) == ("globex", "denied")
    assert (second.company_id, second.status) == ("acme", "ok")


async def test_a_call_is_validated_once_by_the_pipeline(registry: ToolRegistry) -> None:
    tool = CountingTool()
    registry.register(tool)
    result = await registry.execute_tool(
        "counting", {"operation": "look", "tenant_id": "acme", "count": 2}, ROOT
    )
    assert result.ok
    assert tool.validations == 1
    assert tool.runs == [{"operation": "look", "tenant_id": "acme", "count": 2}]


async def test_a_type_error_is_invalid_with_its_path_never_denied(registry: ToolRegistry) -> None:
    registry.register(CountingTool())
    viewer = ExecutionContext(principal=viewer_of("acme"))
    result = await registry.execute_tool(
        "counting", {"operation": "look", "tenant_id": "acme", "count": "two"}, viewer
    )
    assert (result.status, result.error) == ("invalid", "'count' must be an integer")


async def test_an_operation_the_caller_may_not_use_is_denied_whatever_the_arguments(
    registry: ToolRegistry,
) -> None:
    registry.register(CountingTool())
    viewer = ExecutionContext(principal=viewer_of("acme"))
    result = await registry.execute_tool("counting", {"operation": "change", "count": "x"}, viewer)
    assert result.status == "denied"
    assert "read-only access" in (result.error or "")


async def test_an_unknown_company_scope_is_invalid(registry: ToolRegistry) -> None:
    registry.register(CountingTool())
    context = dataclasses.replace(ROOT, company_id="nope")
    result = await registry.execute_tool("counting", {"operation": "look"}, context)
    assert (result.status, result.error) == (
        "invalid",
        "Unknown company 'nope' in the call's company scope",
    )
    (record,) = registry.audit_log.recent(1)
    assert record.company_id == "nope"


async def test_text_that_is_not_unicode_is_invalid_and_audited_escaped(
    registry: ToolRegistry,
) -> None:
    registry.register(CountingTool())
    result = await registry.execute_tool(
        "counting", {"operation": "look", "tenant_id": "\udcff"}, ROOT
    )
    assert result.status == "invalid"
    assert "not valid Unicode" in (result.error or "")
    (record,) = registry.audit_log.recent(1)
    assert record.params["tenant_id"] == "\\udcff"
    assert registry.audit_log.verify().ok


async def test_a_call_naming_several_companies_is_found_by_each(registry: ToolRegistry) -> None:
    many = AIToolParameter(
        "tenants",
        "array",
        "Tenants",
        items=AIToolParameter("t", "string", "Tenant"),
        role=ParameterRole.COMPANY,
    )
    registry.register(_tool("multi", many))
    result = await registry.execute_tool(
        "multi", {"operation": "look", "tenants": ["globex", "acme"]}, ROOT
    )
    assert result.ok
    for company in ("acme", "globex"):
        (found,) = registry.audit_log.search(company=company)
        assert found.id == result.audit_id
    assert json.loads(registry.audit_log.recent(1)[0].company_ids or "[]") == ["acme", "globex"]
    assert registry.audit_log.search(company="initech") == []
    assert registry.audit_log.verify().ok


async def test_approval_is_asked_once_with_the_preview_and_what_runs_is_what_was_approved(
    registry: ToolRegistry,
) -> None:
    tool = PreviewingCountingTool()
    registry.register(tool)
    asked: list[ApprovalRequest] = []

    async def approve(request: ApprovalRequest) -> bool:
        asked.append(request)
        return True

    context = dataclasses.replace(ROOT, approver=approve)
    params = {"operation": "change", "tenant_id": "acme"}
    result = await registry.execute_tool("counting", params, context)
    assert result.ok
    (request,) = asked
    assert (request.tool, request.operation, request.preview) == (
        "counting",
        "change",
        "would change acme",
    )
    assert request.effects == frozenset({Effect.READS, Effect.CHANGES_DATA})
    assert request.companies == ("acme",)
    assert tool.previews == 1
    assert result.data == {"ran": True, "preview": "plan-1"}


async def test_a_refused_approval_runs_nothing_and_is_audited_denied(
    registry: ToolRegistry,
) -> None:
    tool = PreviewingCountingTool()
    registry.register(tool)

    async def refuse(request: ApprovalRequest) -> bool:
        return False

    for context in (ROOT, dataclasses.replace(ROOT, approver=refuse)):
        result = await registry.execute_tool(
            "counting", {"operation": "change", "tenant_id": "acme"}, context
        )
        assert (result.status, result.error) == (
            "denied",
            "Authorization denied for counting operation 'change'",
        )
    assert tool.runs == []
    assert [r.status for r in registry.audit_log.recent(2)] == ["denied", "denied"]


def test_a_step_list_without_prepare_or_out_of_order_is_refused(database: Database) -> None:
    with pytest.raises(PipelineError, match="PREPARE exactly once"):
        ToolRegistry(database, steps=[pipeline.audit, pipeline.approve])
    with pytest.raises(PipelineError, match="Misplaced step"):
        ToolRegistry(database, steps=[pipeline.approve, pipeline.PREPARE, pipeline.audit])


def test_prepare_returns_the_checked_call_with_its_decision(registry: ToolRegistry) -> None:
    registry.register(CountingTool())
    request = CallRequest(
        tool_name="counting",
        params={"operation": "look", "tenant_id": "acme", "count": None},
        context=ROOT,
    )
    call = registry.prepare(request)
    assert call.arguments == {"operation": "look", "tenant_id": "acme"}
    assert call.decision.allowed and call.companies == ("acme",)
    assert not call.needs_approval
    with pytest.raises(InvalidArguments, match="'count' must be an integer"):
        registry.prepare(dataclasses.replace(request, params={"operation": "look", "count": 1.5}))


async def test_a_refusal_by_a_face_is_audited(registry: ToolRegistry) -> None:
    request = CallRequest(tool_name="clock", params={"_raw": "{bad"}, context=ROOT)
    result = await registry.reject(request, InvalidArguments("Invalid --args: not JSON"))
    assert (result.status, result.error) == ("invalid", "Invalid --args: not JSON")
    (record,) = registry.audit_log.recent(1)
    assert (record.id, record.tool, record.status) == (result.audit_id, "clock", "invalid")


@pytest.mark.parametrize("role", ["admin", "analyst", "viewer"])
async def test_only_a_super_admin_may_grant_mint_tokens_or_add_companies(
    database: Database, tmp_path: Any, role: str
) -> None:
    from masterai.settings import Settings
    from masterai.tools import build_registry

    registry = build_registry(Settings(home=tmp_path / "home"), database)
    permissions = dataclasses.replace(
        role_defaults(role),
        data_access=DataAccessPermissions(
            read_companies=frozenset({"acme"}), write_companies=frozenset({"acme"})
        ),
    )
    someone = ExecutionContext(principal=Principal(name="sam", role=role, permissions=permissions))
    assert "admin" not in [t.name for t in registry.list_tools(someone.principal)]
    for params in (
        {"operation": "update_user", "name": "sam", "role": "super_admin"},
        {"operation": "issue_token", "name": "sam"},
        {"operation": "add_company", "company_id": "acme2", "company_name": "A2"},
        {"operation": "add_user", "name": "x", "role": "super_admin"},
    ):
        result = await registry.execute_tool("admin", params, someone)
        assert result.status == "denied", (role, params, result)
        assert f"role {role!r} may not use 'admin' tools" in (result.error or "")
    root = dataclasses.replace(ROOT, approver=None)
    added = await registry.execute_tool(
        "admin", {"operation": "add_company", "company_id": "acme2", "company_name": "A2"}, root
    )
    assert added.ok, added
