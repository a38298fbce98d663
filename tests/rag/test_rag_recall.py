"""Retrieval quality on a labelled FAQ set: hybrid recall@5 against each ranking alone."""

from __future__ import annotations

from pathlib import Path

from faq_set import faq_documents, faq_questions
from rag_support import acting, aidev, platform_over, result_of

from masterai.store import Database

QUESTIONS = 150
BRANDS = 8
"""Half the brands: 1,920 documents, still six near-twins per (brand, product, object)."""


async def test_hybrid_recall_at_5_is_at_least_keyword_and_vector_recall(
    database: Database, tmp_path: Path
) -> None:
    documents = faq_documents(BRANDS)
    questions = faq_questions(QUESTIONS, brands=BRANDS)
    recall: dict[str, float] = {}
    with platform_over(database, tmp_path) as p:
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
        for mode in ("keyword", "vector", "hybrid"):
            found = 0
            for question in questions:
                hits = result_of(
                    await aidev(
                        p,
                        alice,
                        "search_similar",
                        company_id="acme",
                        query=question.text,
                        mode=mode,
                        top_k=5,
                    )
                )["hits"]
                found += question.answer in [h["id"] for h in hits]
            recall[mode] = found / len(questions)
    print(f"recall@5 over {len(documents)} documents, {QUESTIONS} questions: {recall}")
    assert len(documents) >= 1800
    assert recall["hybrid"] >= recall["keyword"]
    assert recall["hybrid"] >= recall["vector"]
    assert recall["hybrid"] >= 0.9
    assert min(recall["keyword"], recall["vector"]) < 1.0  # the set is not trivial
