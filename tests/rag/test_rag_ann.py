"""The approximate (HNSW) vector index: recall against exact search, files, staying in step."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from faq_set import faq_documents, faq_questions
from rag_support import acting, aidev, docs, platform_over, result_of

from masterai.app import Platform
from masterai.registry import ExecutionContext
from masterai.store import Database

QUESTIONS = 120
BRANDS = 8
"""1,920 documents: the approximate index holds them all (no exact fallback below a size)."""
SYNC: dict[str, Any] = {"background_index_build": False}
"""The search that needs an index waits for its build."""


async def _index(p: Platform, documents: list[dict[str, Any]]) -> None:
    alice = acting(p, "alice")
    for start in range(0, len(documents), 500):
        result_of(
            await aidev(
                p,
                alice,
                "index_documents",
                company_id="acme",
                documents=documents[start : start + 500],
            )
        )


async def _vector_hits(
    p: Platform, query: str, top_k: int = 10, *, who: str | ExecutionContext = "alice"
) -> list[dict[str, Any]]:
    found = result_of(
        await aidev(
            p, who, "search_similar", company_id="acme", query=query, mode="vector", top_k=top_k
        )
    )
    hits: list[dict[str, Any]] = found["hits"]
    return hits


async def test_approximate_recall_at_10_is_at_least_95_percent_of_exact_search(
    database: Database, tmp_path: Path
) -> None:
    questions = faq_questions(QUESTIONS, brands=BRANDS)
    with platform_over(database, tmp_path) as exact:
        await _index(exact, faq_documents(BRANDS))
        alice = acting(exact, "alice")
        expected = [await _vector_hits(exact, q.text, who=alice) for q in questions]
    found = 0
    with platform_over(
        database, tmp_path, seed=False, exact_search_max_chunks=0, background_index_build=False
    ) as approximate:
        alice = acting(approximate, "alice")
        for question, truth in zip(questions, expected, strict=True):
            hits = await _vector_hits(approximate, question.text, who=alice)
            # Tie-aware: a hit as similar as the exact 10th one is as good an answer.
            tenth = truth[-1]["score"]
            found += min(len(truth), sum(h["score"] >= tenth - 1e-6 for h in hits))
    recall = found / sum(len(t) for t in expected)
    print(f"approximate recall@10 against exact search: {recall:.3f}")
    assert recall >= 0.95


async def test_the_index_is_saved_and_loaded_by_another_process(
    database: Database, tmp_path: Path
) -> None:
    documents = faq_documents()[:600]
    with platform_over(
        database, tmp_path, exact_search_max_chunks=100, background_index_build=False
    ) as first:
        await _index(first, documents)
        before = await _vector_hits(first, "renew the subscription of my Acme kettle")
    saved = list((tmp_path / "home" / "rag" / "acme" / "default").glob("*.usearch"))
    assert len(saved) == 1
    saved_at = saved[0].stat().st_mtime_ns
    with platform_over(
        database, tmp_path, seed=False, exact_search_max_chunks=100, background_index_build=False
    ) as second:
        after = await _vector_hits(second, "renew the subscription of my Acme kettle")
    assert [h["id"] for h in after] == [h["id"] for h in before]
    assert saved[0].stat().st_mtime_ns == saved_at  # loaded, not rebuilt


async def test_writes_after_the_index_is_built_are_found_and_replaced_chunks_gone(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(
        database, tmp_path, exact_search_max_chunks=100, background_index_build=False
    ) as p:
        await _index(p, faq_documents()[:300])
        await _vector_hits(p, "warm up: builds the index")
        new = docs(("parrot", "Our parrot grooming kit ships with feather scissors."))
        result_of(await aidev(p, "alice", "index_documents", company_id="acme", documents=new))
        assert (await _vector_hits(p, "parrot grooming feather scissors", 1))[0]["id"] == "parrot"
        changed = docs(("parrot", "Hamster wheels squeak less after a drop of oil."))
        result_of(await aidev(p, "alice", "index_documents", company_id="acme", documents=changed))
        top = (await _vector_hits(p, "parrot grooming feather scissors", 1))[0]
        assert "feather" not in top["snippet"]
        assert (await _vector_hits(p, "hamster wheels squeak oil", 1))[0]["id"] == "parrot"
    files = list((tmp_path / "home" / "rag" / "acme" / "default").glob("*.usearch"))
    assert len(files) == 1  # earlier generations are removed


async def test_a_missing_index_is_built_in_the_background_while_searches_stay_exact(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path, exact_search_max_chunks=100) as p:
        await _index(p, faq_documents()[:300])
        first = await _vector_hits(p, "renew the subscription of my Acme kettle")  # exact
        folder = tmp_path / "home" / "rag" / "acme" / "default"
        async with asyncio.timeout(60):
            while not list(folder.glob("*.usearch")):
                await asyncio.sleep(0.05)
        second = await _vector_hits(p, "renew the subscription of my Acme kettle")
    assert first[0]["id"] == second[0]["id"] == "acme-kettle-renew-subscription"
