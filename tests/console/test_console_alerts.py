"""The console's Alerts page lists and filters alerts, shows the backlog, and acknowledges."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from conftest import client_for, issue_token, log_in, make_platform
from masterai.app import Platform
from masterai.services.alerts import NewAlert, Severity, SourceKind, record_alert


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    platform = make_platform(tmp_path / "home")
    with platform.database.session() as session:
        for severity, message in ((Severity.HIGH, "named Globex"), (Severity.LOW, "new address")):
            record_alert(
                session,
                NewAlert(
                    source="competitors", source_kind=SourceKind.CUSTOM_TOOL, severity=severity,
                    kind="competitor_mention", message=message, company_id="acme-retail",
                ),
            )  # fmt: skip
    yield platform
    platform.close()


@pytest.fixture
async def admin(platform: Platform) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    token = await asyncio.to_thread(issue_token, platform, "admin")
    async with client_for(platform) as client:
        yield client, await log_in(client, token)


async def test_the_alerts_page_lists_filters_and_shows_the_backlog(
    admin: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = admin

    page = await client.get("/alerts")
    serious = await client.get("/alerts", params={"severity": "high"})

    assert page.status_code == 200
    assert "named Globex" in page.text and "new address" in page.text
    assert re.search(r"Backlog: <strong>0</strong> messages waiting", page.text)
    assert "named Globex" in serious.text and "new address" not in serious.text
    assert 'href="/alerts"' in page.text  # in the navigation


async def test_an_alert_is_acknowledged_from_the_page(
    admin: tuple[httpx.AsyncClient, str], platform: Platform
) -> None:
    client, csrf = admin

    form = await client.get("/alerts", params={"alert": 1})
    done = await client.post(
        "/tools/registry",
        data={"csrf_token": csrf, "operation": "acknowledge_alert", "alert_id": "1"},
    )
    (record,) = platform.registry.audit_log.recent(1)
    still_open = await client.get("/alerts", params={"open_only": "true"})

    assert 'name="alert_id"' in form.text and 'value="1"' in form.text
    assert 'class="result ok"' in done.text, done.text
    assert (record.user_name, record.operation) == ("admin", "acknowledge_alert")
    assert "named Globex" not in still_open.text and "new address" in still_open.text
