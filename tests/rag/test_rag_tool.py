"""``aidev`` retrieval operations through the registry, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from rag_support import aidev, docs, platform_over, result_of

from masterai.store import Database

FAQ = docs(
    ("refund", "How do I get a refund? Refunds are paid to the original card within 5 days."),
    ("password", "To reset your password, open Settings, choose Security and press Reset."),
    ("shipping", "Shipping takes three working days; express delivery arrives next day."),
    ("invoice", "Invoices are sent by e-mail at the end of each month as PDF attachments."),
)


async def test_index_then_search_finds_the_document_with_id_score_and_snippet(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as p:
        indexed = result_of(
            await aidev(p, "alice", "index_documents", company_id="acme", documents=FAQ)
        )
        assert (indexed["indexed"], indexed["unchanged"], indexed["chunks"]) == (4, 0, 4)
        found = result_of(
            await aidev(p, "vic", "search_similar", company_id="acme", query="reset my password")
        )
    top = found["hits"][0]
    assert top["id"] == "password"
    assert top["score"] > 0
    assert "password" in top["snippet"]
    assert found["mode"] == "hybrid"


@pytest.mark.parametrize("mode", ["keyword", "vector", "hybrid"])
async def test_each_mode_ranks_the_matching_document_first(
    database: Database, tmp_path: Path, mode: str
) -> None:
    with platform_over(database, tmp_path) as p:
        result_of(await aidev(p, "alice", "index_documents", company_id="acme", documents=FAQ))
        found = result_of(
            await aidev(
                p, "alice", "search_similar", company_id="acme", query="express delivery", mode=mode
            )
        )
    assert found["hits"][0]["id"] == "shipping"
    assert found["mode"] == mode


async def test_unchanged_documents_are_not_reindexed(database: Database, tmp_path: Path) -> None:
    with platform_over(database, tmp_path) as p:
        result_of(await aidev(p, "alice", "index_documents", company_id="acme", documents=FAQ))
        changed = [*FAQ[:3], {"id": "invoice", "text": "Invoices now come weekly.", "metadata": {}}]
        again = result_of(
            await aidev(p, "alice", "index_documents", company_id="acme", documents=changed)
        )
        found = result_of(
            await aidev(
                p, "alice", "search_similar", company_id="acme", query="weekly", mode="keyword"
            )
        )
    assert (again["indexed"], again["replaced"], again["unchanged"], again["chunks"]) == (
        1,
        1,
        3,
        1,
    )
    assert [h["id"] for h in found["hits"]] == ["invoice"]


async def test_metadata_filters_restrict_hits_in_every_mode(
    database: Database, tmp_path: Path
) -> None:
    documents = [
        {
            "id": "en",
            "text": "Refund policy: refunds within 30 days.",
            "metadata": {"lang": "en", "v": 2},
        },
        {
            "id": "de",
            "text": "Refund policy: Rückerstattung refund 30 Tage.",
            "metadata": {"lang": "de", "v": 1},
        },
    ]
    with platform_over(database, tmp_path) as p:
        result_of(
            await aidev(p, "alice", "index_documents", company_id="acme", documents=documents)
        )
        seen = {}
        for mode in ("keyword", "vector", "hybrid"):
            found = result_of(
                await aidev(
                    p,
                    "alice",
                    "search_similar",
                    company_id="acme",
                    query="refund policy",
                    mode=mode,
                    filters={"lang": "de"},
                )
            )
            seen[mode] = [h["id"] for h in found["hits"]]
        numeric = result_of(
            await aidev(
                p,
                "alice",
                "search_similar",
                company_id="acme",
                query="refund",
                filters={"v": [2, 3]},
            )
        )
    assert seen == {"keyword": ["de"], "vector": ["de"], "hybrid": ["de"]}
    assert [h["id"] for h in numeric["hits"]] == ["en"]


async def test_collections_belong_to_one_company(database: Database, tmp_path: Path) -> None:
    with platform_over(database, tmp_path) as p:
        result_of(await aidev(p, "alice", "index_documents", company_id="acme", documents=FAQ))
        result_of(
            await aidev(
                p,
                "gina",
                "index_documents",
                company_id="globex",
                documents=docs(("g1", "Globex refund rules are secret.")),
            )
        )
        own = result_of(
            await aidev(p, "gina", "search_similar", company_id="globex", query="refund")
        )
        denied = await aidev(p, "gina", "search_similar", company_id="acme", query="refund")
        write_denied = await aidev(
            p, "vic", "index_documents", company_id="acme", documents=docs(("x", "text"))
        )
    assert [h["id"] for h in own["hits"]] == ["g1"]
    assert denied.status == "denied"
    assert write_denied.status == "denied"


async def test_search_with_another_embedding_model_is_refused(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as p:
        result_of(await aidev(p, "alice", "index_documents", company_id="acme", documents=FAQ))
    with platform_over(database, tmp_path, seed=False, dimension=128) as p:
        refused = await aidev(p, "alice", "search_similar", company_id="acme", query="refund")
        keyword = await aidev(
            p, "alice", "search_similar", company_id="acme", query="refund", mode="keyword"
        )
        index_refused = await aidev(
            p, "alice", "index_documents", company_id="acme", documents=docs(("n", "new"))
        )
    assert refused.status == "invalid"
    assert "local:hashing-v1/256" in str(refused.error)
    assert "update_embeddings" in str(refused.error)
    assert result_of(keyword)["hits"][0]["id"] == "refund"
    assert index_refused.status == "invalid"


async def test_update_embeddings_switches_model_and_resumes(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path, batch_size=2) as p:
        result_of(await aidev(p, "alice", "index_documents", company_id="acme", documents=FAQ))
    with platform_over(database, tmp_path, seed=False, dimension=128, batch_size=2) as p:
        first = result_of(
            await aidev(p, "alice", "update_embeddings", company_id="acme", max_chunks=3)
        )
        still_old = await aidev(p, "alice", "search_similar", company_id="acme", query="refund")
        second = result_of(await aidev(p, "alice", "update_embeddings", company_id="acme"))
        found = result_of(
            await aidev(p, "alice", "search_similar", company_id="acme", query="refund my card")
        )
    assert (first["embedded"], first["remaining"], first["complete"]) == (3, 1, False)
    assert still_old.status == "invalid"  # the collection keeps its old model until complete
    assert (second["embedded"], second["remaining"], second["complete"]) == (1, 0, True)
    assert second["model"] == "local:hashing-v1/128"
    assert found["model"] == "local:hashing-v1/128"
    assert found["hits"][0]["id"] == "refund"


async def test_update_with_the_collection_model_changes_nothing(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as p:
        result_of(await aidev(p, "alice", "index_documents", company_id="acme", documents=FAQ))
        same = result_of(await aidev(p, "alice", "update_embeddings", company_id="acme"))
    assert (same["embedded"], same["complete"], same["switched"]) == (0, True, False)


async def test_workspace_files_are_indexed_by_type(database: Database, tmp_path: Path) -> None:
    with platform_over(database, tmp_path) as p:
        root = p.settings.workspace / "companies" / "acme" / "kb"
        root.mkdir(parents=True)
        (root / "a.md").write_text("# Returns\nReturn items within 30 days.")
        (root / "b.html").write_text(
            "<html><script>var hidden='zebra';</script><p>Gift cards never expire.</p></html>"
        )
        (root / "c.csv").write_text("product,warranty\nkettle,2 years\n")
        (root / "d.txt").write_text("Opening hours are 9 to 5.")
        paths = [f"companies/acme/kb/{n}" for n in ("a.md", "b.html", "c.csv", "d.txt")]
        result_of(await aidev(p, "alice", "index_documents", company_id="acme", paths=paths))
        gift = result_of(
            await aidev(
                p, "alice", "search_similar", company_id="acme", query="gift cards", mode="keyword"
            )
        )
        zebra = result_of(
            await aidev(
                p, "alice", "search_similar", company_id="acme", query="zebra", mode="keyword"
            )
        )
        kettle = result_of(
            await aidev(
                p,
                "alice",
                "search_similar",
                company_id="acme",
                query="kettle warranty",
                mode="keyword",
            )
        )
    assert gift["hits"][0]["id"] == "companies/acme/kb/b.html"
    assert gift["hits"][0]["source"] == "companies/acme/kb/b.html"
    assert zebra["hits"] == []
    assert "warranty: 2 years" in kettle["hits"][0]["snippet"]


async def test_files_of_another_company_are_refused(database: Database, tmp_path: Path) -> None:
    with platform_over(database, tmp_path) as p:
        other = p.settings.workspace / "companies" / "globex"
        other.mkdir(parents=True)
        (other / "secret.txt").write_text("globex secret")
        (p.settings.workspace / "companies" / "acme").mkdir(parents=True)
        (p.settings.workspace / "companies" / "acme" / "x.pdf").write_bytes(b"%PDF-1.4")
        refused = await aidev(
            p, "admin", "index_documents", company_id="acme", paths=["companies/globex/secret.txt"]
        )
        pdf = await aidev(
            p, "admin", "index_documents", company_id="acme", paths=["companies/acme/x.pdf"]
        )
        listed = result_of(
            await aidev(p, "admin", "index_documents", company_id="acme", documents=FAQ)
        )
    assert refused.status == "denied"
    assert "globex" in str(refused.error)
    assert pdf.status == "invalid"
    assert "pypdf" in str(pdf.error)
    assert listed["indexed"] == 4


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ({"documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]}, "twice"),
        ({"documents": [{"id": "a", "text": "  "}]}, "no text"),
        ({"documents": [{"id": "a", "body": "x"}]}, "unknown fields"),
        (
            {"documents": [{"id": "a", "text": "x"}], "collection": "no spaces"},
            "invalid collection",
        ),
        ({}, "either documents or paths"),
    ],
)
async def test_bad_documents_get_one_clear_error_and_nothing_is_written(
    database: Database, tmp_path: Path, args: dict[str, object], needle: str
) -> None:
    with platform_over(database, tmp_path) as p:
        bad = await aidev(p, "alice", "index_documents", company_id="acme", **args)
        missing = await aidev(p, "alice", "search_similar", company_id="acme", query="x")
    assert bad.status == "invalid"
    assert needle in str(bad.error)
    assert missing.status == "invalid"
    assert "no collection 'default'" in str(missing.error)


async def test_bad_filters_and_top_k_are_refused(database: Database, tmp_path: Path) -> None:
    with platform_over(database, tmp_path) as p:
        result_of(await aidev(p, "alice", "index_documents", company_id="acme", documents=FAQ))
        nested = await aidev(
            p, "alice", "search_similar", company_id="acme", query="x", filters={"a": {"b": 1}}
        )
        top = await aidev(p, "alice", "search_similar", company_id="acme", query="x", top_k=0)
    assert nested.status == "invalid"
    assert "filter 'a'" in str(nested.error)
    assert top.status == "invalid"


async def test_keyword_search_finds_a_collection_crowded_out_by_another_ones_matches(
    database: Database, tmp_path: Path
) -> None:
    crowd = [{"id": f"p{i}", "text": "parrot parrot parrot", "metadata": {}} for i in range(300)]
    mine = docs(("one", "A long note that mentions a parrot once among many other words here."))
    with platform_over(database, tmp_path) as p:
        for collection, documents in (("crowd", crowd), ("mine", mine)):
            result_of(
                await aidev(
                    p,
                    "alice",
                    "index_documents",
                    company_id="acme",
                    documents=documents,
                    collection=collection,
                )
            )
        found = result_of(
            await aidev(
                p,
                "alice",
                "search_similar",
                company_id="acme",
                query="parrot",
                collection="mine",
                mode="keyword",
                top_k=1,
            )
        )
    assert [h["id"] for h in found["hits"]] == ["one"]


async def test_list_collections_counts_documents_and_chunks_of_one_company(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as p:
        result_of(await aidev(p, "alice", "index_documents", company_id="acme", documents=FAQ))
        result_of(
            await aidev(
                p, "alice", "index_documents", company_id="acme", collection="x", documents=FAQ[:1]
            )
        )
        listed = result_of(await aidev(p, "vic", "list_collections", company_id="acme"))
        other = await aidev(p, "gina", "list_collections", company_id="acme")
        missing = await aidev(p, "alice", "list_collections")
    model = listed["collections"][0]["model"]
    assert [(c["name"], c["documents"], c["chunks"]) for c in listed["collections"]] == [
        ("default", 4, 4),
        ("x", 1, 1),
    ]
    assert model.startswith("local:hashing")
    assert other.status == "denied"  # another company's collections are not listed
    assert missing.status == "invalid" and "company_id" in (missing.error or "")
