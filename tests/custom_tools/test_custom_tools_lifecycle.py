"""Create, test, activate with approval, call: through the registry, HTTP and MCP listings."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from custom_support import UPPER, UPPER_TOOL, context, custom_platform, ready_tool, registry
from scripts_support import result_of

from masterai.app import Platform
from masterai.registry import ApprovalRequest, approve_all
from masterai.security import system_principal
from masterai.store import Database


async def test_an_activated_tool_is_called_by_its_own_name_with_plain_arguments(
    database: Database, tmp_path: Path
) -> None:
    with custom_platform(database, tmp_path) as platform:
        await ready_tool(platform, "alice", UPPER_TOOL)

        result = await platform.call("shout", {"text": "hey"}, context(platform, "alice"))

        assert result_of(result) == {"text": "HEY", "length": 3}
        # the one-line summary a person sees shows the value too
        summary = json.loads(result.content or "")["summary"]
        assert summary.endswith(': {"text": "HEY", "length": 3}')


async def test_activation_shows_the_approver_the_code_diff_against_the_active_version(
    database: Database, tmp_path: Path
) -> None:
    asked: list[ApprovalRequest] = []

    async def approver(request: ApprovalRequest) -> bool:
        asked.append(request)
        return True

    with custom_platform(database, tmp_path) as platform:
        await ready_tool(platform, "alice", UPPER_TOOL)
        new_code = UPPER.replace(".upper()", ".upper() + '!'")
        tests = [{"arguments": {"text": "a"}, "expected": {"text": "A!", "length": 1}}]
        for operation, args in (
            ("update_custom_tool", {"name": "shout", "code": new_code, "tests": tests}),
            ("test_custom_tool", {"name": "shout"}),
        ):
            assert (await registry(platform, "alice", operation, **args)).ok
        ctx = context(platform, "alice")
        ctx = replace(ctx, approver=approver)

        result = await platform.call(
            "registry", {"operation": "activate_custom_tool", "name": "shout", "version": 2}, ctx
        )

        assert result.ok, result.error
        [request] = asked
        assert request.preview is not None
        assert "shout active" in request.preview and "shout candidate" in request.preview
        assert '+    return {"text": args["text"].upper() + \'!\'' in request.preview
        assert "also changed: tests" in request.preview
        called = await platform.call("shout", {"text": "x"}, context(platform, "alice"))
        assert result_of(called) == {"text": "X!", "length": 1}


async def test_a_refused_approval_leaves_the_tool_unregistered(
    database: Database, tmp_path: Path
) -> None:
    with custom_platform(database, tmp_path) as platform:
        for operation, args in (
            ("create_custom_tool", UPPER_TOOL),
            ("test_custom_tool", {"name": "shout"}),
        ):
            assert (await registry(platform, "alice", operation, **args)).ok

        refused = await platform.call(
            "registry",
            {"operation": "activate_custom_tool", "name": "shout", "version": 1},
            context(platform, "alice", approve=False),
        )

        assert refused.status == "denied"
        assert "shout" not in platform.registry.names()


async def test_a_tool_whose_tests_fail_cannot_be_activated(
    database: Database, tmp_path: Path
) -> None:
    wrong = {**UPPER_TOOL, "tests": [{"arguments": {"text": "a"}, "expected": {"text": "a"}}]}
    with custom_platform(database, tmp_path) as platform:
        assert (await registry(platform, "alice", "create_custom_tool", **wrong)).ok
        tested = await registry(platform, "alice", "test_custom_tool", name="shout")
        report = result_of(tested)
        assert (report["passed"], report["failed"]) == (0, 1)
        assert "expected {'text': 'a'}" in report["cases"][0]["failure"]

        refused = await registry(platform, "alice", "activate_custom_tool", name="shout", version=1)

        assert not refused.ok
        assert "fails 1 test(s)" in (refused.error or "")
        assert "shout" not in platform.registry.names()


async def test_an_untested_version_cannot_be_activated(database: Database, tmp_path: Path) -> None:
    with custom_platform(database, tmp_path) as platform:
        assert (await registry(platform, "alice", "create_custom_tool", **UPPER_TOOL)).ok

        refused = await registry(platform, "alice", "activate_custom_tool", name="shout", version=1)

        assert "never tested" in (refused.error or "")


async def test_arguments_outside_the_tools_schema_are_refused_before_anything_runs(
    database: Database, tmp_path: Path
) -> None:
    with custom_platform(database, tmp_path) as platform:
        await ready_tool(platform, "alice", UPPER_TOOL)

        result = await platform.call("shout", {"text": 5}, context(platform, "alice"))

        assert result.status == "invalid"
        assert "5 is not of type 'string'" in (result.error or "")


async def test_a_result_outside_the_output_schema_fails_the_call(
    database: Database, tmp_path: Path
) -> None:
    lying = {
        **UPPER_TOOL,
        "tests": [{"arguments": {"text": "a"}, "assert": {}}],
        "output_schema": {"type": "object", "required": ["missing"]},
    }
    with custom_platform(database, tmp_path) as platform:
        assert (await registry(platform, "alice", "create_custom_tool", **lying)).ok
        report = result_of(await registry(platform, "alice", "test_custom_tool", name="shout"))

        assert report["failed"] == 1
        assert "'missing' is a required property" in report["cases"][0]["failure"]


async def test_a_viewer_neither_sees_nor_calls_a_tool_scoped_to_admins(
    database: Database, tmp_path: Path
) -> None:
    with custom_platform(database, tmp_path) as platform:
        await ready_tool(platform, "alice", {**UPPER_TOOL, "roles": ["admin"]})
        viewer = context(platform, "vic")

        listed = [t.name for t in platform.registry.list_tools(viewer.principal)]
        called = await platform.call("shout", {"text": "x"}, viewer)
        shown = await registry(platform, "vic", "list_custom_tools")

        assert "shout" in [
            t.name for t in platform.registry.list_tools(context(platform, "admin").principal)
        ]
        assert "shout" not in listed
        assert called.status == "denied"
        assert result_of(shown) == []


async def test_a_javascript_tool_runs_like_a_python_one(database: Database, tmp_path: Path) -> None:
    js = {
        **UPPER_TOOL,
        "language": "javascript",
        "code": "export function run(args, ctx) {\n"
        "  return { text: args.text.toUpperCase(), length: args.text.length };\n}\n",
    }
    with custom_platform(database, tmp_path) as platform:
        await ready_tool(platform, "alice", js)

        result = await platform.call("shout", {"text": "js"}, context(platform, "alice"))

        assert result_of(result) == {"text": "JS", "length": 2}


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (
            "import socket\ndef run(args, ctx):\n"
            "    socket.create_connection(('1.1.1.1', 80), timeout=2)\n    return {}\n",
            "network",
        ),
        ("def run(args, ctx):\n    return open('/etc/shadow').read()\n", "host_file"),
    ],
)
async def test_code_that_tries_the_network_or_host_files_gets_the_sandboxs_refusal(
    database: Database, tmp_path: Path, code: str, kind: str
) -> None:
    spec = {**UPPER_TOOL, "code": code, "output_schema": None}
    with custom_platform(database, tmp_path) as platform:
        assert (await registry(platform, "alice", "create_custom_tool", **spec)).ok

        report = result_of(await registry(platform, "alice", "test_custom_tool", name="shout"))

        assert report["passed"] == 0
        assert kind in report["cases"][0]["refused"]


async def test_a_second_process_sees_an_activation_made_by_the_first(
    database: Database, tmp_path: Path
) -> None:
    with custom_platform(database, tmp_path) as first:
        second = Platform(first.settings)  # another server process on the same store
        second.__dict__["database"] = database
        assert "shout" not in second.registry.names()

        await ready_tool(first, "alice", UPPER_TOOL)

        result = await second.call("shout", {"text": "b"}, context(second, "alice"))
        assert result_of(result) == {"text": "B", "length": 1}
        assert (await registry(first, "alice", "disable_custom_tool", name="shout")).ok
        assert "shout" not in second.registry.names()


async def test_a_new_version_keeps_the_active_one_running_until_it_is_activated(
    database: Database, tmp_path: Path
) -> None:
    with custom_platform(database, tmp_path) as platform:
        await ready_tool(platform, "alice", UPPER_TOOL)

        updated = await registry(
            platform, "alice", "update_custom_tool", name="shout", description="Louder"
        )
        called = await platform.call("shout", {"text": "q"}, context(platform, "alice"))
        shown = result_of(await registry(platform, "alice", "get_custom_tool", name="shout"))

        assert result_of(updated)["latest_version"] == 2
        assert result_of(called) == {"text": "Q", "length": 1}
        assert (shown["active_version"], shown["status"]) == (1, "active")
        assert [v["version"] for v in shown["versions"]] == [1, 2]
        assert shown["pending_diff"].startswith("(no change in the code)")


async def test_leaving_the_schedule_trigger_drops_the_cron_expression(
    database: Database, tmp_path: Path
) -> None:
    scheduled = {**UPPER_TOOL, "trigger": "schedule", "schedule": "0 * * * *"}
    with custom_platform(database, tmp_path) as platform:
        assert (await registry(platform, "alice", "create_custom_tool", **scheduled)).ok

        updated = await registry(
            platform, "alice", "update_custom_tool", name="shout", trigger="manual"
        )
        shown = result_of(await registry(platform, "alice", "get_custom_tool", name="shout"))

        assert updated.ok, updated.error
        assert (shown["definition"]["trigger"], shown["definition"]["schedule"]) == (
            "manual",
            None,
        )


async def test_a_principal_that_is_not_a_user_activates_a_manual_tool(
    database: Database, tmp_path: Path
) -> None:
    with custom_platform(database, tmp_path) as platform:
        setup = platform.context(system_principal("setup"), approver=approve_all)
        for operation, args in (
            ("create_custom_tool", UPPER_TOOL),
            ("test_custom_tool", {"name": "shout"}),
            ("activate_custom_tool", {"name": "shout", "version": 1}),
        ):
            result = await platform.call("registry", {"operation": operation, **args}, setup)
            assert result.ok, (operation, result.error)

        assert result_of(await platform.call("shout", {"text": "s"}, setup))["text"] == "S"
