"""Console pages in-process: forms, registry calls as the user, approval of changes."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from conftest import client_for, issue_token, log_in, make_platform
from masterai.app import Platform
from masterai.registry import approve_all
from masterai.security import system_principal

DIGEST = re.compile(r'name="digest" value="([0-9a-f]{64})"')
PARAMS = re.compile(r'name="params" value="([^"]+)"')


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the demo data set (made once; each test works on a copy)."""
    home = tmp_path_factory.mktemp("demo") / "home"
    make_platform(home, demo=True).close()
    return home


@pytest.fixture
def platform(demo: Path, tmp_path: Path) -> Platform:
    import shutil

    home = tmp_path / "home"
    shutil.copytree(demo, home)
    from masterai.settings import Settings

    return Platform(Settings(home=home))


@pytest.fixture
async def admin(platform: Platform) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    token = await asyncio.to_thread(issue_token, platform, "admin")
    async with client_for(platform) as client:
        yield client, await log_in(client, token)
    platform.close()


def last_record(platform: Platform) -> object:
    (record,) = platform.registry.audit_log.recent(1)
    return record


def active_version(platform: Platform, company: str) -> dict[str, object]:
    context = platform.context(system_principal("check"))
    params = {"operation": "get_configuration", "company_id": company}
    result = platform.call_sync("configuration", params, context)
    assert result.ok, result.error
    return dict(result.data["result"])


async def test_a_tool_form_runs_the_call_as_the_user_from_the_browsers_address(
    admin: tuple[httpx.AsyncClient, str], platform: Platform
) -> None:
    client, csrf = admin
    form = await client.get("/tools/clock", params={"operation": "get_time"})
    assert '<select id="tool-panel-format" name="format"' in form.text  # an enum: a select
    answer = await client.post(
        "/tools/clock",
        data={"csrf_token": csrf, "operation": "get_time", "timezone": "Europe/Paris"},
    )
    assert answer.status_code == 200
    assert 'class="result ok"' in answer.text
    record = last_record(platform)
    assert (record.user_name, record.tool, record.operation) == ("admin", "clock", "get_time")
    assert record.client_address == "203.0.113.9"
    assert record.params == {"operation": "get_time", "timezone": "Europe/Paris"}


async def test_a_bad_json_field_is_shown_in_place_and_nothing_is_called(
    admin: tuple[httpx.AsyncClient, str], platform: Platform
) -> None:
    client, csrf = admin
    before = platform.registry.audit_log.count()
    answer = await client.post(
        "/tools/analytics",
        data={"csrf_token": csrf, "operation": "predict_usage", "metrics": '["tokens",'},
        headers={"hx-request": "true"},
    )
    assert answer.status_code == 200
    assert "not valid JSON" in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert platform.registry.audit_log.count() == before


async def test_a_rollback_waits_for_approval_then_applies_exactly_the_previewed_change(
    admin: tuple[httpx.AsyncClient, str], platform: Platform
) -> None:
    client, csrf = admin
    before = await asyncio.to_thread(active_version, platform, "acme-retail")
    preview = await client.post(
        "/configurations/acme-retail/change",
        data={"csrf_token": csrf, "operation": "rollback", "version": "1"},
        headers={"hx-request": "true"},
    )
    assert "Approve this change?" in preview.text
    assert 'class="diff-del"' in preview.text and 'class="diff-add"' in preview.text
    waiting = await asyncio.to_thread(active_version, platform, "acme-retail")
    assert waiting["version"] == before["version"]
    (declined,) = [
        r
        for r in platform.registry.audit_log.search(tool="configuration")
        if r.operation == "rollback"
    ]
    assert declined.status == "denied"  # not approved yet: audited, nothing changed
    decision = {
        "csrf_token": csrf,
        "tool": "configuration",
        "params": html.unescape(PARAMS.search(preview.text).group(1)),
        "digest": DIGEST.search(preview.text).group(1),
        "decision": "approve",
    }
    applied = await client.post("/approvals/decide", data=decision, headers={"hx-request": "true"})
    assert 'class="result ok"' in applied.text
    record = last_record(platform)
    assert (record.operation, record.status, record.client_address) == (
        "rollback",
        "ok",
        "203.0.113.9",
    )
    after = await asyncio.to_thread(active_version, platform, "acme-retail")
    assert after["version"] == before["version"] + 1
    assert after["source_version"] == 1


async def test_an_approval_given_on_a_stale_preview_applies_nothing(
    admin: tuple[httpx.AsyncClient, str], platform: Platform
) -> None:
    client, csrf = admin
    preview = await client.post(
        "/configurations/acme-retail/change",
        data={"csrf_token": csrf, "operation": "rollback", "version": "1"},
    )
    root = platform.context(system_principal("someone else"), approver=approve_all)
    params = {"operation": "update_prompt", "company_id": "acme-retail", "prompt": "Changed."}
    assert (await platform.call("configuration", params, root)).ok
    changed = await asyncio.to_thread(active_version, platform, "acme-retail")
    decision = {
        "csrf_token": csrf,
        "tool": "configuration",
        "params": html.unescape(PARAMS.search(preview.text).group(1)),
        "digest": DIGEST.search(preview.text).group(1),
        "decision": "approve",
    }
    answer = await client.post("/approvals/decide", data=decision)
    assert "no longer holds" in answer.text
    assert "Approve this change?" in answer.text  # the new change, for a new decision
    assert await asyncio.to_thread(active_version, platform, "acme-retail") == changed


async def test_rejecting_a_preview_runs_nothing(
    admin: tuple[httpx.AsyncClient, str], platform: Platform
) -> None:
    client, csrf = admin
    preview = await client.post(
        "/configurations/acme-retail/change",
        data={"csrf_token": csrf, "operation": "rollback", "version": "1"},
    )
    before = platform.registry.audit_log.count()
    decision = {
        "csrf_token": csrf,
        "tool": "configuration",
        "params": html.unescape(PARAMS.search(preview.text).group(1)),
        "digest": DIGEST.search(preview.text).group(1),
        "decision": "reject",
    }
    answer = await client.post("/approvals/decide", data=decision)
    assert "Nothing was applied" in answer.text
    assert platform.registry.audit_log.count() == before


async def test_the_diff_of_two_versions_is_shown_side_by_side(
    admin: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = admin
    answer = await client.get(
        "/configurations/acme-retail/diff", params={"from_version": 1, "to_version": 3}
    )
    assert answer.status_code == 200
    assert '<table class="sbs">' in answer.text
    assert '<td class="del">' in answer.text and '<td class="add">' in answer.text


async def test_the_dashboard_draws_its_charts_as_svg_images(
    admin: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = admin
    answer = await client.get("/analytics", params={"company_id": "acme-retail"})
    assert answer.status_code == 200
    assert answer.text.count('src="data:image/svg+xml;base64,') >= 5  # 4 trends + forecast
    assert "Response p95" in answer.text


async def test_a_report_is_generated_and_downloaded(
    admin: tuple[httpx.AsyncClient, str], platform: Platform
) -> None:
    client, csrf = admin
    answer = await client.post(
        "/analytics/report",
        data={
            "csrf_token": csrf,
            "report_type": "company_summary",
            "format": "markdown",
            "company_id": "acme-retail",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == (
        'attachment; filename="company_summary-acme-retail.md"'
    )
    assert answer.text.startswith("#")
    assert last_record(platform).operation == "generate_report"


async def test_the_audit_page_lists_records_with_the_chain_status(
    admin: tuple[httpx.AsyncClient, str],
) -> None:
    client, csrf = admin
    await client.post("/tools/clock", data={"csrf_token": csrf, "operation": "get_time"})
    answer = await client.get("/audit", params={"tool": "clock"})
    assert "Chain verified" in answer.text
    assert answer.text.count('<details class="record') == 1
    assert "clock.get_time" in answer.text


async def test_a_login_link_issued_on_the_people_page_is_shown_once_as_a_url(
    admin: tuple[httpx.AsyncClient, str], platform: Platform
) -> None:
    client, csrf = admin
    answer = await client.post(
        "/tools/admin",
        data={
            "csrf_token": csrf,
            "operation": "issue_login_link",
            "name": "vic",
            "_panel": "admin-issue-login-link",
        },
        headers={"hx-request": "true"},
    )
    match = re.search(r"http://test/login/([A-Za-z0-9_-]{43})", answer.text)
    assert match
    record = last_record(platform)
    assert match.group(1) not in str(record.result_summary)
    assert '"secret": "[REDACTED]"' in str(record.result_summary)


async def test_a_viewer_sees_only_the_pages_of_tools_it_may_use(platform: Platform) -> None:
    token = await asyncio.to_thread(issue_token, platform, "vic")
    async with client_for(platform) as client:
        await log_in(client, token)
        page = await client.get("/tools")
        audit = await client.get("/audit")
    platform.close()
    nav = re.findall(r'<li data-group="[^"]+"><a href="([^"]+)"', page.text)
    # a viewer reads the alerts and the aidev lists of its companies (read-only operations)
    assert nav == [
        "/chat",
        "/tools",
        "/configurations",
        "/analytics",
        "/documents",
        "/datasets",
        "/fine-tunes",
        "/evaluations",
        "/alerts",
    ]
    assert "may not use" in audit.text  # the admin tool refuses, as it would anywhere else


async def test_the_webhooks_page_adds_a_subscription_and_shows_its_delivery_log(
    admin: tuple[httpx.AsyncClient, str], platform: Platform
) -> None:
    from masterai.events import Dispatcher

    client, csrf = admin
    empty = await client.get("/webhooks")
    assert empty.status_code == 200 and "No webhooks yet." in empty.text
    added = await client.post(
        "/tools/integration",
        data={
            "csrf_token": csrf,
            "operation": "setup_webhook",
            "event": "configuration.*",
            "url": "http://127.0.0.1:9/hook",
            "company_id": "acme-retail",
        },
    )
    assert 'class="result ok"' in added.text, added.text
    record = last_record(platform)
    assert (record.user_name, record.tool, record.operation) == (
        "admin",
        "integration",
        "setup_webhook",
    )
    setup = platform.context(system_principal("setup"), approver=approve_all)
    changed = await platform.call(
        "configuration",
        {"operation": "update_prompt", "company_id": "acme-retail", "prompt": "Be brief."},
        setup,
    )
    assert changed.ok, changed.error
    settings = platform.settings
    report = await Dispatcher(
        platform.database, settings.integrations, settings.egress
    ).dispatch_once()
    assert report.dead == 1  # the egress guard refuses loopback: dead-lettered at once
    page = await client.get("/webhooks", params={"status": "dead"})
    assert "http://127.0.0.1:9/hook" in page.text
    assert "configuration.changed" in page.text
    assert 'id="delivery-' in page.text and "status-dead" in page.text
    assert 'id="integration-redeliver"' in page.text or "Deliver again" in page.text


async def test_the_scripts_page_creates_runs_and_shows_a_run_with_its_output(
    admin: tuple[httpx.AsyncClient, str], platform: Platform
) -> None:
    client, csrf = admin
    empty = await client.get("/scripts")
    assert empty.status_code == 200 and "No scripts yet." in empty.text
    created = await client.post(
        "/tools/code",
        data={
            "csrf_token": csrf,
            "operation": "create_script",
            "name": "hello",
            "language": "python",
            "code": "print('hi from the console')",
            "company_id": "acme-retail",
        },
    )
    assert 'class="result ok"' in created.text, created.text
    ran = await client.post(
        "/tools/code", data={"csrf_token": csrf, "operation": "run_script", "script": "hello"}
    )
    assert 'class="result ok"' in ran.text, ran.text
    listed = await client.get("/scripts")
    run_id = re.search(r'href="/runs/(\d+)"', listed.text)
    assert run_id is not None and '<a href="/scripts/hello">hello</a>' in listed.text
    shown = await client.get(f"/runs/{run_id.group(1)}")
    assert "hi from the console" in shown.text and "status-succeeded" in shown.text
    detail = await client.get("/scripts/hello")
    assert "print(&#39;hi from the console&#39;)" in detail.text
    (record,) = platform.registry.audit_log.recent(1)
    assert (record.user_name, record.tool, record.operation) == ("admin", "code", "get_script")
