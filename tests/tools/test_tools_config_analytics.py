"""The configuration and analytics tools through the real registry: approvals, policy, results."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pytest
from services_data import small_data_set

from masterai.registry import ApprovalRequest, Effect, ExecutionContext, ToolRegistry
from masterai.security import DataAccessPermissions, Principal, role_defaults
from masterai.services.configs import ConfigurationService
from masterai.settings import Settings
from masterai.store import Database
from masterai.store.models import Company
from masterai.tools import build_registry


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


class Approver:
    """An approver that records the requests it was shown."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.calls: list[ApprovalRequest] = []

    async def __call__(self, request: ApprovalRequest) -> bool:
        self.calls.append(request)
        return self.answer


@pytest.fixture
def registry(database: Database, tmp_path: Path) -> ToolRegistry:
    with database.session() as session:
        session.add_all(small_data_set())
        session.add(Company(id="initech", name="Initech"))
    configs = ConfigurationService(database)
    for company in ("acme", "globex"):
        configs.update_configuration(
            company, {"model": "gpt-4o-mini", "system_prompt": "Be kind."}, author="setup"
        )
    return build_registry(Settings(home=tmp_path / "home"), database)


async def run(
    registry: ToolRegistry,
    who: Principal,
    args: dict[str, Any],
    approver: Approver | None = None,
    tool: str = "configuration",
) -> Any:
    context = ExecutionContext(principal=who, approver=approver)
    return await registry.execute_tool(tool, args, context)


async def test_update_prompt_asks_once_with_the_exact_diff_then_writes_a_version(
    registry: ToolRegistry, database: Database
) -> None:
    approver = Approver(True)
    result = await run(
        registry,
        person("super_admin"),
        {
            "operation": "update_prompt",
            "company_id": "acme",
            "prompt": "Be brief.",
            "change_note": "shorter",
        },
        approver,
    )
    assert result.ok, result.error
    (call,) = approver.calls
    assert (call.tool, call.operation, call.destructive) == ("configuration", "update_prompt", True)
    assert Effect.CHANGES_DATA in call.effects
    assert call.preview is not None
    assert "-Be kind." in call.preview and "+Be brief." in call.preview
    assert result.data["result"]["results"][0]["new_version"] == 2
    active = ConfigurationService(database).get_configuration("acme")
    assert (active.system_prompt, active.author, active.change_note) == (
        "Be brief.",
        "super_admin-user",
        "shorter",
    )


async def test_refused_approval_changes_nothing(registry: ToolRegistry, database: Database) -> None:
    result = await run(
        registry,
        person("super_admin"),
        {
            "operation": "apply_to_multiple_companies",
            "company_ids": ["acme", "globex"],
            "changes": {"temperature": 0.9},
        },
        Approver(False),
    )
    assert (result.ok, result.status) == (False, "denied")
    assert ConfigurationService(database).get_configuration("acme").version == 1


async def test_dry_run_returns_the_diff_writes_nothing_and_needs_no_approval(
    registry: ToolRegistry, database: Database
) -> None:
    # A refusing approver is never asked: a dry run changes nothing.
    approver = Approver(False)
    result = await run(
        registry,
        person("super_admin"),
        {
            "operation": "rollback",
            "company_id": "acme",
            "version": 1,
            "dry_run": True,
        },
        approver,
    )
    assert result.ok, result.error
    assert result.data["result"]["dry_run"] is True
    result = await run(
        registry,
        person("super_admin"),
        {
            "operation": "update_configuration",
            "company_id": "acme",
            "changes": {"model": "gpt-4o"},
            "dry_run": True,
        },
        approver,
    )
    assert result.ok, result.error
    assert 'model: "gpt-4o-mini" -> "gpt-4o"' in result.data["summary"]
    # No callback at all (the registry then refuses destructive requests): still previews.
    result = await run(
        registry,
        person("super_admin"),
        {"operation": "save_as_template", "company_id": "acme", "template_name": "kind"},
    )
    assert (result.ok, result.status) == (False, "denied")
    result = await run(
        registry,
        person("super_admin"),
        {
            "operation": "save_as_template",
            "company_id": "acme",
            "template_name": "kind",
            "dry_run": True,
        },
    )
    assert result.ok, result.error
    assert approver.calls == []
    service = ConfigurationService(database)
    assert service.list_versions("acme")[0].version == 1
    assert "kind" not in [t.name for t in service.list_templates()]


async def test_admin_cannot_touch_another_companys_configuration(
    registry: ToolRegistry, database: Database
) -> None:
    admin = person("admin", {"acme"})
    denied = await run(
        registry,
        admin,
        {
            "operation": "update_prompt",
            "company_id": "globex",
            "prompt": "Hijacked",
        },
        Approver(True),
    )
    assert (denied.ok, denied.status) == (False, "denied")
    bulk = await run(
        registry,
        admin,
        {
            "operation": "apply_to_multiple_companies",
            "company_ids": ["acme", "globex"],
            "changes": {"model": "gpt-4o"},
        },
        Approver(True),
    )
    assert bulk.status == "denied"
    assert ConfigurationService(database).get_configuration("globex").system_prompt == "Be kind."
    allowed = await run(
        registry,
        admin,
        {
            "operation": "update_prompt",
            "company_id": "acme",
            "prompt": "Ours",
        },
        Approver(True),
    )
    assert allowed.ok, allowed.error


async def test_bulk_with_an_unknown_company_fails_before_asking_and_changes_nothing(
    registry: ToolRegistry, database: Database
) -> None:
    approver = Approver(True)
    result = await run(
        registry,
        person("super_admin"),
        {
            "operation": "apply_to_multiple_companies",
            "company_ids": ["acme", "nope"],
            "changes": {"model": "gpt-4o"},
        },
        approver,
    )
    assert (result.ok, result.status) == (False, "failed")
    assert "'nope'" in result.error
    assert approver.calls == []
    assert ConfigurationService(database).get_configuration("acme").model == "gpt-4o-mini"


async def test_analytics_returns_a_summary_and_structured_figures(
    registry: ToolRegistry,
) -> None:
    result = await run(
        registry,
        person("analyst", {"acme"}),
        {
            "operation": "analyze_conversations",
            "company_id": "acme",
        },
        tool="analytics",
    )
    assert result.ok, result.error
    assert result.data["result"]["conversations"] == 3
    assert "3 conversations" in result.data["summary"]
    other = await run(
        registry,
        person("analyst", {"acme"}),
        {
            "operation": "identify_failures",
            "company_id": "globex",
        },
        tool="analytics",
    )
    assert other.status == "denied"
    bad = await run(
        registry,
        person("super_admin"),
        {
            "operation": "analyze_costs",
            "start_date": "yesterday",
        },
        tool="analytics",
    )
    assert bad.ok is False and "'yesterday'" in bad.error


async def test_generate_report_writes_html_with_charts_into_the_workspace(
    registry: ToolRegistry, tmp_path: Path
) -> None:
    result = await run(
        registry,
        person("super_admin"),
        {
            "operation": "generate_report",
            "report_type": "company_summary",
            "company_id": "acme",
            "filename": "acme.html",
        },
        tool="analytics",
    )
    assert result.ok, result.error
    assert result.data["result"]["path"] == "companies/acme/reports/acme.html"
    html = (tmp_path / "home" / "workspace" / "companies/acme/reports/acme.html").read_text()
    assert "<svg" in html and "Company summary" in html and "Resolution rate" in html
    escape = await run(
        registry,
        person("super_admin"),
        {
            "operation": "generate_report",
            "report_type": "costs",
            "filename": "../x.html",
        },
        tool="analytics",
    )
    assert escape.ok is False and "'../x.html'" in escape.error


async def test_analytics_without_a_company_covers_only_readable_companies(
    registry: ToolRegistry,
) -> None:
    analyst = person("analyst", {"acme"})
    everything = await run(
        registry, analyst, {"operation": "analyze_conversations"}, tool="analytics"
    )
    assert everything.ok, everything.error
    assert everything.data["result"]["conversations"] == 3  # acme's, not globex's
    assert everything.data["result"]["scope"]["company_ids"] == ["acme"]
    other = await run(
        registry,
        analyst,
        {
            "operation": "measure_satisfaction",
            "conversation_ids": ["g1", "g2"],
        },
        tool="analytics",
    )
    assert other.ok and other.data["result"]["rated"] == 0
    admin = await run(
        registry, person("super_admin"), {"operation": "analyze_conversations"}, tool="analytics"
    )
    assert admin.data["result"]["conversations"] == 5


async def test_a_change_made_while_the_diff_awaits_approval_is_not_overwritten(
    registry: ToolRegistry, database: Database
) -> None:
    configs = ConfigurationService(database)

    async def approve_after_someone_else_changed_it(request: ApprovalRequest) -> bool:
        configs.update_configuration("acme", {"temperature": 1.5}, author="bob")
        return True

    context = ExecutionContext(
        principal=person("super_admin"), approver=approve_after_someone_else_changed_it
    )
    result = await registry.execute_tool(
        "configuration",
        {"operation": "update_prompt", "company_id": "acme", "prompt": "Approved text"},
        context,
    )
    assert (result.ok, result.status) == (False, "failed")
    assert "changed since the diff was made" in (result.error or "")
    active = configs.get_configuration("acme")
    assert (active.version, active.system_prompt, active.temperature) == (2, "Be kind.", 1.5)


async def test_read_operations_templates_and_clone_through_the_tool(
    registry: ToolRegistry, database: Database
) -> None:
    admin = person("super_admin")
    yes = Approver(True)
    saved = await run(
        registry,
        admin,
        {
            "operation": "save_as_template",
            "company_id": "acme",
            "template_name": "kind",
        },
        yes,
    )
    assert saved.ok, saved.error
    applied = await run(
        registry,
        admin,
        {
            "operation": "apply_template",
            "template_name": "kind",
            "company_ids": ["initech"],
        },
        yes,
    )
    assert applied.ok, applied.error
    cloned = await run(
        registry,
        admin,
        {
            "operation": "clone_configuration",
            "source_company_id": "acme",
            "target_company_id": "globex",
            "change_note": "same as acme",
        },
        yes,
    )
    assert cloned.ok and cloned.data["result"]["results"][0]["status"] == "unchanged"
    listed = await run(registry, admin, {"operation": "list_templates"})
    assert [t["name"] for t in listed.data["result"]] == ["kind"]
    shown = await run(registry, admin, {"operation": "get_configuration", "company_id": "initech"})
    assert shown.data["result"]["system_prompt"] == "Be kind."
    await run(
        registry,
        admin,
        {"operation": "update_prompt", "company_id": "initech", "prompt": "Be kind.\nBe brief."},
        yes,
    )
    versions = await run(registry, admin, {"operation": "list_versions", "company_id": "initech"})
    assert [v["version"] for v in versions.data["result"]] == [2, 1]
    diff = await run(
        registry,
        admin,
        {"operation": "diff_versions", "company_id": "initech", "from_version": 1, "to_version": 2},
    )
    assert "+Be brief." in diff.data["summary"]
    both = await run(
        registry,
        admin,
        {
            "operation": "apply_template",
            "template_name": "kind",
            "company_id": "acme",
            "company_ids": ["globex"],
        },
        yes,
    )
    assert both.ok is False and "exactly one of company_id, company_ids" in both.error


@pytest.mark.parametrize(
    "args",
    [
        {"operation": "rollback", "company_id": "nosuch", "version": 1},
        {"operation": "update_prompt", "company_id": "nosuch", "prompt": "Hi"},
    ],
)
async def test_a_change_to_an_unknown_company_is_a_plain_tool_error_not_a_crash(
    registry: ToolRegistry, caplog: pytest.LogCaptureFixture, args: dict[str, Any]
) -> None:
    approver = Approver(True)
    with caplog.at_level(logging.ERROR):
        result = await run(registry, person("super_admin"), args, approver)
    assert (result.ok, result.status) == (False, "failed")
    assert result.error == "unknown company 'nosuch'; nothing was changed"
    assert approver.calls == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
