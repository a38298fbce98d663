"""The HTTP API in-process (httpx over ASGI): auth, the tools contract, errors, audit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from masterai.api import create_app
from masterai.app import Platform
from masterai.registry import approve_all
from masterai.security import system_principal
from masterai.settings import ApiSettings, Settings


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    platform = Platform(Settings(home=tmp_path / "home", api=ApiSettings(max_body_bytes=4096)))
    root = platform.context(system_principal("setup"), approver=approve_all)
    for params in (
        {"operation": "add_company", "company_id": "acme", "company_name": "Acme"},
        {"operation": "add_company", "company_id": "globex", "company_name": "Globex"},
        {"operation": "add_user", "name": "admin", "role": "super_admin"},
        {
            "operation": "add_user",
            "name": "vic",
            "role": "viewer",
            "companies": [{"company_id": "acme"}],
        },
    ):
        assert platform.call_sync("admin", params, root).ok
    return platform


def issue_token(platform: Platform, name: str) -> str:
    root = platform.context(system_principal("setup"))
    result = platform.call_sync("admin", {"operation": "issue_token", "name": name}, root)
    return str(result.data["result"]["token"])


@pytest.fixture
def tokens(platform: Platform) -> dict[str, str]:
    return {name: issue_token(platform, name) for name in ("admin", "vic")}


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(platform), client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    platform.close()


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


def last_record(platform: Platform) -> Any:
    (record,) = platform.registry.audit_log.recent(1)
    return record


async def test_a_tool_call_answers_the_registry_result_and_is_audited_with_the_peer(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/tools/clock",
        json={"operation": "get_time", "timezone": "Europe/Paris"},
        headers=bearer(tokens["admin"]),
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["ok"], body["status"], body["tool"], body["error"]) == (True, "ok", "clock", None)
    assert body["content"].endswith("+01:00")
    record = last_record(platform)
    assert (record.id, record.user_name, record.client_address, record.tool) == (
        body["audit_id"],
        "admin",
        "203.0.113.9",
        "clock",
    )


@pytest.mark.parametrize(
    ("tool", "params", "code", "status", "path"),
    [
        ("clock", {"operation": "get_time", "timezone": 5}, 400, "invalid", "timezone"),
        ("clock", {"operation": "nap"}, 400, "invalid", "operation"),
        ("nope", {"operation": "x"}, 404, "not_found", None),
        ("admin", {"operation": "list_users"}, 403, "denied", None),
        (
            "configuration",
            {"operation": "get_configuration", "company_id": "globex"},
            403,
            "denied",
            None,
        ),
        (
            "configuration",
            {"operation": "get_configuration", "company_id": "acme"},
            422,
            "failed",
            None,
        ),
    ],
)
async def test_failures_map_to_http_statuses_with_the_registry_wording(
    client: httpx.AsyncClient,
    platform: Platform,
    tokens: dict[str, str],
    tool: str,
    params: dict[str, Any],
    code: int,
    status: str,
    path: str | None,
) -> None:
    response = await client.post(
        f"/api/v1/tools/{tool}", json=params, headers=bearer(tokens["vic"])
    )
    assert response.status_code == code, response.text
    body = response.json()
    assert (body["ok"], body["status"], body["error"]["status"], body["error"]["path"]) == (
        False,
        status,
        status,
        path,
    )
    assert body["error"]["message"]
    assert last_record(platform).status == status


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "Missing credentials"),
        ({"authorization": "Bearer mai_not-a-real-token"}, "Invalid or revoked API token"),
        ({"authorization": "Basic YWRtaW46eA=="}, "Missing credentials"),
    ],
)
async def test_calls_without_valid_credentials_are_401_and_audited(
    client: httpx.AsyncClient, platform: Platform, headers: dict[str, str], message: str
) -> None:
    before = platform.registry.audit_log.count()
    response = await client.post(
        "/api/v1/tools/clock", json={"operation": "get_time"}, headers=headers
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["status"] == "unauthenticated"
    assert message in response.json()["error"]["message"]
    assert platform.registry.audit_log.count() == before + 1
    record = last_record(platform)
    assert (record.status, record.tool, record.client_address) == ("denied", "clock", "203.0.113.9")


async def test_a_revoked_token_stops_working_at_once(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    secret = tokens["vic"]
    assert (await client.get("/api/v1/tools", headers=bearer(secret))).status_code == 200
    root = platform.context(system_principal("setup"))
    shown = await platform.call("admin", {"operation": "show_user", "name": "vic"}, root)
    token_id = shown.data["result"]["tokens"][-1]["id"]
    revoked = await platform.call(
        "admin", {"operation": "revoke_token", "name": "vic", "token_id": token_id}, root
    )
    assert revoked.ok
    assert (await client.get("/api/v1/tools", headers=bearer(secret))).status_code == 401


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b'{"operation": "get_time", "a": 1, "a": 2}', 400, "the key 'a' appears twice"),
        (b'{"operation": "get_time", "x": NaN}', 400, "NaN is not a JSON number"),
        (b'{"operation": "get_time", "x": Infinity}', 400, "Infinity is not a JSON number"),
        (b"[1, 2]", 400, "expected a JSON object"),
        (b"{bad", 400, "not JSON"),
        (b"\xff\xfe", 400, "not UTF-8"),
        (b'{"x": "' + b"a" * 5000 + b'"}', 413, "Request body too large: 5009 bytes"),
    ],
)
async def test_malformed_or_oversized_bodies_are_refused_and_audited(
    client: httpx.AsyncClient,
    platform: Platform,
    tokens: dict[str, str],
    body: bytes,
    code: int,
    message: str,
) -> None:
    before = platform.registry.audit_log.count()
    response = await client.post(
        "/api/v1/tools/clock",
        content=body,
        headers={**bearer(tokens["admin"]), "content-type": "application/json"},
    )
    assert response.status_code == code, response.text
    assert message in response.json()["error"]["message"]
    assert platform.registry.audit_log.count() == before + 1
    assert (last_record(platform).status, last_record(platform).tool) == ("invalid", "clock")


async def test_the_tool_list_shows_only_what_the_caller_may_use(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    viewer = (await client.get("/api/v1/tools", headers=bearer(tokens["vic"]))).json()
    names = {t["name"] for t in viewer}
    assert "clock" in names and "admin" not in names and "code" not in names
    clock = next(t for t in viewer if t["name"] == "clock")
    assert clock["arguments_schema"]["type"] == "object"
    detail = await client.get("/api/v1/tools/admin", headers=bearer(tokens["vic"]))
    assert detail.status_code == 404
    shown = await client.get("/api/v1/tools/configuration", headers=bearer(tokens["admin"]))
    ops = {o["name"]: o for o in shown.json()["operations"]}
    assert ops["update_prompt"]["needs_approval"] is True
    company = next(p for p in ops["update_prompt"]["parameters"] if p["name"] == "company_id")
    assert company["role"] == "company"


async def test_the_audit_is_searched_and_verified_through_the_admin_tool(
    client: httpx.AsyncClient, platform: Platform, tokens: dict[str, str]
) -> None:
    admin = bearer(tokens["admin"])
    await client.post("/api/v1/tools/clock", json={"operation": "get_time"}, headers=admin)
    found = await client.get("/api/v1/audit", params={"tool": "clock", "limit": 5}, headers=admin)
    assert found.status_code == 200
    records = found.json()["data"]["result"]
    assert [r["tool"] for r in records] == ["clock"]
    verified = await client.get("/api/v1/audit/verify", headers=admin)
    assert verified.json()["data"]["result"]["ok"] is True
    denied = await client.get("/api/v1/audit", headers=bearer(tokens["vic"]))
    assert denied.status_code == 403
    assert last_record(platform).operation == "audit_search"


async def test_health_readiness_and_security_headers(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()["status"]) == (200, "ready")
    headers = ready.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/tools/{name}" in spec["paths"]


async def test_forwarded_for_is_believed_only_from_a_trusted_proxy(tmp_path: Path) -> None:
    platform = Platform(
        Settings(home=tmp_path / "home", api=ApiSettings(trusted_proxies=["10.0.0.0/8"]))
    )
    root = platform.context(system_principal("setup"), approver=approve_all)
    params = {"operation": "add_user", "name": "admin", "role": "super_admin", "issue_token": True}
    secret = (await platform.call("admin", params, root)).data["result"]["token"]
    for peer, forwarded, expected in (
        ("10.1.2.3", "198.51.100.7, 10.0.0.5", "198.51.100.7"),
        ("203.0.113.9", "198.51.100.7", "203.0.113.9"),
    ):
        transport = httpx.ASGITransport(app=create_app(platform), client=(peer, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await client.post(
                "/api/v1/tools/clock",
                json={"operation": "get_time"},
                headers={**bearer(secret), "x-forwarded-for": forwarded},
            )
        assert last_record(platform).client_address == expected
    platform.close()
