"""The console in Debian's Chromium (Playwright, headless) against a real ``masterai serve``.

One server for the module: a home made by ``masterai init`` and ``masterai demo seed``, a
scripted model for chat, on a free loopback port. Each test logs in with its own browser
context. The last tests look for the earlier tests' actions on the audit page, and walk every
page at 1280 and 390 px wide, failing on any console error, and write the screenshots shown
in docs/console.md (docs/console/*.png).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import seeded_serve
from service_guard import require_service

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
# Every run writes its screenshots to build/ (ignored by git); MASTERAI_UPDATE_SCREENSHOTS=1
# writes them where docs/console.md shows them instead.
SHOTS = REPO / (
    "docs/console" if os.environ.get("MASTERAI_UPDATE_SCREENSHOTS") else "build/console-screenshots"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCRIPT = [
    {
        "tool_calls": [
            {
                "name": "propose_plan",
                "arguments": {
                    "summary": "Look up the time, then shorten Globex Bank's prompt",
                    "steps": [
                        {
                            "tool": "clock",
                            "operation": "get_time",
                            "arguments": {"timezone": "Europe/Paris"},
                            "purpose": "know the time",
                        },
                        {
                            "tool": "configuration",
                            "operation": "update_prompt",
                            "arguments": {
                                "company_id": "globex-bank",
                                "prompt": "You are Globex Bank's assistant. Be brief.",
                                "change_note": "shorter prompt, from chat",
                            },
                            "purpose": "a shorter prompt",
                        },
                    ],
                },
            }
        ]
    },
    {"text": "Done: it is morning in Paris [1] and Globex Bank's prompt is shorter [2]."},
]

pytestmark = pytest.mark.slow


def shot(page: Any, name: str) -> None:
    """A screenshot of a page (see SHOTS for where it goes)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A seeded home served by ``masterai serve``: the base URL and the admin's token."""
    require_service(Path(CHROMIUM).exists(), f"Debian's chromium is not installed ({CHROMIUM})")
    root = tmp_path_factory.mktemp("console")
    scripts = root / "scripts"
    scripts.mkdir()
    (scripts / "chat.json").write_text(json.dumps(SCRIPT))
    env = {
        **os.environ,
        "MASTERAI_HOME": str(root / "home"),
        "MASTERAI_LLM__SCRIPTED_DIR": str(scripts),
        "MASTERAI_MODEL": "scripted:chat.json",
    }
    for name in ("MASTERAI_DATABASE_URL", "MASTERAI_LLM__MODEL", "OPENAI_API_KEY"):
        env.pop(name, None)

    with seeded_serve(root, env) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    require_service(shutil.which(CHROMIUM) is not None, f"no {CHROMIUM}")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


class Console:
    """A logged-in page that records every console error, page error and failed request."""

    def __init__(self, browser: Any, base: str, token: str, width: int = 1280) -> None:
        self.base = base
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on(
            "response",
            lambda r: self.problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
        )
        self.page.goto(f"{base}/login")
        self.page.fill("#token", token)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{base}/chat")

    def _console(self, message: Any) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def goto(self, path: str) -> Any:
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        return self.page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console(browser: Any, server: tuple[str, str]) -> Iterator[Console]:
    base, token = server
    logged_in = Console(browser, base, token)
    yield logged_in
    logged_in.close()
    assert logged_in.problems == []


def test_logging_in_with_a_token_opens_the_console_with_its_navigation(
    console: Console,
) -> None:
    nav = console.page.locator("nav.nav a").all_inner_texts()
    assert nav == [
        "Chat",
        "Tools",
        "Configurations",
        "Playground",
        "Analytics",
        "Documents",
        "Datasets",
        "Fine-tunes",
        "Model evaluations",
        "Scripts & runs",
        "Webhooks",
        "Custom tools",
        "Alerts",
        "Audit",
        "Users & companies",
    ]
    assert console.page.locator(".who").inner_text().startswith("admin")


def test_the_clock_tool_runs_from_its_generated_form(console: Console) -> None:
    page = console.goto("/tools")
    page.get_by_text("clock", exact=False).first.click()
    page.get_by_role("link", name="get_time").click()
    page.select_option("#tool-panel-format", "iso")
    page.fill("#tool-panel-timezone", "Europe/Paris")
    page.get_by_role("button", name="Run get_time").click()
    result = page.locator(".result.ok")
    result.wait_for()
    assert "+01:00" in result.locator("pre.summary").inner_text()
    assert "audit record" in result.inner_text()
    shot(page, "tools-result")


def test_a_json_field_is_checked_as_you_type(console: Console) -> None:
    page = console.goto("/tools/analytics?operation=predict_usage")
    page.fill("#tool-panel-metrics", '["tokens",')
    assert page.get_attribute("#tool-panel-metrics", "aria-invalid") == "true"
    assert "not valid JSON" in page.inner_text("#tool-panel-metrics-error")
    page.fill("#tool-panel-metrics", '["tokens"]')
    assert page.get_attribute("#tool-panel-metrics", "aria-invalid") is None


def test_a_configuration_diff_then_a_rollback_with_approval(console: Console) -> None:
    page = console.goto("/configurations/acme-retail")
    page.select_option("#from_version", "1")
    page.select_option("#to_version", "3")
    page.get_by_role("button", name="Show diff").click()
    page.locator("table.sbs").wait_for()
    assert page.locator("table.sbs td.del").count() >= 1
    page.get_by_role("button", name="Roll back acme-retail to v1").click()
    approval = page.locator(".approval")
    approval.wait_for()
    assert approval.locator(".diff-del").count() >= 1
    approval.scroll_into_view_if_needed()
    shot(page, "configurations-approval")
    approval.get_by_role("button", name="Approve").click()
    page.locator("#change-outcome .result.ok").wait_for()
    page = console.goto("/configurations/acme-retail")
    assert "Active: acme-retail v4" in page.inner_text("#active-title")


def test_the_analytics_dashboard_shows_its_charts(console: Console) -> None:
    page = console.goto("/analytics?company_id=globex-bank")
    images = page.locator("figure.chart img")
    assert images.count() == 5
    widths = images.evaluate_all("(all) => all.map((i) => i.complete && i.naturalWidth)")
    assert all(w and w > 100 for w in widths)
    assert "Response p95" in page.inner_text(".kpis")
    page.get_by_role("link", name="Compare companies").click()
    page.locator("figure.chart img").first.wait_for()
    assert "acme-retail" in page.inner_text("table.data")


def test_chat_with_a_scripted_model_through_plan_approval_and_answer(console: Console) -> None:
    page = console.goto("/chat")
    page.fill("#message", "What time is it in Paris? And shorten Globex Bank's prompt.")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url("**/chat?conversation=*")
    plan = page.locator(".plan")
    assert "proposed" in plan.locator("h3").inner_text()
    assert "configuration.update_prompt" in plan.inner_text()
    plan.get_by_role("button", name="Show the diff of step 2").click()
    plan.locator(".result.ok").wait_for()
    assert "Be brief." in plan.locator(".result.ok pre.summary").inner_text()
    shot(page, "chat-plan")
    plan.get_by_role("button", name="Approve and run").click()
    done = "() => document.querySelector('.plan h3').innerText.includes('completed')"
    page.wait_for_function(done)
    assert (
        page.locator("li.msg.assistant")
        .last.inner_text()
        .endswith("Globex Bank's prompt is shorter [2].")
    )
    assert page.locator(".plan .status-succeeded").count() == 2


def test_the_audit_page_finds_what_the_earlier_tests_did(console: Console) -> None:
    """Runs after the tests above (file order): their calls are all on the audit page."""
    page = console.goto("/audit?user_name=admin&limit=500")
    assert "Chain verified" in page.inner_text(".chain")
    calls = page.locator(".record > summary").all_inner_texts()
    text = "\n".join(calls)
    for call in (
        "clock.get_time",
        "configuration.diff_versions",
        "configuration.rollback",
        "analytics.analyze_conversations",
        "analytics.predict_usage",
        "analytics.generate_report",
        "configuration.update_prompt",
    ):
        assert call in text, call
    page.fill("#a-tool", "configuration")
    page.select_option("#a-status", "ok")
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state("networkidle")
    rollback = page.locator(".record", has_text="configuration.rollback").first
    rollback.locator("summary").click()
    assert '"version": 1' in rollback.locator(".detail").inner_text()
    assert "127.0.0.1" in rollback.locator(".detail").inner_text()


PAGES = {
    "chat": "/chat",
    "tools": "/tools/clock?operation=get_time",
    "configurations": "/configurations/acme-retail?from_version=1&to_version=3",
    "analytics": "/analytics?company_id=acme-retail",
    "comparison": "/analytics/compare",
    "audit": "/audit?limit=50",
    "people": "/people/admin",
    "scripts": "/scripts",
    "webhooks": "/webhooks",
    "documents": "/documents?company_id=acme-retail&query=refund",
    "datasets": "/datasets?company_id=acme-retail",
    "fine-tunes": "/fine-tunes",
    "evaluations": "/evaluations",
}


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_works_at_the_width_without_console_errors(
    browser: Any, server: tuple[str, str], width: int
) -> None:
    base, token = server
    visit = Console(browser, base, token, width=width)
    try:
        conversation = visit.goto("/chat").locator(".conversations a").first
        chat = conversation.get_attribute("href") if conversation.count() else "/chat"
        for name, path in PAGES.items():
            page = visit.goto(chat if name == "chat" else path)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
            assert overflow <= 0, f"{name} is wider than {width} px by {overflow} px"
            if width == 1280:
                shot(page, name)
            elif name in ("analytics", "chat"):
                shot(page, f"{name}-390")
        visit.page.context.clear_cookies()
        login = visit.goto("/login")
        if width == 1280:
            shot(login, "login")
    finally:
        visit.close()
    assert visit.problems == []


def test_the_keyboard_reaches_the_skip_link_then_the_navigation(console: Console) -> None:
    page = console.goto("/tools")
    order = []
    for _ in range(4):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.textContent.trim()"))
    assert order == ["Skip to content", "Master AI", "Chat", "Tools"]
    page.keyboard.press("Enter")  # on "Tools": keyboard alone opens a page
    page.wait_for_url("**/tools")


def test_the_skip_link_moves_the_focus_to_the_content(console: Console) -> None:
    page = console.goto("/analytics")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
