"""The Playground page in-process: streamed replies with traces, compare, replay, save.

The demo companies' configurations name ``openai:gpt-4o-mini`` without a base URL, so their
model calls go to the operator's endpoint: ``OPENAI_BASE_URL`` points at a fake OpenAI
server on loopback (``tests/llm/llm_wire.py``).
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import shutil
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from conftest import client_for, issue_token, log_in, make_platform
from masterai.app import Platform
from masterai.security import system_principal
from masterai.settings import Settings
from masterai.store.models import Conversation, Message

_LLM_TESTS = str(Path(__file__).resolve().parents[1] / "llm")
if _LLM_TESTS not in sys.path:
    sys.path.append(_LLM_TESTS)

from llm_wire import FakeServer, OpenAIDialect  # noqa: E402

OPENAI = OpenAIDialect()
DIGEST = re.compile(r'name="digest" value="([0-9a-f]{64})"')
PARAMS = re.compile(r'name="params" value="([^"]+)"')
SSE = {"accept": "text/event-stream"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("playground") / "home"
    make_platform(home, demo=True).close()
    return home


@pytest.fixture
def fake_openai(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeServer]:
    with FakeServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        yield server


@pytest.fixture
def platform(demo: Path, tmp_path: Path, fake_openai: FakeServer) -> Platform:
    home = tmp_path / "home"
    shutil.copytree(demo, home)
    return Platform(Settings(home=home))


async def logged_in(platform: Platform, name: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    token = await asyncio.to_thread(issue_token, platform, name)
    async with client_for(platform) as client:
        yield client, await log_in(client, token)


@pytest.fixture
async def admin(platform: Platform) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async for pair in logged_in(platform, "admin"):
        yield pair
    platform.close()


def events(text: str) -> list[tuple[str, Any]]:
    found = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        name = lines[0].removeprefix("event: ")
        found.append((name, json.loads(lines[1].removeprefix("data: "))))
    return found


def count(platform: Platform, model: Any) -> int:
    with platform.database.session() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


async def test_the_page_shows_the_active_configuration_as_the_draft(
    admin: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = admin
    page = await client.get("/playground/acme-retail")
    assert page.status_code == 200
    assert 'href="/playground"' in page.text  # in the navigation
    assert "Acme Retail&#39;s friendly shopping assistant" in page.text
    assert 'id="compare_version"' in page.text
    assert "Save draft as new version" in page.text


async def test_a_draft_reply_streams_and_ends_with_its_trace(
    admin: tuple[httpx.AsyncClient, str], fake_openai: FakeServer, platform: Platform
) -> None:
    client, csrf = admin
    fake_openai.replies.append(OPENAI.stream_text(["Hello ", "friend!"], usage=(30, 4)))
    before = count(platform, Conversation), count(platform, Message)
    form = {
        "csrf_token": csrf,
        "column": "draft",
        "messages": "[]",
        "message": "hello",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "system_prompt": "Be kind.",
        "temperature": "0.5",
        "settings": "{}",
    }
    answer = await client.post("/playground/acme-retail/simulate", data=form, headers=SSE)
    assert answer.status_code == 200
    found = events(answer.text)
    assert [e for e in found if e[0] == "text"] == [
        ("text", {"text": "Hello "}),
        ("text", {"text": "friend!"}),
    ]
    name, done = found[-1]
    assert name == "done"
    assert (done["reply"], done["error"]) == ("Hello friend!", None)
    assert done["label"].startswith("acme-retail draft over v")
    assert "Request sent to the model" in done["html"]
    assert "Be kind." in html.unescape(done["html"])
    sent = fake_openai.requests[0].body
    assert sent["messages"][0] == {"role": "system", "content": "Be kind."}
    assert sent["temperature"] == 0.5
    assert (count(platform, Conversation), count(platform, Message)) == before


async def test_the_compare_column_asks_the_stored_version(
    admin: tuple[httpx.AsyncClient, str], fake_openai: FakeServer
) -> None:
    client, csrf = admin
    fake_openai.replies.append(OPENAI.stream_text(["Hi."]))
    history = json.dumps(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hey"}]
    )
    form = {
        "csrf_token": csrf,
        "column": "compare",
        "compare_version": "1",
        "messages": history,
        "message": "where is my order?",
    }
    answer = await client.post("/playground/acme-retail/simulate", data=form, headers=SSE)
    done = events(answer.text)[-1][1]
    assert done["label"] == "acme-retail v1"
    sent = fake_openai.requests[0].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[-1]["content"] == "where is my order?"


async def test_a_bad_draft_field_is_one_error_and_calls_no_model(
    admin: tuple[httpx.AsyncClient, str], fake_openai: FakeServer
) -> None:
    client, csrf = admin
    form = {"csrf_token": csrf, "message": "hi", "settings": "[1, 2]"}
    answer = await client.post("/playground/acme-retail/simulate", data=form, headers=SSE)
    assert events(answer.text) == [
        ("done", {"reply": "", "error": "settings must be a JSON object", "html": ""})
    ]
    assert fake_openai.requests == []


async def test_without_script_the_reply_comes_as_a_page(
    admin: tuple[httpx.AsyncClient, str], fake_openai: FakeServer
) -> None:
    client, csrf = admin
    fake_openai.replies.append(OPENAI.text("We ship in 2 days."))
    form = {"csrf_token": csrf, "messages": "[]", "message": "shipping?"}
    answer = await client.post("/playground/acme-retail/simulate", data=form)
    assert answer.status_code == 200
    assert "We ship in 2 days." in answer.text
    assert '<details class="trace">' in answer.text


async def test_a_viewer_without_model_calls_sees_no_playground_and_is_refused(
    platform: Platform, fake_openai: FakeServer
) -> None:
    async for client, csrf in logged_in(platform, "vic"):
        page = await client.get("/tools")
        assert 'href="/playground"' not in page.text
        form = {"csrf_token": csrf, "messages": "[]", "message": "hi"}
        answer = await client.post("/playground/acme-retail/simulate", data=form, headers=SSE)
        done = events(answer.text)[-1][1]
        assert "model_calls" in done["error"]
    assert fake_openai.requests == []
    platform.close()


async def test_saving_the_draft_asks_for_approval_with_the_diff_then_writes_a_version(
    admin: tuple[httpx.AsyncClient, str], platform: Platform
) -> None:
    client, csrf = admin
    before = await asyncio.to_thread(active, platform)
    form = {
        "csrf_token": csrf,
        "version": str(before["version"]),
        "provider": "openai",
        "model": "gpt-4o-mini",
        "system_prompt": "Be kind and brief.",
        "settings": json.dumps(before["settings"]),
        "change_note": "from the playground",
    }
    proposal = await client.post("/playground/acme-retail/save", data=form)
    assert "Approve this change?" in proposal.text
    assert "+Be kind and brief." in html.unescape(proposal.text).replace("  ", "")
    assert (await asyncio.to_thread(active, platform))["version"] == before["version"]
    decide = {
        "csrf_token": csrf,
        "tool": "configuration",
        "params": html.unescape(PARAMS.findall(proposal.text)[0]),
        "digest": DIGEST.findall(proposal.text)[0],
        "decision": "approve",
    }
    applied = await client.post("/approvals/decide", data=decide)
    assert applied.status_code == 200
    after = await asyncio.to_thread(active, platform)
    assert after["version"] == before["version"] + 1
    assert after["system_prompt"] == "Be kind and brief."
    assert after["change_note"] == "from the playground"


def active(platform: Platform) -> dict[str, Any]:
    context = platform.context(system_principal("check"))
    params = {"operation": "get_configuration", "company_id": "acme-retail"}
    result = platform.call_sync("configuration", params, context)
    assert result.ok, result.error
    return dict(result.data["result"])


async def test_replay_shows_the_stored_and_new_replies_side_by_side(
    admin: tuple[httpx.AsyncClient, str], fake_openai: FakeServer, platform: Platform
) -> None:
    client, csrf = admin
    with platform.database.session() as session:
        conversation = session.scalars(
            sa.select(Conversation).where(Conversation.company_id == "acme-retail").limit(1)
        ).one()
        turns = sum(1 for m in conversation.messages if m.role == "user")
        conversation_id = conversation.id
    for _ in range(turns):
        fake_openai.replies.append(OPENAI.text("A human colleague will help you."))
    form = {"csrf_token": csrf, "conversation_id": conversation_id, "system_prompt": "Be kind."}
    answer = await client.post("/playground/acme-retail/replay", data=form)
    assert answer.status_code == 200
    assert f"{conversation_id}: original vs acme-retail draft over v" in answer.text
    assert answer.text.count("A human colleague will help you.") == turns
    assert "escalation" in answer.text


async def test_another_companys_conversation_is_not_replayed(
    admin: tuple[httpx.AsyncClient, str], platform: Platform, fake_openai: FakeServer
) -> None:
    client, csrf = admin
    with platform.database.session() as session:
        other = session.scalars(
            sa.select(Conversation.id).where(Conversation.company_id == "globex-bank").limit(1)
        ).one()
    form = {"csrf_token": csrf, "conversation_id": other}
    answer = await client.post("/playground/acme-retail/replay", data=form)
    assert f"company &#39;acme-retail&#39; has no conversation &#39;{other}&#39;" in answer.text
    assert fake_openai.requests == []
