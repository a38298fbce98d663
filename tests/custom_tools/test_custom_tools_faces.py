"""An active custom tool on every face: HTTP ``POST /api/v1/tools/{name}`` and MCP."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
from custom_support import UPPER_TOOL, custom_platform, ready_tool
from mcp import Client

from masterai.api import create_app
from masterai.app import Platform
from masterai.mcp.stdio import stdio_face
from masterai.security import system_principal
from masterai.store import Database


async def issue_token(platform: Platform, name: str) -> str:
    root = platform.context(system_principal("setup"))
    result = await platform.call("admin", {"operation": "issue_token", "name": name}, root)
    return str(result.data["result"]["token"])


async def test_an_active_tool_is_called_over_http_with_its_arguments_as_the_body(
    database: Database, tmp_path: Path
) -> None:
    with custom_platform(database, tmp_path) as platform:
        await ready_tool(platform, "alice", UPPER_TOOL)
        headers = {"authorization": f"Bearer {await issue_token(platform, 'alice')}"}
        transport = httpx.ASGITransport(app=create_app(platform))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            listed = await client.get("/api/v1/tools", headers=headers)
            called = await client.post("/api/v1/tools/shout", json={"text": "web"}, headers=headers)
            invalid = await client.post("/api/v1/tools/shout", json={"txt": 1}, headers=headers)

        assert "shout" in [t["name"] for t in listed.json()]
        assert called.status_code == 200, called.text
        assert called.json()["data"]["result"] == {"text": "WEB", "length": 3}
        assert invalid.status_code == 400
        assert "required property" in invalid.text


async def test_mcp_clients_are_told_the_tool_list_changed_when_a_tool_is_activated(
    database: Database, tmp_path: Path
) -> None:
    with custom_platform(database, tmp_path) as platform:
        platform.settings.mcp.watch_seconds = 0.2
        face = stdio_face(platform, user="alice", token=None)
        async with Client(face.server) as client:
            before = {t.name for t in (await client.list_tools()).tools}
            async with client.listen(tools_list_changed=True) as subscription:
                await ready_tool(platform, "alice", UPPER_TOOL)
                with anyio.fail_after(10):
                    async for _event in subscription:
                        break
            after = {t.name for t in (await client.list_tools()).tools}
            called = await client.call_tool("shout", {"text": "mcp"})

        assert after - before == {"shout"}
        assert not called.is_error
        assert "MCP" in str(called.content[0])
