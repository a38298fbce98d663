"""``masterai mcp`` as a real subprocess, driven by the SDK's stdio client."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp import Client, StdioServerParameters

from masterai.app import Platform
from masterai.registry import approve_all
from masterai.security import system_principal
from masterai.settings import Settings

MASTERAI = str(Path(sys.executable).with_name("masterai"))


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASTERAI_")}
    return {**env, "MASTERAI_HOME": str(home), **extra}


def server(home: Path, *args: str, **extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=MASTERAI, args=["mcp", *args], env=environment(home, **extra)
    )


def audit_tail(home: Path, count: int) -> list[Any]:
    platform = Platform(Settings(home=home))
    try:
        return list(platform.registry.audit_log.recent(count))
    finally:
        platform.close()


def issue_token(home: Path, name: str) -> str:
    platform = Platform(Settings(home=home))
    try:
        context = platform.context(system_principal("setup"), approver=approve_all)
        result = platform.call_sync("admin", {"operation": "issue_token", "name": name}, context)
        return str(result.data["result"]["token"])
    finally:
        platform.close()


async def accept(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"approve": True})


async def test_a_desktop_client_lists_calls_and_approves_over_stdio(
    platform: Platform,
) -> None:
    home = platform.settings.home
    platform.close()
    async with Client(server(home, "--as", "ada"), elicitation_callback=accept) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        read = await client.call_tool("configuration_get_configuration", {"company_id": "acme"})
        changed = await client.call_tool(
            "configuration_update_prompt", {"company_id": "acme", "prompt": "Over stdio."}
        )
        again = await client.call_tool("configuration_get_configuration", {"company_id": "acme"})
    assert "configuration_update_prompt" in names and "admin_add_user" not in names
    assert read.is_error is False and changed.is_error is False, changed.content
    assert again.structured_content is not None
    assert again.structured_content["result"]["system_prompt"] == "Over stdio."
    tail = [(r.user_name, r.client_address, r.operation, r.status) for r in audit_tail(home, 3)]
    assert tail == [
        ("ada", "mcp:stdio", "get_configuration", "ok"),
        ("ada", "mcp:stdio", "update_prompt", "ok"),
        ("ada", "mcp:stdio", "get_configuration", "ok"),
    ]


async def test_the_identity_can_be_a_token_in_the_environment(platform: Platform) -> None:
    home = platform.settings.home
    platform.close()
    token = await asyncio.to_thread(issue_token, home, "vic")
    async with Client(server(home, MASTERAI_TOKEN=token)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        denied = await client.call_tool(
            "code_execute_code", {"code": "print(1)", "language": "python"}
        )
    assert "code_execute_code" not in names
    assert denied.is_error is True
    (record,) = audit_tail(home, 1)
    assert (record.user_name, record.tool, record.status) == ("vic", "code", "denied")


@pytest.mark.parametrize(
    ("args", "extra", "status", "message"),
    [
        ((), {}, 2, "needs an identity: --as USER or an API token in $MASTERAI_TOKEN"),
        (("--as", " "), {}, 2, "--as must name a user; it was blank"),
        (("--as", "nobody"), {}, 3, "denied: "),
        ((), {"MASTERAI_TOKEN": "mai_not-a-token"}, 3, "denied: "),
    ],
)
def test_a_missing_or_unknown_identity_is_refused_with_one_line(
    platform: Platform, args: tuple[str, ...], extra: dict[str, str], status: int, message: str
) -> None:
    home = platform.settings.home
    platform.close()
    before = len(audit_tail(home, 1000))
    done = subprocess.run(
        [MASTERAI, "mcp", *args],
        env=environment(home, **extra),
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == status, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    records = audit_tail(home, 1000)
    if status == 3:  # an unknown caller is refused on the record
        assert len(records) == before + 1
        assert (records[-1].tool, records[-1].status) == ("(mcp)", "denied")
    else:
        assert len(records) == before
