"""The console's Custom tools page: define, test, activate after seeing the diff, the catalog."""

from __future__ import annotations

import asyncio
import html
import json
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from conftest import client_for, issue_token, log_in, make_platform
from masterai.app import Platform
from masterai.settings import SandboxSettings
from service_guard import require_service

DIGEST = re.compile(r'name="digest" value="([0-9a-f]{64})"')
PARAMS = re.compile(r'name="params" value="([^"]+)"')
CODE = "def run(args, ctx):\n    return {'twice': args['n'] * 2}\n"


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    require_service(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    run_dir = Path(tempfile.mkdtemp(prefix="masterai-console-"))
    run_dir.chmod(0o755)
    platform = make_platform(tmp_path / "home")
    platform.settings.sandbox = SandboxSettings(backend="bubblewrap", run_dir=run_dir)
    yield platform
    platform.close()
    shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture
async def admin(platform: Platform) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    token = await asyncio.to_thread(issue_token, platform, "admin")
    async with client_for(platform) as client:
        yield client, await log_in(client, token)


async def post(client: httpx.AsyncClient, csrf: str, **fields: str) -> httpx.Response:
    return await client.post("/tools/registry", data={"csrf_token": csrf, **fields})


async def test_a_tool_is_defined_tested_and_activated_after_its_diff_is_approved(
    admin: tuple[httpx.AsyncClient, str], platform: Platform
) -> None:
    client, csrf = admin
    empty = await client.get("/custom-tools")
    created = await post(
        client,
        csrf,
        operation="create_custom_tool",
        name="double",
        description="Doubles a number",
        parameters=json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}}),
        code=CODE,
        tests=json.dumps([{"arguments": {"n": 2}, "expected": {"twice": 4}}]),
    )
    tested = await post(client, csrf, operation="test_custom_tool", name="double")
    preview = await client.post(
        "/tools/registry",
        data={
            "csrf_token": csrf,
            "operation": "activate_custom_tool",
            "name": "double",
            "version": "1",
        },
        headers={"hx-request": "true"},
    )
    decision = {
        "csrf_token": csrf,
        "tool": "registry",
        "params": html.unescape(PARAMS.search(preview.text).group(1)),
        "digest": DIGEST.search(preview.text).group(1),
        "decision": "approve",
    }
    applied = await client.post("/approvals/decide", data=decision, headers={"hx-request": "true"})
    page = await client.get("/custom-tools/double")

    assert empty.status_code == 200 and "No custom tools yet." in empty.text
    assert 'href="/custom-tools"' in empty.text  # in the navigation
    assert 'class="result ok"' in created.text, created.text
    assert "1 passed, all passed" in tested.text
    assert "Approve this change?" in preview.text
    assert 'class="diff-add"' in preview.text and "twice" in preview.text
    assert 'class="result ok"' in applied.text, applied.text
    assert "status-active" in page.text or ">active<" in page.text
    assert "1 passed, 0 failed" in page.text
    async with asyncio.timeout(5):  # other processes notice within custom_tools.refresh_ms
        while "double" not in platform.registry.names():
            await asyncio.sleep(0.05)
