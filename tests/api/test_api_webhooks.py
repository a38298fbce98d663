"""Webhook and integration-health routes: each one registry call, changes approved first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from api_support import acme_platform, token

from masterai.api import create_app
from masterai.app import Platform
from masterai.events import Dispatcher
from masterai.registry import approve_all
from masterai.security import system_principal


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    return acme_platform(tmp_path / "home")


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(platform), client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    platform.close()


async def test_a_webhook_is_added_listed_delivered_and_removed_with_approval(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    issued = await asyncio.to_thread(token, platform, "admin", auto_approve=True)
    admin = {"authorization": f"Bearer {issued}"}
    added = await client.post(
        "/api/v1/webhooks",
        json={"event": "configuration.*", "url": "http://127.0.0.1:9/in", "company_id": "acme"},
        headers=admin,
    )
    assert added.status_code == 200, added.text
    webhook = added.json()["data"]["result"]
    assert webhook["has_secret"] is True and "secret" in webhook  # generated, shown once
    listed = await client.get("/api/v1/webhooks", headers=admin)
    assert [h["url"] for h in listed.json()["data"]["result"]] == ["http://127.0.0.1:9/in"]
    assert "secret" not in listed.json()["data"]["result"][0]

    setup = platform.context(system_principal("setup"), approver=approve_all)
    changed = await platform.call(
        "configuration",
        {"operation": "update_prompt", "company_id": "acme", "prompt": "Hi."},
        setup,
    )
    assert changed.ok
    settings = platform.settings
    report = await Dispatcher(
        platform.database, settings.integrations, settings.egress
    ).dispatch_once()
    assert report.dead == 1  # loopback is refused by the egress guard
    dead = await client.get("/api/v1/webhooks/deliveries", params={"status": "dead"}, headers=admin)
    (delivery,) = dead.json()["data"]["result"]
    assert delivery["event_type"] == "configuration.changed"
    again = await client.post(
        f"/api/v1/webhooks/deliveries/{delivery['id']}/redeliver", headers=admin
    )
    assert again.status_code == 200 and again.json()["ok"] is True

    waiting = await client.delete(f"/api/v1/webhooks/{webhook['id']}", headers=admin)
    assert waiting.status_code == 202  # destructive: stored for approval, not run
    still = await client.get("/api/v1/webhooks", headers=admin)
    assert len(still.json()["data"]["result"]) == 1
    removed = await client.delete(
        f"/api/v1/webhooks/{webhook['id']}", params={"approve": "true"}, headers=admin
    )
    assert removed.status_code == 200, removed.text
    gone = await client.get("/api/v1/webhooks", headers=admin)
    assert gone.json()["data"]["result"] == []
    (record,) = platform.registry.audit_log.recent(1)
    assert (record.user_name, record.operation) == ("admin", "list_webhooks")
    assert record.client_address == "203.0.113.9"


async def test_bad_bodies_and_callers_are_refused_and_audited(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    admin = {"authorization": f"Bearer {await asyncio.to_thread(token, platform, 'admin')}"}
    vic = {"authorization": f"Bearer {await asyncio.to_thread(token, platform, 'vic')}"}
    before = platform.registry.audit_log.count()
    smuggled = await client.post(
        "/api/v1/webhooks",
        json={"operation": "delete_webhook", "event": "*", "url": "https://h.example/x"},
        headers=admin,
    )
    assert smuggled.status_code == 400
    assert smuggled.json()["error"]["path"] == "operation"
    broken = await client.post("/api/v1/webhooks", content=b"{", headers=admin)
    assert broken.status_code == 400
    missing = await client.post(
        "/api/v1/webhooks", json={"url": "https://h.example/x"}, headers=admin
    )
    assert missing.status_code == 400 and "event" in missing.json()["error"]["message"]
    viewer = await client.post(
        "/api/v1/webhooks", json={"event": "*", "url": "https://h.example/x"}, headers=vic
    )
    assert viewer.status_code == 403
    nobody = await client.get("/api/v1/webhooks")
    assert nobody.status_code == 401
    unknown = await client.get("/api/v1/integrations/connections/nope/health", headers=admin)
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]["message"]
    assert platform.registry.audit_log.count() == before + 6
