"""The MCP server through the SDK's own client, in-process (both protocol eras)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from masterai.app import Platform
from masterai.mcp.stdio import CLIENT_ADDRESS, stdio_face
from masterai.registry import approve_all
from masterai.security import system_principal

Elicit = Any
BACKSTAGE = {"check", "setup"}


def answer(approve: bool | None, asked: list[str] | None = None) -> Elicit:
    """An elicitation callback: accept with ``approve``, or decline (``None``)."""

    async def callback(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        if asked is not None:
            asked.append(params.message)
        if approve is None:
            return types.ElicitResult(action="decline")
        return types.ElicitResult(action="accept", content={"approve": approve})

    return callback


def records(platform: Platform, count: int) -> list[Any]:
    """The newest ``count`` audit records of MCP callers (the tests' own checks left out)."""
    mine = [
        r for r in platform.registry.audit_log.recent(count + 50) if r.user_name not in BACKSTAGE
    ]
    return mine[-count:]


async def prompt_of(platform: Platform, company: str) -> str:
    context = platform.context(system_principal("check"))
    result = await platform.call(
        "configuration", {"operation": "get_configuration", "company_id": company}, context
    )
    return str(result.data["result"]["system_prompt"])


def set_grant(platform: Platform, user: str, key: str, value: Any) -> None:
    context = platform.context(system_principal("setup"), approver=approve_all)
    params = {"operation": "update_user", "name": user, "grants": {key: value}}
    result = platform.call_sync("admin", params, context)
    assert result.ok, result.error


async def test_each_role_is_offered_only_what_it_may_call_with_exact_annotations(
    platform: Platform,
) -> None:
    offered: dict[str, dict[str, types.Tool]] = {}
    for user in ("root", "ada", "vic"):
        async with Client(stdio_face(platform, user=user, token=None).server) as client:
            offered[user] = {t.name: t for t in (await client.list_tools()).tools}
    root, ada, vic = offered["root"], offered["ada"], offered["vic"]
    assert "code_execute_code" in root and "admin_add_user" in root
    # internal operations (the monitor loop's) are offered to nobody
    assert "registry_list_alerts" in root and "registry_run_realtime_batch" not in root
    # a viewer is offered no code execution, no change and no administration
    assert not [n for n in vic if n.startswith(("code_", "admin_", "filesystem_write"))]
    assert "configuration_update_prompt" not in vic
    assert "configuration_get_configuration" in vic and "clock_get_time" in vic
    assert "configuration_update_prompt" in ada and "admin_add_user" not in ada
    assert set(vic) < set(ada) < set(root)

    update = root["configuration_update_prompt"]
    assert update.annotations == types.ToolAnnotations(
        read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
    )
    assert "Needs approval" in (update.description or "")
    assert "operation" not in update.input_schema["properties"]
    assert set(update.input_schema["required"]) == {"company_id", "prompt"}
    get = root["configuration_get_configuration"]
    assert get.annotations == types.ToolAnnotations(
        read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
    )
    assert get.output_schema is not None and get.output_schema["required"] == ["summary", "result"]
    test = root["configuration_test_configuration"]  # read-only, but calls a model
    assert test.annotations is not None and test.annotations.open_world_hint is True
    assert test.annotations.read_only_hint is True
    assert "calls a language model" in (test.description or "")
    append = root["filesystem_append_to_file"]  # changes data, destroys nothing
    assert append.annotations is not None
    assert (append.annotations.read_only_hint, append.annotations.destructive_hint) == (
        False,
        False,
    )


async def test_a_call_runs_through_the_registry_and_is_audited_as_the_user(
    platform: Platform,
) -> None:
    async with Client(stdio_face(platform, user="vic", token=None).server) as client:
        result = await client.call_tool("configuration_get_configuration", {"company_id": "acme"})
    assert result.is_error is False
    assert result.structured_content is not None
    assert (
        result.structured_content["result"]["system_prompt"] == "You are acme's helpful assistant."
    )
    assert result.meta is not None
    (record,) = records(platform, 1)
    assert record.id == result.meta["masterai/audit_id"]
    assert (record.user_name, record.client_address, record.tool, record.operation) == (
        "vic",
        CLIENT_ADDRESS,
        "configuration",
        "get_configuration",
    )
    assert record.status == "ok"


async def test_denials_invalid_arguments_and_unknown_tools_come_back_as_is_error(
    platform: Platform,
) -> None:
    async with Client(stdio_face(platform, user="vic", token=None).server) as client:
        other = await client.call_tool("configuration_get_configuration", {"company_id": "globex"})
        code = await client.call_tool(
            "code_execute_code", {"code": "print(1)", "language": "python"}
        )
        invalid = await client.call_tool("configuration_get_configuration", {"company_id": 7})
        unknown = await client.call_tool("no_such_tool", {})
        smuggled = await client.call_tool(
            "configuration_get_configuration", {"company_id": "acme", "operation": "rollback"}
        )
    for result in (other, code, invalid, unknown, smuggled):
        assert result.is_error is True
    assert other.content[0].text.startswith("denied: Permission denied")  # type: ignore[union-attr]
    assert "globex" in other.content[0].text  # type: ignore[union-attr]
    assert code.content[0].text.startswith("denied:")  # type: ignore[union-attr]
    assert invalid.content[0].text.startswith("invalid:")  # type: ignore[union-attr]
    assert "company_id" in invalid.content[0].text  # type: ignore[union-attr]
    assert unknown.content[0].text.startswith("not_found:")  # type: ignore[union-attr]
    assert "'operation' is not an argument" in smuggled.content[0].text  # type: ignore[union-attr]
    statuses = [(r.user_name, r.tool, r.status) for r in records(platform, 5)]
    assert statuses == [
        ("vic", "configuration", "denied"),
        ("vic", "code", "denied"),
        ("vic", "configuration", "invalid"),
        ("vic", "no_such_tool", "not_found"),
        ("vic", "configuration", "invalid"),
    ]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_destructive_call_asks_through_elicitation_with_the_diff(
    platform: Platform, mode: str
) -> None:
    asked: list[str] = []
    face = stdio_face(platform, user="ada", token=None)
    async with Client(face.server, mode=mode, elicitation_callback=answer(True, asked)) as client:
        result = await client.call_tool(
            "configuration_update_prompt", {"company_id": "acme", "prompt": "Be brief."}
        )
    assert result.is_error is False, result.content
    assert await prompt_of(platform, "acme") == "Be brief."
    (question,) = asked
    assert "update_prompt" in question and "Companies: acme." in question
    assert "-You are acme's helpful assistant." in question and "+Be brief." in question
    (record,) = records(platform, 1)
    assert (record.user_name, record.operation, record.status) == ("ada", "update_prompt", "ok")


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("reply", [False, None], ids=["said-no", "declined"])
async def test_a_declined_elicitation_runs_nothing_and_is_audited(
    platform: Platform, mode: str, reply: bool | None
) -> None:
    face = stdio_face(platform, user="ada", token=None)
    async with Client(face.server, mode=mode, elicitation_callback=answer(reply)) as client:
        result = await client.call_tool(
            "configuration_update_prompt", {"company_id": "acme", "prompt": "Be rude."}
        )
    assert result.is_error is True
    assert "You declined the call; nothing ran." in result.content[0].text  # type: ignore[union-attr]
    assert await prompt_of(platform, "acme") == "You are acme's helpful assistant."
    (record,) = records(platform, 1)
    assert (record.user_name, record.operation, record.status) == ("ada", "update_prompt", "denied")


async def test_an_answer_given_on_an_outdated_diff_runs_nothing(platform: Platform) -> None:
    face = stdio_face(platform, user="ada", token=None)
    arguments = {"company_id": "acme", "prompt": "Version A."}
    async with Client(face.server, elicitation_callback=answer(True)) as client:
        first = await client.session.call_tool(
            "configuration_update_prompt", arguments, allow_input_required=True
        )
        assert isinstance(first, types.InputRequiredResult)
        # the configuration changes while the person reads the diff
        setup = platform.context(system_principal("setup"), approver=approve_all)
        changed = await platform.call(
            "configuration",
            {"operation": "update_prompt", "company_id": "acme", "prompt": "Someone else's."},
            setup,
        )
        assert changed.ok
        second = await client.session.call_tool(
            "configuration_update_prompt",
            arguments,
            input_responses={
                "approval": types.ElicitResult(action="accept", content={"approve": True})
            },
            request_state=first.request_state,
            allow_input_required=True,
        )
    assert isinstance(second, types.CallToolResult) and second.is_error is True
    assert "no longer the one you approved" in second.content[0].text  # type: ignore[union-attr]
    assert await prompt_of(platform, "acme") == "Someone else's."


async def test_forged_round_trip_state_is_refused(platform: Platform) -> None:
    face = stdio_face(platform, user="ada", token=None)
    async with Client(face.server, elicitation_callback=answer(True)) as client:
        with pytest.raises(MCPError, match="Invalid or expired requestState"):
            await client.session.call_tool(
                "configuration_update_prompt",
                {"company_id": "acme", "prompt": "Forged."},
                input_responses={
                    "approval": types.ElicitResult(action="accept", content={"approve": True})
                },
                request_state=json.dumps({"preview": "0" * 64}),
            )
    assert await prompt_of(platform, "acme") == "You are acme's helpful assistant."


async def test_without_elicitation_approval_needs_the_auto_approve_grant(
    platform: Platform,
) -> None:
    arguments = {"company_id": "acme", "prompt": "Auto."}
    async with Client(stdio_face(platform, user="ada", token=None).server) as client:
        refused = await client.call_tool("configuration_update_prompt", arguments)
    assert refused.is_error is True
    assert "cannot ask you" in refused.content[0].text  # type: ignore[union-attr]
    assert "approvals.auto_approve for the 'configuration' category" in (
        refused.content[0].text  # type: ignore[union-attr]
    )
    assert await prompt_of(platform, "acme") == "You are acme's helpful assistant."

    await asyncio.to_thread(set_grant, platform, "ada", "approvals.auto_approve", ["configuration"])
    async with Client(stdio_face(platform, user="ada", token=None).server) as client:
        applied = await client.call_tool("configuration_update_prompt", arguments)
        other_category = await client.call_tool(
            "filesystem_write_file", {"path": "companies/acme/notes.txt", "content": "x"}
        )
    assert applied.is_error is False, applied.content
    assert await prompt_of(platform, "acme") == "Auto."
    assert other_category.is_error is True
    assert "'filesystem' category" in other_category.content[0].text  # type: ignore[union-attr]


async def test_resources_are_the_callers_configurations_and_workspace_files(
    platform: Platform,
) -> None:
    setup = platform.context(system_principal("setup"), approver=approve_all)
    for path in ("companies/acme/reports/weekly.md", "companies/globex/secret.md"):
        written = await platform.call(
            "filesystem",
            {"operation": "write_file", "path": path, "content": f"# {path}\n"},
            setup,
        )
        assert written.ok, written.error
    async with Client(stdio_face(platform, user="vic", token=None).server) as client:
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
        templates = (await client.list_resource_templates()).resource_templates
        config = await client.read_resource("masterai://companies/acme/configuration")
        report = await client.read_resource("masterai://workspace/companies/acme/reports/weekly.md")
        with pytest.raises(MCPError, match="denied"):
            await client.read_resource("masterai://companies/globex/configuration")
        with pytest.raises(MCPError, match=r"denied|not found|No such"):
            await client.read_resource("masterai://workspace/companies/globex/secret.md")
    assert listed == {
        "masterai://companies/acme/configuration",
        "masterai://workspace/companies/acme/reports/weekly.md",
    }
    assert {t.uri_template for t in templates} == {
        "masterai://companies/{company_id}/configuration",
        "masterai://workspace/{path}",
    }
    body = json.loads(config.contents[0].text)  # type: ignore[union-attr]
    assert (body["company_id"], body["is_active"]) == ("acme", True)
    assert report.contents[0].text == "# companies/acme/reports/weekly.md\n"  # type: ignore[union-attr]
    reads = [(r.tool, r.operation, r.status) for r in records(platform, 4)]
    assert reads == [
        ("configuration", "get_configuration", "ok"),
        ("filesystem", "read_file", "ok"),
        ("configuration", "get_configuration", "denied"),
        ("filesystem", "read_file", reads[3][2]),
    ]
    assert reads[3][2] != "ok"


async def test_the_super_admin_lists_every_company(platform: Platform) -> None:
    async with Client(stdio_face(platform, user="root", token=None).server) as client:
        listed = {str(r.uri) for r in (await client.list_resources()).resources}
    assert {
        "masterai://companies/acme/configuration",
        "masterai://companies/globex/configuration",
    } <= listed


async def test_the_four_use_cases_are_prompts_with_arguments(platform: Platform) -> None:
    async with Client(stdio_face(platform, user="vic", token=None).server) as client:
        listed = {p.name: p for p in (await client.list_prompts()).prompts}
        optimize = await client.get_prompt("optimize_configuration", {"company_id": "acme"})
        nightly = await client.get_prompt(
            "nightly_test_suite", {"company_id": "acme", "alert_email": "ops@acme.test"}
        )
        with pytest.raises(MCPError, match="needs the argument 'company_id'"):
            await client.get_prompt("optimize_configuration", {})
        with pytest.raises(MCPError, match="Unknown prompt 'nope'"):
            await client.get_prompt("nope", {})
    assert set(listed) == {
        "optimize_configuration",
        "comparison_report",
        "nightly_test_suite",
        "competitor_monitor",
    }
    required = {a.name for a in listed["competitor_monitor"].arguments or [] if a.required}
    assert required == {"competitors"}
    text = optimize.messages[0].content.text  # type: ignore[union-attr]
    assert "last 7 days" in text and "'acme'" in text
    nightly_text = nightly.messages[0].content.text  # type: ignore[union-attr]
    assert "'0 2 * * *'" in nightly_text and "ops@acme.test" in nightly_text


async def test_a_changed_grant_is_announced_as_tools_list_changed(platform: Platform) -> None:
    face = stdio_face(platform, user="vic", token=None)
    async with Client(face.server) as client:
        before = {t.name for t in (await client.list_tools()).tools}
        async with client.listen(tools_list_changed=True) as subscription:
            await asyncio.to_thread(set_grant, platform, "vic", "tools.configuration", "write")
            with anyio.fail_after(10):
                async for _event in subscription:
                    break
        after = {t.name for t in (await client.list_tools()).tools}
    assert "configuration_update_prompt" in after - before
    assert all(n.startswith("configuration_") for n in after - before)


async def test_a_legacy_client_gets_the_notification_too(platform: Platform) -> None:
    notified = anyio.Event()

    async def on_message(message: Any) -> None:
        root = getattr(message, "root", message)
        if getattr(root, "method", None) == "notifications/tools/list_changed":
            notified.set()

    face = stdio_face(platform, user="vic", token=None)
    async with Client(face.server, mode="legacy", message_handler=on_message) as client:
        await client.list_tools()
        await asyncio.to_thread(set_grant, platform, "vic", "tools.configuration", "write")
        with anyio.fail_after(10):
            await notified.wait()


async def test_a_model_calling_operation_is_approved_first(platform: Platform) -> None:
    asked: list[str] = []
    face = stdio_face(platform, user="root", token=None)
    async with Client(face.server, elicitation_callback=answer(None, asked)) as client:
        result = await client.call_tool(
            "configuration_test_configuration",
            {"company_id": "acme", "test_cases": [{"input": "hi", "expected": "hello"}]},
        )
    assert result.is_error is True
    assert "declined" in result.content[0].text  # type: ignore[union-attr]
    (question,) = asked
    assert "calls model" in question and "spends money" in question
    (record,) = records(platform, 1)
    assert (record.operation, record.status) == ("test_configuration", "denied")


async def test_a_tool_registered_while_connected_is_announced(platform: Platform) -> None:
    from ai_tool.clock import ClockAITool

    class Stopwatch(ClockAITool):
        def get_definition(self) -> Any:
            definition = super().get_definition()
            definition.name = "stopwatch"
            return definition

    face = stdio_face(platform, user="root", token=None)
    async with Client(face.server) as client:
        before = {t.name for t in (await client.list_tools()).tools}
        async with client.listen(tools_list_changed=True) as subscription:
            platform.registry.register(Stopwatch(), category="clock")
            with anyio.fail_after(10):
                async for _event in subscription:
                    break
        after = {t.name for t in (await client.list_tools()).tools}
    clock = {n for n in before if n.startswith("clock_")}
    assert after - before == {n.replace("clock_", "stopwatch_") for n in clock}
