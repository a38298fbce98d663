"""Calls that need approval over HTTP: pending, decided once, exactly what was approved runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from masterai.api import create_app
from masterai.app import Platform
from masterai.registry import approve_all
from masterai.security import system_principal
from masterai.settings import Settings
from masterai.store.models import utcnow
from masterai.store.models.web import PendingApproval

ROOT = system_principal("setup")
NEW_PROMPT = {"operation": "update_prompt", "company_id": "acme", "prompt": "Be brief."}


def call(platform: Platform, tool: str, params: dict[str, Any]) -> Any:
    result = platform.call_sync(tool, params, platform.context(ROOT, approver=approve_all))
    assert result.ok, result.error
    return result.data["result"] if isinstance(result.data, dict) else result.data


async def acall(platform: Platform, tool: str, params: dict[str, Any]) -> Any:
    return await asyncio.to_thread(call, platform, tool, params)


@pytest.fixture
def platform(tmp_path: Path) -> Platform:
    platform = Platform(Settings(home=tmp_path / "home"))
    for params in (
        {"operation": "add_company", "company_id": "acme", "company_name": "Acme"},
        {"operation": "add_user", "name": "root", "role": "super_admin"},
        {
            "operation": "add_user",
            "name": "ann",
            "role": "admin",
            "companies": [{"company_id": "acme"}],
        },
        {
            "operation": "add_user",
            "name": "bob",
            "role": "admin",
            "companies": [{"company_id": "acme"}],
        },
    ):
        call(platform, "admin", params)
    call(platform, "configuration", {**NEW_PROMPT, "prompt": "Hello."})
    return platform


async def token(platform: Platform, name: str, *, auto_approve: bool = False) -> dict[str, str]:
    params = {"operation": "issue_token", "name": name, "auto_approve": auto_approve}
    return {"authorization": f"Bearer {(await acall(platform, 'admin', params))['token']}"}


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(platform), client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client
    platform.close()


async def prompt_of(platform: Platform) -> tuple[int, str]:
    config = await acall(
        platform, "configuration", {"operation": "get_configuration", "company_id": "acme"}
    )
    return config["version"], config["system_prompt"]


def audit_record(platform: Platform, record_id: int) -> Any:
    return next(r for r in platform.registry.audit_log.recent(50) if r.id == record_id)


async def ask(client: httpx.AsyncClient, headers: dict[str, str], **query: str) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/tools/configuration", json=NEW_PROMPT, headers=headers, params=query
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_configuration_change_waits_for_approval_then_runs_once_as_approved(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    ann = await token(platform, "ann")
    pending = await ask(client, ann)
    approval = pending["approval"]
    assert (pending["status"], approval["tool"], approval["operation"]) == (
        "pending_approval",
        "configuration",
        "update_prompt",
    )
    assert "Be brief." in approval["preview"] and "v1 -> v2" in approval["preview"]
    assert "changes_data" in approval["effects"]
    assert audit_record(platform, pending["audit_id"]).status == "denied"
    assert await prompt_of(platform) == (1, "Hello.")

    listed = (await client.get("/api/v1/approvals", headers=ann)).json()
    assert [(a["id"], a["status"], a["user"]) for a in listed] == [
        (approval["id"], "pending", "ann")
    ]

    decided = await client.post(
        f"/api/v1/approvals/{approval['id']}", json={"approve": True}, headers=ann
    )
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert (body["approval"]["status"], body["approval"]["decided_by"]) == ("approved", "ann")
    assert body["result"]["ok"] is True and body["error"] is None
    assert body["approval"]["result_audit_id"] == body["result"]["audit_id"]
    assert await prompt_of(platform) == (2, "Be brief.")
    record = audit_record(platform, body["result"]["audit_id"])
    assert (record.status, record.user_name, record.client_address) == ("ok", "ann", "203.0.113.9")


async def test_an_approval_is_decided_only_once(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    ann = await token(platform, "ann")
    approval_id = (await ask(client, ann))["approval"]["id"]
    url = f"/api/v1/approvals/{approval_id}"
    assert (await client.post(url, json={"approve": True}, headers=ann)).status_code == 200
    again = await client.post(url, json={"approve": True}, headers=ann)
    assert again.status_code == 409
    assert again.json()["error"]["status"] == "conflict"
    assert "already decided: approved by ann" in again.json()["error"]["message"]
    assert await prompt_of(platform) == (2, "Be brief.")


async def test_a_change_made_meanwhile_makes_the_approval_stale_and_nothing_runs(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    ann = await token(platform, "ann")
    approval_id = (await ask(client, ann))["approval"]["id"]
    await acall(platform, "configuration", {**NEW_PROMPT, "prompt": "Changed meanwhile."})

    decided = await client.post(
        f"/api/v1/approvals/{approval_id}", json={"approve": True}, headers=ann
    )
    assert decided.status_code == 409, decided.text
    body = decided.json()
    assert body["error"]["status"] == "stale"
    assert "no longer what was approved" in body["error"]["message"]
    assert body["approval"]["status"] == "stale"
    assert body["result"]["status"] == "denied"
    assert await prompt_of(platform) == (2, "Changed meanwhile.")


async def test_an_expired_approval_is_refused(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    ann = await token(platform, "ann")
    approval_id = (await ask(client, ann))["approval"]["id"]
    with platform.database.session() as session:
        row = session.get(PendingApproval, approval_id)
        assert row is not None
        row.expires_at = utcnow() - timedelta(seconds=1)

    decided = await client.post(
        f"/api/v1/approvals/{approval_id}", json={"approve": True}, headers=ann
    )
    assert decided.status_code == 410
    assert decided.json()["error"]["status"] == "expired"
    shown = await client.get(f"/api/v1/approvals/{approval_id}", headers=ann)
    assert shown.json()["status"] == "expired"
    assert (await client.get("/api/v1/approvals", headers=ann)).json() == []
    assert await prompt_of(platform) == (1, "Hello.")


async def test_another_users_approval_can_neither_be_seen_nor_decided(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    ann, bob = await token(platform, "ann"), await token(platform, "bob")
    approval_id = (await ask(client, ann))["approval"]["id"]
    url = f"/api/v1/approvals/{approval_id}"

    assert (await client.get(url, headers=bob)).status_code == 403
    refused = await client.post(url, json={"approve": True}, headers=bob)
    assert refused.status_code == 403
    assert "is 'ann''s" in refused.json()["error"]["message"]
    assert (await client.get("/api/v1/approvals", headers=bob)).json() == []
    assert await prompt_of(platform) == (1, "Hello.")
    assert (await client.get(url, headers=ann)).json()["status"] == "pending"


async def test_a_super_admin_sees_every_approval_and_the_approved_call_runs_as_its_caller(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    ann, root = await token(platform, "ann"), await token(platform, "root")
    approval_id = (await ask(client, ann))["approval"]["id"]
    listed = (await client.get("/api/v1/approvals", headers=root)).json()
    assert [a["id"] for a in listed] == [approval_id]

    decided = await client.post(
        f"/api/v1/approvals/{approval_id}", json={"approve": True}, headers=root
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["approval"]["decided_by"] == "root"
    assert audit_record(platform, decided.json()["result"]["audit_id"]).user_name == "ann"
    assert await prompt_of(platform) == (2, "Be brief.")


async def test_a_rejected_approval_runs_nothing_and_the_rejection_is_audited(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    ann = await token(platform, "ann")
    approval_id = (await ask(client, ann))["approval"]["id"]
    decided = await client.post(
        f"/api/v1/approvals/{approval_id}", json={"approve": False}, headers=ann
    )
    assert decided.status_code == 200
    assert decided.json()["approval"]["status"] == "rejected"
    assert decided.json()["result"] is None
    (record,) = platform.registry.audit_log.recent(1)
    assert (record.tool, record.operation, record.status) == (
        "configuration",
        "update_prompt",
        "denied",
    )
    assert f"Approval '{approval_id}' rejected by ann" in (record.error or "")
    assert await prompt_of(platform) == (1, "Hello.")


@pytest.mark.parametrize("body", [{}, {"approve": "yes"}, {"approve": True, "extra": 1}])
async def test_a_malformed_decision_is_refused(
    client: httpx.AsyncClient, platform: Platform, body: dict[str, Any]
) -> None:
    ann = await token(platform, "ann")
    approval_id = (await ask(client, ann))["approval"]["id"]
    decided = await client.post(f"/api/v1/approvals/{approval_id}", json=body, headers=ann)
    assert decided.status_code == 400
    assert decided.json()["error"]["status"] == "invalid"
    assert await prompt_of(platform) == (1, "Hello.")


async def test_an_auto_approve_token_approves_its_own_call_with_approve_true(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    trusted = await token(platform, "ann", auto_approve=True)
    response = await client.post(
        "/api/v1/tools/configuration", json=NEW_PROMPT, headers=trusted, params={"approve": "true"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True
    assert await prompt_of(platform) == (2, "Be brief.")


async def test_an_auto_approve_token_without_approve_true_still_waits(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await ask(client, await token(platform, "ann", auto_approve=True))
    assert await prompt_of(platform) == (1, "Hello.")


async def test_approve_true_from_a_normal_token_is_not_an_approval(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    await ask(client, await token(platform, "ann"), approve="true")
    assert await prompt_of(platform) == (1, "Hello.")


async def test_calls_that_need_no_approval_run_at_once(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    dry_run = {**NEW_PROMPT, "dry_run": True}
    response = await client.post(
        "/api/v1/tools/configuration", json=dry_run, headers=await token(platform, "ann")
    )
    assert response.status_code == 200
    assert "v1 -> v2" in response.json()["content"]
    assert (
        await client.get("/api/v1/approvals", headers=await token(platform, "root"))
    ).json() == []


def test_user_token_auto_approve_grants_self_approval(
    masterai_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from masterai.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    issued = runner.invoke(app, ["user", "token", "admin", "--auto-approve", "--json"])
    assert issued.exit_code == 0, issued.output
    data = json.loads(issued.stdout)
    assert data["auto_approve"] is True
    plain = json.loads(runner.invoke(app, ["user", "token", "admin", "--json"]).stdout)
    assert plain["auto_approve"] is False

    from masterai.api.auth import token_auto_approves
    from masterai.security import authenticate_token

    platform = Platform(Settings())
    try:
        for secret, expected in ((data["token"], True), (plain["token"], False)):
            principal = authenticate_token(platform.database, secret)
            assert token_auto_approves(platform, principal) is expected
    finally:
        platform.close()
