"""Script and run routes: each one registry call as the caller; deleting waits for approval."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from api_support import acme_platform, token

from masterai.api import create_app
from masterai.app import Platform


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return acme_platform(tmp_path / "home")


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(platform), client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    platform.close()


async def test_a_script_is_created_run_listed_and_deleted_after_approval(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    admin = {"authorization": f"Bearer {await asyncio.to_thread(token, platform, 'admin')}"}
    created = await client.post(
        "/api/v1/tools/code",
        json={
            "operation": "create_script",
            "name": "greet",
            "language": "python",
            "code": "print('hello from the API')",
            "company_id": "acme",
        },
        headers=admin,
    )
    assert created.status_code == 200, created.text
    ran = await client.post("/api/v1/scripts/greet/run", json={}, headers=admin)
    assert ran.status_code == 200, ran.text
    run = ran.json()["data"]["result"]
    assert (run["status"], run["trigger"]) == ("succeeded", "api")
    shown = await client.get(f"/api/v1/runs/{run['id']}", headers=admin)
    assert "hello from the API" in shown.json()["data"]["result"]["stdout"]
    listed = await client.get("/api/v1/runs", params={"script": "greet"}, headers=admin)
    assert [r["id"] for r in listed.json()["data"]["result"]] == [run["id"]]
    script = await client.get("/api/v1/scripts/greet", headers=admin)
    assert script.json()["data"]["result"]["version"] == 1
    waiting = await client.delete("/api/v1/scripts/greet", headers=admin)
    assert waiting.status_code == 202
    assert (await client.get("/api/v1/scripts/greet", headers=admin)).status_code == 200
    (record,) = platform.registry.audit_log.recent(1)
    assert (record.user_name, record.operation, record.client_address) == (
        "admin",
        "get_script",
        "203.0.113.9",
    )


async def test_what_the_url_names_stays_out_of_the_body_and_viewers_run_nothing(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    admin = {"authorization": f"Bearer {await asyncio.to_thread(token, platform, 'admin')}"}
    vic = {"authorization": f"Bearer {await asyncio.to_thread(token, platform, 'vic')}"}
    before = platform.registry.audit_log.count()
    clash = await client.post("/api/v1/scripts/greet/run", json={"script": "other"}, headers=admin)
    assert clash.status_code == 400 and clash.json()["error"]["path"] == "script"
    unknown = await client.get("/api/v1/scripts/nope", headers=admin)
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]["message"]
    viewer = await client.post("/api/v1/scripts/greet/run", json={}, headers=vic)
    assert viewer.status_code == 403
    assert platform.registry.audit_log.count() == before + 3
