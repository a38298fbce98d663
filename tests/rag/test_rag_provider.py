"""Provider embeddings through the OpenAI SDK against a wire-level fake on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_embeddings import fake_embeddings_server
from rag_support import aidev, docs, platform_over, result_of

from masterai.store import Database

FAQ = docs(
    ("refund", "Refunds are paid to the original card within five days."),
    ("password", "Reset your password from the security settings page."),
)


@pytest.fixture(autouse=True)
def _no_operator_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MASTERAI_MODEL", "MASTERAI_LLM__MODEL"):
        monkeypatch.delenv(name, raising=False)


async def test_configured_provider_embeds_documents_and_queries(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_embeddings_server() as fake:
        spec = f"openai:fake-embed@{fake.url}"
        # The operator configured this endpoint with a key: the key goes to it.
        monkeypatch.setenv("MASTERAI_LLM__MODEL", f"openai:chat@{fake.url}")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        with platform_over(database, tmp_path, embedding_model=spec) as p:
            p.settings.llm.model = f"openai:chat@{fake.url}"
            indexed = result_of(
                await aidev(p, "alice", "index_documents", company_id="acme", documents=FAQ)
            )
            found = result_of(
                await aidev(
                    p,
                    "alice",
                    "search_similar",
                    company_id="acme",
                    query="password reset",
                    mode="vector",
                )
            )
    assert indexed["model"] == "openai:fake-embed"
    assert found["hits"][0]["id"] == "password"
    assert [r["path"] for r in fake.requests] == ["/v1/embeddings", "/v1/embeddings"]
    assert fake.requests[0]["body"]["model"] == "fake-embed"
    assert fake.requests[1]["body"]["input"] == ["password reset"]
    assert {r["auth"] for r in fake.requests} == {"Bearer sk-test"}


async def test_provider_failure_leaves_the_collection_unwritten(
    database: Database, tmp_path: Path
) -> None:
    with fake_embeddings_server() as fake:
        fake.fail_next = 1
        spec = f"openai:fake-embed@{fake.url}"
        with platform_over(database, tmp_path, embedding_model=spec) as p:
            failed = await aidev(p, "alice", "index_documents", company_id="acme", documents=FAQ)
            missing = await aidev(
                p, "alice", "search_similar", company_id="acme", query="refund", mode="keyword"
            )
    assert failed.status == "failed"
    assert "openai:fake-embed" in str(failed.error)
    assert "no collection" in str(missing.error)
    assert fake.requests[0]["auth"] is None  # no key configured for this endpoint


async def test_update_embeddings_moves_a_collection_to_a_provider_model(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as p:
        result_of(await aidev(p, "alice", "index_documents", company_id="acme", documents=FAQ))
    with fake_embeddings_server() as fake:
        spec = f"openai:fake-embed@{fake.url}"
        with platform_over(database, tmp_path, seed=False, embedding_model=spec) as p:
            before = await aidev(p, "admin", "search_similar", company_id="acme", query="refund")
            fake.fail_next = 1
            interrupted = await aidev(
                p, "admin", "update_embeddings", company_id="acme", model=spec
            )
            resumed = result_of(
                await aidev(p, "admin", "update_embeddings", company_id="acme", model=spec)
            )
            after = result_of(
                await aidev(p, "admin", "search_similar", company_id="acme", query="refund card")
            )
    assert before.status == "invalid"
    assert interrupted.status == "failed"
    assert resumed["complete"] is True
    assert resumed["from_model"] == "local:hashing-v1/256"
    assert after["model"] == "openai:fake-embed"
    assert after["hits"][0]["id"] == "refund"


async def test_a_provider_without_embeddings_is_refused(database: Database, tmp_path: Path) -> None:
    with platform_over(database, tmp_path, embedding_model="anthropic:claude-haiku-4-5") as p:
        refused = await aidev(p, "alice", "index_documents", company_id="acme", documents=FAQ)
    assert refused.status == "invalid"
    assert "no embeddings API" in str(refused.error)
