"""The AI development pages in-process: documents with search, datasets, fine-tunes, evaluations.

Their data is made through the registry first (indexing with the offline hashing embedder, a
dataset from given conversations, a fine-tune job against the wire-level fake of OpenAI's
files and fine-tuning endpoints in ``tests/aidev/fake_openai.py``, evaluations of scripted
models), then each page is read as a logged-in user.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import client_for, issue_token, log_in, make_platform
from masterai.app import Platform
from masterai.registry import approve_all
from masterai.security import system_principal

_AIDEV_TESTS = str(Path(__file__).resolve().parents[1] / "aidev")
if _AIDEV_TESTS not in sys.path:
    sys.path.append(_AIDEV_TESTS)

from fake_openai import FakeOpenAI, serve_fake  # noqa: E402

NAV = re.compile(r'<li data-group="[^"]+"><a href="([^"]+)"')
PAGES = ("/documents", "/datasets", "/fine-tunes", "/evaluations")
CASES = {
    "name": "refunds",
    "cases": [
        {"input": "Can I get a refund?", "expected": "Let me check."},
        {"input": "Where is my parcel?", "expected": "It ships tomorrow."},
    ],
}


def _conversations() -> list[dict[str, Any]]:
    return [
        {
            "id": f"c{i}",
            "messages": [
                {"role": "user", "content": f"Refund order {i} to ann{i}@example.com please"},
                {"role": "assistant", "content": f"Refund {i} started."},
            ],
        }
        for i in range(12)
    ]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    scripts = tmp_path / "models"
    scripts.mkdir()
    answers = [{"text": "Let me check."}] * 20
    (scripts / "answers.json").write_text(json.dumps(answers))
    (scripts / "other.json").write_text(json.dumps([{"text": "No idea."}] * 20))
    monkeypatch.setenv("MASTERAI_LLM__SCRIPTED_DIR", str(scripts))
    with serve_fake() as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
        yield fake


def _call(platform: Platform, **params: Any) -> Any:
    root = platform.context(system_principal("setup"), approver=approve_all)
    result = platform.call_sync("aidev", params, root)
    assert result.ok, result.error
    return result.data["result"]


async def _acall(platform: Platform, **params: Any) -> Any:
    root = platform.context(system_principal("setup"), approver=approve_all)
    result = await platform.call("aidev", params, root)
    assert result.ok, result.error
    return result.data["result"]


@pytest.fixture
def platform(tmp_path: Path, fake: FakeOpenAI) -> Iterator[Platform]:
    platform = make_platform(tmp_path / "home")
    root = platform.context(system_principal("setup"), approver=approve_all)
    added = platform.call_sync(
        "admin",
        {
            "operation": "add_user",
            "name": "ana",
            "role": "analyst",
            "companies": [{"company_id": "acme-retail"}],
        },
        root,
    )
    assert added.ok, added.error
    documents = [
        {"id": "refunds", "text": "Refunds are paid back within 14 days to the card used."},
        {"id": "shipping", "text": "Parcels ship the next working day from Rotterdam."},
        {"id": "hours", "text": "The help desk is open 9 to 17 on weekdays.", "metadata": {"k": 1}},
    ]
    _call(platform, operation="index_documents", company_id="acme-retail", documents=documents)
    _call(
        platform,
        operation="index_documents",
        company_id="acme-retail",
        collection="faq",
        documents=documents[:1],
    )
    manifest = _call(
        platform,
        operation="prepare_training_data",
        company_id="acme-retail",
        conversations=_conversations(),
        name="support",
    )
    _call(
        platform,
        operation="fine_tune_model",
        model_id="openai:gpt-4o-mini-2024-07-18",
        dataset=manifest["dataset"],
        suffix="acme",
    )
    for model in ("scripted:answers.json", "scripted:other.json"):
        _call(platform, operation="evaluate_model", model_id=model, test_set=CASES)
    yield platform
    platform.close()


@pytest.fixture
async def admin(platform: Platform) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    token = await asyncio.to_thread(issue_token, platform, "admin")
    async with client_for(platform) as client:
        csrf = await log_in(client, token)
        yield client, csrf


def text_of(page: httpx.Response) -> str:
    """The page's text with tags removed and entities decoded (for reading rows)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text)))


async def test_the_documents_page_lists_collections_with_model_and_counts(
    admin: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = admin
    page = await client.get("/documents", params={"company_id": "acme-retail"})
    assert page.status_code == 200, page.text
    text = text_of(page)
    assert "default local:hashing-v1/256 3 3" in text
    assert "faq local:hashing-v1/256 1 1" in text
    assert set(PAGES) <= set(NAV.findall(page.text))


async def test_the_search_box_shows_hits_with_scores_and_snippets(
    admin: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = admin
    query = {"company_id": "acme-retail", "query": "refund card", "mode": "keyword", "top_k": 3}
    page = await client.get("/documents", params=query)
    assert page.status_code == 200
    hits = re.findall(r'<li class="card hit">(.*?)</li>', page.text, re.DOTALL)
    assert len(hits) == 1  # only one document mentions refunds or cards
    assert "<code>refunds</code>" in hits[0] and 'class="score"' in hits[0]
    assert "Refunds are paid back" in hits[0]
    assert "(keyword, <code>local:hashing-v1/256</code>)" in page.text
    other = await client.get(
        "/documents", params={**query, "collection": "faq", "mode": "hybrid", "query": "hours"}
    )
    assert "<code>acme-retail/faq</code>" in other.text


async def test_a_bad_search_is_one_clear_error_on_the_page(
    admin: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = admin
    page = await client.get(
        "/documents",
        params={"company_id": "acme-retail", "query": "x", "collection": "nope"},
    )
    assert page.status_code == 200
    assert 'role="alert"' in page.text and "nope" in page.text
    assert "Traceback" not in page.text


async def test_the_datasets_page_shows_versions_counts_report_and_scrubbing(
    admin: tuple[httpx.AsyncClient, str], platform: Platform
) -> None:
    client, _ = admin
    await _acall(
        platform,
        operation="prepare_training_data",
        company_id="acme-retail",
        conversations=_conversations(),
        name="support",
    )
    page = await client.get("/datasets", params={"company_id": "acme-retail"})
    assert page.status_code == 200, page.text
    text = text_of(page)
    assert text.index("v2") < text.index("v1")  # newest first
    assert "companies/acme-retail/datasets/support/v1" in text
    assert "Conversations 12" in text and "at least 10; valid" in text
    scrubbed = re.search(r'<table class="data scrubbed">(.*?)</table>', page.text, re.DOTALL)
    assert scrubbed and "email" in scrubbed.group(1) and "<td>12</td>" in scrubbed.group(1)
    empty = await client.get("/datasets", params={"company_id": "globex-bank"})
    assert "No datasets yet" in empty.text


async def test_the_fine_tunes_page_refreshes_and_cancels_through_the_registry(
    admin: tuple[httpx.AsyncClient, str], platform: Platform, fake: FakeOpenAI
) -> None:
    client, csrf = admin
    page = await client.get("/fine-tunes", params={"company_id": "acme-retail"})
    assert page.status_code == 200
    text = text_of(page)
    assert "#1" in text and "validating_files" in text
    assert "openai:gpt-4o-mini-2024-07-18" in text and "ftjob-1" in text
    assert 'value="refresh_fine_tune_job"' in page.text
    refreshed = await client.post(
        "/tools/aidev",
        data={"csrf_token": csrf, "operation": "refresh_fine_tune_job", "job_id": "1"},
    )
    assert refreshed.status_code == 200 and 'class="result ok"' in refreshed.text
    assert fake.retrieves == 1
    running = await client.get("/fine-tunes", params={"company_id": "acme-retail"})
    assert "running" in text_of(running)
    assert running.text.count('value="cancel_fine_tune_job"') == 2  # the job's, the form's
    cancelled = await client.post(
        "/tools/aidev",
        data={"csrf_token": csrf, "operation": "cancel_fine_tune_job", "job_id": "1"},
    )
    assert 'class="result ok"' in cancelled.text
    listed = await _acall(platform, operation="list_fine_tune_jobs", company_id="acme-retail")
    assert [j["status"] for j in listed["jobs"]] == ["cancelled"]
    done = await client.get("/fine-tunes", params={"status": "cancelled"})
    assert "#1" in text_of(done)
    assert done.text.count('value="cancel_fine_tune_job"') == 1  # a finished job has none
    other = await client.get("/fine-tunes", params={"status": "running"})
    assert "No fine-tune jobs match." in other.text


async def test_the_evaluations_page_compares_models_on_one_test_set(
    admin: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = admin
    page = await client.get("/evaluations")
    assert page.status_code == 200, page.text
    table = re.search(r'<table class="data comparison">(.*?)</table>', page.text, re.DOTALL)
    assert table
    rows = re.findall(r'<tr><th scope="row"><code>([^<]+)</code></th><td>([^<]+)</td>', table[1])
    assert rows == [("scripted:answers.json", "50%"), ("scripted:other.json", "0%")]
    assert "exact" in table[1] and "contains" in table[1]
    none = await client.get("/evaluations", params={"model": "scripted:unknown.json"})
    assert "No model evaluations yet" in none.text


async def test_a_user_without_the_tool_sees_no_entry_and_gets_404(platform: Platform) -> None:
    token = await asyncio.to_thread(issue_token, platform, "ana")
    async with client_for(platform) as client:
        await log_in(client, token)
        tools = await client.get("/tools")
        answers = [await client.get(path) for path in PAGES]
    assert not set(PAGES) & set(NAV.findall(tools.text))
    assert [a.status_code for a in answers] == [404] * len(PAGES)


async def test_a_viewer_reads_the_pages_but_cannot_change_anything(platform: Platform) -> None:
    token = await asyncio.to_thread(issue_token, platform, "vic")
    async with client_for(platform) as client:
        csrf = await log_in(client, token)
        documents = await client.get("/documents")
        jobs = await client.get("/fine-tunes")
        cancel = await client.post(
            "/tools/aidev",
            data={"csrf_token": csrf, "operation": "cancel_fine_tune_job", "job_id": "1"},
        )
    assert "default local:hashing-v1/256 3 3" in text_of(documents)
    assert "Index documents" not in documents.text  # a write: no form for a viewer
    assert "ftjob-1" in jobs.text and 'value="cancel_fine_tune_job"' not in jobs.text
    assert cancel.status_code == 404  # not an operation the viewer may call


async def test_posts_without_the_csrf_token_are_refused(
    admin: tuple[httpx.AsyncClient, str], platform: Platform, fake: FakeOpenAI
) -> None:
    client, _ = admin
    answer = await client.post(
        "/tools/aidev", data={"operation": "refresh_fine_tune_job", "job_id": "1"}
    )
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert fake.retrieves == 0
