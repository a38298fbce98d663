"""Alerts through the registry, HTTP and the CLI: listed by who may see them, acknowledged,
delivered to webhooks; conversations ingested over HTTP are queued for the monitors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from monitor_support import conversation_line
from sqlalchemy import func, select
from support import make_settings
from typer.testing import CliRunner

from masterai.api import create_app
from masterai.app import Platform
from masterai.cli import app as cli_app
from masterai.events import Dispatcher
from masterai.registry import ExecutionContext, ToolRegistry, ToolResult, approve_all
from masterai.security import Principal, UserDirectory, system_principal
from masterai.services.alerts import NewAlert, Severity, SourceKind, record_alert
from masterai.settings import Settings
from masterai.store import Database
from masterai.store.models.alerts import MonitorQueueItem


def seed_alerts(store: Database) -> None:
    """An alert of acme, one of globex, and a platform-wide one (no company)."""
    with store.session() as session:
        for company, source in (("acme", "competitors"), ("globex", "competitors"), (None, "x")):
            record_alert(
                session,
                NewAlert(
                    source=source,
                    source_kind=SourceKind.CUSTOM_TOOL if company else SourceKind.MONITOR,
                    severity=Severity.HIGH if company == "acme" else Severity.LOW,
                    kind="competitor_mention",
                    message=f"alert of {company}",
                    company_id=company,
                ),
            )


async def registry_call(
    registry: ToolRegistry, who: Principal, operation: str, **args: Any
) -> ToolResult:
    context = ExecutionContext(principal=who, approver=approve_all)
    return await registry.execute_tool("registry", {"operation": operation, **args}, context)


def companies_listed(result: ToolResult) -> list[str | None]:
    assert result.ok, result.error
    return [a["company_id"] for a in result.data["result"]["alerts"]]


async def test_a_super_admin_sees_every_alert_newest_first(
    registry: ToolRegistry, people: dict[str, Principal], store: Database
) -> None:
    seed_alerts(store)

    listed = await registry_call(registry, people["root"], "list_alerts")

    assert companies_listed(listed) == [None, "globex", "acme"]


async def test_a_viewer_sees_only_the_alerts_of_its_companies(
    registry: ToolRegistry, people: dict[str, Principal], store: Database
) -> None:
    seed_alerts(store)

    listed = await registry_call(registry, people["vic"], "list_alerts")

    assert companies_listed(listed) == ["acme"]


async def test_naming_a_company_one_may_not_read_is_denied(
    registry: ToolRegistry, people: dict[str, Principal], store: Database
) -> None:
    seed_alerts(store)

    denied = await registry_call(registry, people["vic"], "list_alerts", company_id="globex")

    assert denied.status == "denied"


async def test_alerts_filter_by_severity_tool_and_since(
    registry: ToolRegistry, people: dict[str, Principal], store: Database
) -> None:
    seed_alerts(store)
    root = people["root"]

    serious = await registry_call(registry, root, "list_alerts", severity="medium")
    by_tool = await registry_call(registry, root, "list_alerts", tool="x")
    future = await registry_call(registry, root, "list_alerts", since="2999-01-01T00:00:00Z")
    bad = await registry_call(registry, root, "list_alerts", since="yesterday")

    assert companies_listed(serious) == ["acme"] and companies_listed(by_tool) == [None]
    assert companies_listed(future) == []
    assert bad.status in {"invalid", "failed"} and "since" in (bad.error or "")


async def test_an_alert_is_acknowledged_once_by_someone_who_may_change_its_company(
    registry: ToolRegistry, people: dict[str, Principal], store: Database
) -> None:
    seed_alerts(store)
    acme_alert = 1

    by_gus = await registry_call(registry, people["gus"], "acknowledge_alert", alert_id=acme_alert)
    by_ada = await registry_call(registry, people["ada"], "acknowledge_alert", alert_id=acme_alert)
    again = await registry_call(registry, people["root"], "acknowledge_alert", alert_id=acme_alert)
    open_only = await registry_call(registry, people["ada"], "list_alerts", unacknowledged=True)

    assert not by_gus.ok and "no alert 1" in (by_gus.error or "")
    assert by_ada.ok and by_ada.data["result"]["acknowledged_by"] == "ada"
    assert again.data["result"]["acknowledged_by"] == "ada"
    assert companies_listed(open_only) == []


async def test_a_raised_alert_reaches_a_subscribed_webhook(
    registry: ToolRegistry,
    people: dict[str, Principal],
    store: Database,
    settings: Settings,
    receiver: Any,
) -> None:
    subscribed = await registry.execute_tool(
        "integration",
        {"operation": "setup_webhook", "event": "custom_tool.alert", "url": receiver.url,
         "company_id": "acme"},
        ExecutionContext(principal=people["root"], approver=approve_all),
    )  # fmt: skip
    assert subscribed.ok, subscribed.error
    seed_alerts(store)

    report = await Dispatcher(store, settings.integrations, settings.egress).dispatch_once()

    assert report.delivered == 1
    body = receiver.requests[0].json()
    assert body["type"] == "custom_tool.alert" and body["data"]["company_id"] == "acme"


# --- HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(make_settings(tmp_path))
    setup = platform.context(system_principal("setup"), approver=approve_all)
    for params in (
        {"operation": "add_company", "company_id": "acme", "company_name": "Acme"},
        {"operation": "add_user", "name": "admin", "role": "super_admin"},
        {"operation": "add_user", "name": "vic", "role": "viewer",
         "companies": [{"company_id": "acme"}]},
    ):  # fmt: skip
        assert platform.call_sync("admin", params, setup).ok
    yield platform
    platform.close()


def bearer(platform: Platform, name: str) -> dict[str, str]:
    setup = platform.context(system_principal("setup"))
    params = {"operation": "issue_token", "name": name, "auto_approve": name == "admin"}
    issued = platform.call_sync("admin", params, setup).data["result"]["token"]
    return {"authorization": f"Bearer {issued}"}


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(platform), client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def conversation(conversation_id: str, answer: str) -> dict[str, Any]:
    return dict(json.loads(conversation_line(conversation_id, answer)))


async def test_conversations_posted_over_http_are_stored_and_queued(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    admin = await asyncio.to_thread(bearer, platform, "admin")
    body = {"conversations": [conversation("h1", "Hello!"), conversation("h2", "Bye!")]}

    posted = await client.post("/api/v1/conversations", json=body, headers=admin)
    backlog = await client.get("/api/v1/alerts/backlog", headers=admin)

    assert posted.status_code == 200, posted.text
    assert posted.json()["data"]["result"]["conversations"] == 2
    assert backlog.json()["data"]["result"]["messages"] == 4
    with platform.database.session() as session:
        assert session.scalar(select(func.count(MonitorQueueItem.id))) == 4


async def test_a_malformed_ingestion_is_refused_and_stores_nothing(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    admin = await asyncio.to_thread(bearer, platform, "admin")

    posted = await client.post("/api/v1/conversations", json={"conversations": "h1"}, headers=admin)

    assert posted.status_code == 400 and "conversations" in posted.text
    with platform.database.session() as session:
        assert session.scalar(select(func.count(MonitorQueueItem.id))) == 0


async def test_a_viewer_may_not_ingest_conversations(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    viewer = await asyncio.to_thread(bearer, platform, "vic")

    posted = await client.post(
        "/api/v1/conversations", json={"conversations": [conversation("h1", "Hi")]}, headers=viewer
    )

    assert posted.status_code == 403


async def test_alerts_are_listed_and_acknowledged_over_http(
    client: httpx.AsyncClient, platform: Platform
) -> None:
    seed_alerts(platform.database)
    admin = await asyncio.to_thread(bearer, platform, "admin")
    viewer = await asyncio.to_thread(bearer, platform, "vic")

    seen_by_viewer = await client.get("/api/v1/alerts", headers=viewer)
    acked = await client.post("/api/v1/alerts/1/acknowledge", headers=admin)
    open_ones = await client.get("/api/v1/alerts?unacknowledged=true", headers=admin)

    assert [a["id"] for a in seen_by_viewer.json()["data"]["result"]["alerts"]] == [1]
    assert acked.status_code == 200 and acked.json()["data"]["result"]["acknowledged_by"] == "admin"
    assert [a["id"] for a in open_ones.json()["data"]["result"]["alerts"]] == [3, 2]


# --- CLI ----------------------------------------------------------------------------------


def test_alerts_list_and_ack_on_the_command_line(masterai_home: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli_app, ["init"]).exit_code == 0
    platform = Platform(Settings(home=masterai_home))
    UserDirectory(platform.database).add_company("acme", "Acme")
    seed_alerts_acme_only(platform.database)
    platform.close()

    listed = runner.invoke(cli_app, ["alerts", "list", "--json"])
    acked = runner.invoke(cli_app, ["alerts", "ack", "1"])
    backlog = runner.invoke(cli_app, ["alerts", "backlog", "--json"])
    missing = runner.invoke(cli_app, ["alerts", "ack", "99"])

    assert listed.exit_code == 0, listed.output
    assert [a["message"] for a in json.loads(listed.output)["alerts"]] == ["alert of acme"]
    assert acked.exit_code == 0 and "acknowledged" in acked.output
    assert json.loads(backlog.output)["messages"] == 0
    assert missing.exit_code != 0 and "no alert 99" in missing.output


def seed_alerts_acme_only(store: Database) -> None:
    with store.session() as session:
        record_alert(
            session,
            NewAlert(
                source="competitors",
                source_kind=SourceKind.CUSTOM_TOOL,
                severity=Severity.HIGH,
                kind="competitor_mention",
                message="alert of acme",
                company_id="acme",
            ),
        )
