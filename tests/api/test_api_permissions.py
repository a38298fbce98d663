"""The permission matrix over HTTP: every operation of every built-in tool, every role.

The same role table as tests/registry/test_registry_permissions.py, asked through
``POST /api/v1/tools/{name}`` with each role's own bearer token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from masterai.api import create_app
from masterai.app import Platform
from masterai.registry import approve_all
from masterai.security import system_principal
from masterai.settings import Settings

ROLE_ACCESS: dict[str, dict[str, str]] = {
    "super_admin": {"*": "write"},
    "admin": {"*": "write", "admin": "none"},
    "analyst": {"analytics": "read", "configuration": "read", "clock": "read"},
    "viewer": {"*": "read", "code": "none", "admin": "none"},
}
CALLS_MODELS = {"super_admin", "admin"}
RUNS_CODE = {"super_admin", "admin"}
"""Roles with code execution enabled by default (an operation that runs code needs it)."""


def may_use(role: str, category: str, read_only: bool, calls_model: bool, runs_code: bool) -> bool:
    access = ROLE_ACCESS[role]
    level = access.get(category, access.get("*", "none"))
    allowed = level == "write" or (level == "read" and read_only)
    return (
        allowed
        and (role in CALLS_MODELS or not calls_model)
        and (role in RUNS_CODE or not runs_code)
    )


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return Platform(Settings(home=tmp_path / "home"))


@pytest.fixture
def tokens(platform: Platform) -> dict[str, str]:
    root = platform.context(system_principal("setup"), approver=approve_all)
    issued = {}
    for role in ROLE_ACCESS:
        params = {"operation": "add_user", "name": role, "role": role, "issue_token": True}
        issued[role] = platform.call_sync("admin", params, root).data["result"]["token"]
    return issued


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    platform.close()


async def test_every_operation_of_every_tool_is_refused_over_http_exactly_as_the_role_table_says(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    registry = platform.registry
    mismatches = []
    calls = 0
    for name in registry.names():
        registered = registry.get(name)
        assert registered is not None
        for op, definition in registered.tool.get_operation_definitions().items():
            for role, secret in tokens.items():
                before = registry.audit_log.count()
                response = await client.post(
                    f"/api/v1/tools/{name}",
                    json={"operation": op},
                    headers={"authorization": f"Bearer {secret}"},
                )
                calls += 1
                assert registry.audit_log.count() == before + 1
                (record,) = registry.audit_log.recent(1)
                assert (record.user_name, record.tool, record.operation) == (role, name, op)
                refused = response.status_code == 403
                expected = may_use(
                    role,
                    registered.category,
                    definition.read_only,
                    registered.calls_model(op),
                    registered.runs_code(op),
                )
                if refused == expected:
                    mismatches.append((role, name, op, response.status_code, response.text[:200]))
    assert mismatches == []
    assert calls >= 4 * 40
