"""``/mcp`` on a real ``masterai serve``, driven by the SDK's streamable-HTTP client."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import mcp.types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from masterai.app import Platform
from masterai.registry import approve_all
from masterai.security import system_principal
from masterai.settings import Settings
from serve_support import MASTERAI, free_port, wait_until_up


@dataclass(frozen=True)
class Served:
    base: str
    home: Path
    tokens: dict[str, str]
    workers: int


def issue_tokens(home: Path, names: tuple[str, ...]) -> dict[str, str]:
    platform = Platform(Settings(home=home))
    try:
        context = platform.context(system_principal("setup"), approver=approve_all)
        tokens = {}
        for name in names:
            result = platform.call_sync(
                "admin", {"operation": "issue_token", "name": name}, context
            )
            tokens[name] = str(result.data["result"]["token"])
        return tokens
    finally:
        platform.close()


@pytest.fixture(params=[1, 2], ids=["1-worker", "2-workers"])
def served(request: pytest.FixtureRequest, platform: Platform, tmp_path: Path) -> Iterator[Served]:
    home = platform.settings.home
    platform.close()
    tokens = issue_tokens(home, ("ada", "vic"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASTERAI_")}
    env["MASTERAI_HOME"] = str(home)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [MASTERAI, "serve", "--port", str(port), "--workers", str(request.param)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process, log)
        yield Served(base=base, home=home, tokens=tokens, workers=request.param)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@asynccontextmanager
async def connect(served: Served, user: str, **options: Any) -> AsyncIterator[Client]:
    headers = {"authorization": f"Bearer {served.tokens[user]}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        transport = streamable_http_client(f"{served.base}/mcp", http_client=http)
        async with Client(transport, **options) as client:
            yield client


def audit_tail(home: Path, count: int) -> list[Any]:
    platform = Platform(Settings(home=home))
    try:
        return list(platform.registry.audit_log.recent(count))
    finally:
        platform.close()


async def accept(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"approve": True})


async def decline(ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="decline")


def test_no_token_no_tools_and_the_metadata_names_the_resource(served: Served) -> None:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    accept_header = {"accept": "application/json, text/event-stream"}
    for headers in ({}, {"authorization": "Bearer mai_revoked-or-never-issued"}):
        answer = httpx.post(f"{served.base}/mcp", json=message, headers=accept_header | headers)
        assert answer.status_code == 401
        challenge = answer.headers["www-authenticate"]
        assert challenge.startswith("Bearer ")
        assert f'resource_metadata="{served.base}/.well-known/oauth-protected-resource/mcp"' in (
            challenge
        )
    metadata = httpx.get(f"{served.base}/.well-known/oauth-protected-resource/mcp").json()
    assert metadata["resource"] == f"{served.base}/mcp"
    assert metadata["authorization_servers"] == [served.base]


def test_host_and_origin_are_checked(served: Served) -> None:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {
        "accept": "application/json, text/event-stream",
        "authorization": f"Bearer {served.tokens['vic']}",
    }
    rebound = httpx.post(
        f"{served.base}/mcp", json=message, headers=headers | {"host": "attacker.example:80"}
    )
    assert rebound.status_code in (400, 421)
    foreign = httpx.post(
        f"{served.base}/mcp",
        json=message,
        headers=headers | {"origin": "http://attacker.example"},
    )
    assert foreign.status_code == 403


async def test_tool_lists_calls_and_denials_follow_the_token(served: Served) -> None:
    async with connect(served, "vic") as client:
        vic = {t.name for t in (await client.list_tools()).tools}
        read = await client.call_tool("configuration_get_configuration", {"company_id": "acme"})
        denied = await client.call_tool("configuration_get_configuration", {"company_id": "globex"})
    async with connect(served, "ada") as client:
        ada = {t.name for t in (await client.list_tools()).tools}
    assert "code_execute_code" not in vic and "configuration_update_prompt" not in vic
    assert "configuration_update_prompt" in ada
    assert read.is_error is False and denied.is_error is True
    records = await asyncio.to_thread(audit_tail, served.home, 2)
    assert [(r.user_name, r.client_address, r.status) for r in records] == [
        ("vic", "127.0.0.1", "ok"),
        ("vic", "127.0.0.1", "denied"),
    ]


# A handshake-era (2025) client keeps a session on the worker that opened it, so it is
# tested on one worker; a 2026-07-28 client needs no session (docs/mcp.md).
@pytest.mark.parametrize(
    ("served", "mode"),
    [(1, "auto"), (2, "auto"), (1, "legacy")],
    ids=["1-worker-2026", "2-workers-2026", "1-worker-2025"],
    indirect=["served"],
)
async def test_approval_by_elicitation_over_http(served: Served, mode: str) -> None:
    async with connect(served, "ada", mode=mode, elicitation_callback=decline) as client:
        declined = await client.call_tool(
            "configuration_update_prompt", {"company_id": "acme", "prompt": "Declined."}
        )
    async with connect(served, "ada", mode=mode, elicitation_callback=accept) as client:
        accepted = await client.call_tool(
            "configuration_update_prompt", {"company_id": "acme", "prompt": f"Over {mode}."}
        )
        now = await client.call_tool("configuration_get_configuration", {"company_id": "acme"})
    assert declined.is_error is True
    assert "declined" in declined.content[0].text  # type: ignore[union-attr]
    assert accepted.is_error is False, accepted.content
    assert now.structured_content is not None
    assert now.structured_content["result"]["system_prompt"] == f"Over {mode}."
    records = await asyncio.to_thread(audit_tail, served.home, 3)
    assert [(r.user_name, r.operation, r.status) for r in records] == [
        ("ada", "update_prompt", "denied"),
        ("ada", "update_prompt", "ok"),
        ("ada", "get_configuration", "ok"),
    ]
