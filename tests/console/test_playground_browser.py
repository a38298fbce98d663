"""The Playground page in Debian's Chromium (Playwright, headless) against ``masterai serve``.

The served home has the demo data; its configurations name ``openai:gpt-4o-mini``, and the
operator's OpenAI endpoint (``OPENAI_BASE_URL``) is a fake on loopback speaking the chat
completions wire format whose answer depends on the system prompt it is sent: "kind" prompts
greet warmly, others curtly. One test walks the page as a super admin would: edit the draft
prompt, compare with the active version, expand a trace, replay a stored conversation and
save the draft as a version with approval. Screenshots go where docs/playground.md shows
them with ``MASTERAI_UPDATE_SCREENSHOTS=1`` (else to build/).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest

from conftest import seeded_serve
from service_guard import require_service

_LLM_TESTS = str(Path(__file__).resolve().parents[1] / "llm")
if _LLM_TESTS not in sys.path:
    sys.path.append(_LLM_TESTS)

from llm_wire import OpenAIDialect  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / (
    "docs/console" if os.environ.get("MASTERAI_UPDATE_SCREENSHOTS") else "build/console-screenshots"
)
OPENAI = OpenAIDialect()

pytestmark = pytest.mark.slow


def answer_to(body: dict[str, Any]) -> str:
    """The fake model's answer: it depends on the system prompt and the last message."""
    messages = body.get("messages", [])
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    if "kind" in system.lower():
        return "Hello friend! I am happy to help you with your order today."
    return "Hi. A human agent can take over if needed."


class PromptAwareOpenAI:
    """A loopback server answering chat completions (whole or streamed) by :func:`answer_to`."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                text = answer_to(body)
                self.send_response(200)
                if body.get("stream"):
                    words = [w + " " for w in text.split(" ")]
                    reply = OPENAI.stream_text(words, usage=(120, 14))
                    self.send_header("content-type", "text/event-stream")
                    self.end_headers()
                    for _event, data in reply.sse or []:
                        payload = data if isinstance(data, str) else json.dumps(data)
                        self.wfile.write(f"data: {payload}\n\n".encode())
                        self.wfile.flush()
                    return
                payload = json.dumps(OPENAI.text(text, usage=(120, 14)).body).encode()
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> PromptAwareOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A demo home served by ``masterai serve`` with the fake OpenAI endpoint."""
    require_service(Path(CHROMIUM).exists(), f"Debian's chromium is not installed ({CHROMIUM})")
    root = tmp_path_factory.mktemp("playground-browser")
    with PromptAwareOpenAI() as model:
        env = {
            **os.environ,
            "MASTERAI_HOME": str(root / "home"),
            "OPENAI_BASE_URL": f"{model.url}/v1",
            "OPENAI_API_KEY": "sk-test",
        }
        for name in ("MASTERAI_DATABASE_URL", "MASTERAI_LLM__MODEL", "MASTERAI_MODEL"):
            env.pop(name, None)

        with seeded_serve(root, env) as served:
            yield served


@pytest.fixture(scope="module")
def page(server: tuple[str, str]) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    require_service(shutil.which(CHROMIUM) is not None, f"no {CHROMIUM}")
    base, token = server
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        tab = context.new_page()
        problems: list[str] = []
        tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        tab.on(
            "console",
            lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
        )
        tab.goto(f"{base}/login")
        tab.fill("#token", token)
        tab.click("button[type=submit]")
        tab.wait_for_url(f"{base}/chat")
        tab.goto(f"{base}/playground/acme-retail")
        yield tab
        browser.close()
    assert problems == []


def test_a_draft_prompt_answers_differently_from_the_compared_version(page: Any) -> None:
    page.fill("#system_prompt", "You are Acme Retail's kind assistant. Be warm.")
    page.select_option("#compare_version", "3")
    page.fill("#message", "Hello, where is my order?")
    page.get_by_role("button", name="Send").click()
    draft = page.locator("#column-draft .turn.assistant .text")
    compare = page.locator("#column-compare .turn.assistant .text")
    draft.filter(has_text="Hello friend!").wait_for()
    compare.filter(has_text="human agent").wait_for()
    assert "Hello friend!" not in compare.inner_text()
    assert page.inner_text("#column-compare h3") == "Compare: v3"


def test_a_reply_trace_expands_to_the_exact_request(page: Any) -> None:
    trace = page.locator("#column-draft details.trace").first
    trace.locator("summary").click()
    request = trace.locator("pre.request")
    request.wait_for()
    sent = json.loads(request.inner_text())
    assert sent["messages"][0] == {
        "role": "system",
        "content": "You are Acme Retail's kind assistant. Be warm.",
    }
    assert sent["model"] == "openai:gpt-4o-mini"
    assert "120 in, 14 out" in trace.inner_text()
    shot(page, "playground")


def test_a_stored_conversation_from_the_failures_list_replays(page: Any) -> None:
    assert page.locator("#conversation_id option").count() >= 1
    page.get_by_role("button", name="Replay with the draft").click()
    table = page.locator("#replay-outcome table.replay-table")
    table.wait_for()
    assert "Hello friend!" in table.locator("td.new").first.inner_text()
    assert "original vs acme-retail draft over v3" in page.inner_text("#replay-outcome h3")
    page.locator("#replay-outcome").scroll_into_view_if_needed()
    shot(page, "playground-replay")


def test_saving_the_draft_is_an_approved_new_version(page: Any) -> None:
    page.fill("#change_note", "warmer tone, tried in the playground")
    page.get_by_role("button", name="Save draft as new version").click()
    approval = page.locator("#save-outcome .approval")
    approval.wait_for()
    assert approval.locator(".diff-add").filter(has_text="kind assistant").count() == 1
    shot(page, "playground-save")
    approval.get_by_role("button", name="Approve").click()
    page.locator("#save-outcome .result.ok").wait_for()
    assert "v4" in page.inner_text("#save-outcome")


def test_the_page_fits_a_phone_screen(page: Any) -> None:
    phone = page.context.browser.new_context(
        viewport={"width": 390, "height": 800}, storage_state=page.context.storage_state()
    )
    try:
        narrow = phone.new_page()
        narrow.goto(page.url)
        narrow.wait_for_load_state("networkidle")
        overflow = narrow.evaluate("() => document.documentElement.scrollWidth - innerWidth")
        assert overflow <= 0, f"the playground is wider than 390 px by {overflow} px"
    finally:
        phone.close()
