"""Benchmark RAG: indexing throughput and search latency at 10,000 and 100,000 chunks.

Run: ``.venv/bin/python benchmarks/rag.py [--sizes 10000 100000] [--queries 200]
[--database-url postgresql://postgres@127.0.0.1:5432/DB]``.

For each size, in one run, on a fresh SQLite database (the embedded default; with
``--database-url``, an existing PostgreSQL database whose RAG tables are emptied first) with
the offline ``local:hashing`` embedder:

- indexing: synthetic FAQ-like documents (one chunk each, 30 words drawn from a Zipf
  vocabulary whose head is the English stop words) through :meth:`RagService.index` in
  batches of 5,000: chunking, embedding, the transaction and the FTS5 triggers; chunks/s;
- search: ``--queries`` queries (five words of a random document, two of them replaced) through
  :meth:`RagService.search` in each mode, p50 and p95, after one warm-up search (the first
  search loads the collection's vectors into memory, or above
  ``exact_search_max_chunks`` (20,000) builds its HNSW index: shown as "first search"); at
  100,000 chunks the exact numpy path is timed too (a service with the threshold raised);
- on PostgreSQL, the keyword search's statement as it was before migration 0015 (every
  chunk's ``to_tsvector`` computed per search), run directly on the first ``BEFORE_0015``
  queries (it takes seconds each);
- baseline: numpy brute force over the same vectors held in memory (embed the query, one
  matrix product, top 5), no database: the floor the vector path is measured against;
- embedders: ``--texts`` (200) short English FAQ sentences embedded by ``local:hashing`` (the
  baseline) and by ``local:all-MiniLM-L6-v2`` (after a warm-up call that loads its weights,
  timed apart), texts/s and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from masterai.security import UserDirectory
from masterai.services.errors import InvalidInputError
from masterai.services.rag import (
    HashingEmbedder,
    MiniLMEmbedder,
    RagService,
    SearchMode,
    SourceDocument,
)
from masterai.services.rag.chunking import STOP_WORDS
from masterai.settings import RagSettings
from masterai.store import Database

BATCH = 5_000
WORDS_PER_DOC = 30


def vocabulary(rng: random.Random, size: int = 5_000) -> list[str]:
    """English stop words first (the most frequent words of real text), then made-up words.

    A Zipf draw over this list looks like text to BM25: the head of the distribution is
    words such as "the" and "of", as in English.
    """
    syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "be", "da", "fi", "go", "po"]
    made_up: set[str] = set()
    while len(made_up) < size - len(STOP_WORDS):
        made_up.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(STOP_WORDS) + sorted(made_up)


def corpus(count: int, rng: random.Random) -> list[SourceDocument]:
    """``count`` one-chunk documents."""
    words = vocabulary(rng)
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    texts = rng.choices(words, weights=weights, k=count * WORDS_PER_DOC)
    return [
        SourceDocument(
            id=f"doc-{i}",
            text=" ".join(texts[i * WORDS_PER_DOC : (i + 1) * WORDS_PER_DOC]) + ".",
            metadata={"group": i % 10},
        )
        for i in range(count)
    ]


def queries(documents: list[SourceDocument], count: int, rng: random.Random) -> list[str]:
    """Five words of a random document, two replaced by words of another."""
    out = []
    for _ in range(count):
        own = rng.choice(documents).text.rstrip(".").split()
        other = rng.choice(documents).text.rstrip(".").split()
        picked = rng.sample(own, 3) + rng.sample(other, 2)
        rng.shuffle(picked)
        out.append(" ".join(picked))
    return out


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


BEFORE_0015 = 10
OLD_KEYWORD_SQL = sa.text(
    "SELECT id, ts_rank_cd(to_tsvector('english'::regconfig, text), q) AS score "
    "FROM rag_chunks, to_tsquery('english'::regconfig, :words) AS q "
    "WHERE to_tsvector('english'::regconfig, text) @@ q AND collection_id = :collection "
    "ORDER BY score DESC, id LIMIT 20"
)
"""PostgreSQL's keyword ranking before migration 0015 (a plain statement, same words)."""


def open_database(size: int, root: Path, url: str | None) -> Database:
    """A fresh SQLite file, or ``url`` with its RAG tables emptied; company ``bench`` in it."""
    if url is None:
        database = Database(f"sqlite:///{root / f'rag-{size}.db'}")
        database.upgrade()
        UserDirectory(database).add_company("bench", "Bench")
        return database
    database = Database(url)
    database.upgrade()
    with database.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM rag_collections"))
        known = conn.execute(sa.text("SELECT count(*) FROM companies WHERE id = 'bench'"))
        fresh = known.scalar_one() == 0
    if fresh:
        UserDirectory(database).add_company("bench", "Bench")
    return database


async def run_size(
    size: int, query_count: int, root: Path, url: str | None = None
) -> list[tuple[str, str]]:
    """Index ``size`` chunks, time the searches; the table rows of this size."""
    rng = random.Random(size)
    database = open_database(size, root, url)
    settings = RagSettings(batch_size=512, background_index_build=False)
    service = RagService(database, settings, index_dir=root / f"index-{size}")
    embedder = HashingEmbedder(256)
    documents = corpus(size, rng)
    started = time.perf_counter()
    for start in range(0, size, BATCH):
        await service.index(
            "bench", documents[start : start + BATCH], collection=None, embedder=embedder
        )
    indexing = time.perf_counter() - started
    rows = [("indexing", f"{size / indexing:,.0f} chunks/s ({indexing:.1f} s)")]
    asked = queries(documents, query_count, rng)

    started = time.perf_counter()
    await service.search(
        "bench",
        asked[0],
        collection=None,
        top_k=5,
        filters={},
        mode=SearchMode.VECTOR,
        embedder=embedder,
    )
    how = "HNSW index build" if size > service.settings.exact_search_max_chunks else "matrix load"
    rows.append((f"{how} (first search)", f"{(time.perf_counter() - started) * 1000:.0f} ms"))
    exact = RagService(database, RagSettings(batch_size=512, exact_search_max_chunks=size))
    timed = [(service, m, m.value) for m in (SearchMode.HYBRID, SearchMode.VECTOR)]
    timed.append((service, SearchMode.KEYWORD, "keyword"))
    if size > service.settings.exact_search_max_chunks:
        timed = [
            (s, m, f"{label} (HNSW)" if m is not SearchMode.KEYWORD else label)
            for s, m, label in timed
        ]
        timed.append((exact, SearchMode.VECTOR, "vector (exact numpy)"))
    for searcher, mode, label in timed:
        samples = []
        for query in asked:
            started = time.perf_counter()
            await searcher.search(
                "bench",
                query,
                collection=None,
                top_k=5,
                filters={},
                mode=mode,
                embedder=embedder,
            )
            samples.append(time.perf_counter() - started)
        p50, p95 = percentiles(samples)
        rows.append((f"search {label}", f"p50 {p50:.2f} ms, p95 {p95:.2f} ms"))
    if database.dialect == "postgresql":
        rows.append(old_keyword_row(database, asked[:BEFORE_0015]))

    vectors = embedder.embed_sync([d.text for d in documents])
    samples = []
    for query in asked:
        started = time.perf_counter()
        scores = vectors @ embedder.embed_sync([query])[0]
        top = np.argpartition(-scores, 4)[:5]
        top[np.argsort(-scores[top])]
        samples.append(time.perf_counter() - started)
    p50, p95 = percentiles(samples)
    rows.append(("numpy brute force (baseline)", f"p50 {p50:.2f} ms, p95 {p95:.2f} ms"))
    database.dispose()
    return rows


def old_keyword_row(database: Database, asked: list[str]) -> tuple[str, str]:
    """The keyword statement of before migration 0015, timed on ``asked``."""
    with database.engine.connect() as conn:
        collection = conn.execute(sa.text("SELECT max(id) FROM rag_collections")).scalar_one()
        samples = []
        for query in asked:
            words = " | ".join(w for w in query.split() if w.isalnum())
            started = time.perf_counter()
            conn.execute(OLD_KEYWORD_SQL, {"words": words, "collection": collection}).all()
            samples.append(time.perf_counter() - started)
    p50, p95 = percentiles(samples)
    label = f"search keyword, before 0015 ({len(asked)} queries)"
    return label, f"p50 {p50:.2f} ms, p95 {p95:.2f} ms"


def faq_sentences(count: int, rng: random.Random) -> list[str]:
    """``count`` short English support questions and answers (real words, unlike ``corpus``)."""
    verbs = ["cancel", "renew", "pause", "return", "track", "refund", "update", "reset"]
    things = ["subscription", "order", "password", "invoice", "delivery", "account"]
    products = ["kettle", "router", "laptop", "printer", "camera", "speaker", "drone"]
    return [
        f"How do I {rng.choice(verbs)} the {rng.choice(things)} of my {rng.choice(products)}? "
        f"Open the app, pick the {rng.choice(products)} and press {rng.choice(verbs).title()}."
        for _ in range(count)
    ]


def embedder_rows(count: int) -> list[tuple[str, str]]:
    """Texts/s of ``local:hashing`` (baseline) and ``local:all-MiniLM-L6-v2``."""
    texts = faq_sentences(count, random.Random(count))
    hashing = HashingEmbedder(256)
    started = time.perf_counter()
    hashing.embed_sync(texts)
    base = count / (time.perf_counter() - started)
    rows = [("embed local:hashing-v1/256 (baseline)", f"{base:,.0f} texts/s")]
    try:
        minilm = MiniLMEmbedder()
    except InvalidInputError as e:
        return [*rows, ("embed local:all-MiniLM-L6-v2", f"not installed ({e})")]
    started = time.perf_counter()
    minilm.embed_sync(texts[:1])
    rows.append(("MiniLM weights load", f"{time.perf_counter() - started:.2f} s"))
    started = time.perf_counter()
    minilm.embed_sync(texts)
    rate = count / (time.perf_counter() - started)
    rows.append(
        ("embed local:all-MiniLM-L6-v2", f"{rate:,.1f} texts/s ({base / rate:,.0f}x slower)")
    )
    return rows


def main() -> None:
    """Parse the arguments, run every size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--texts", type=int, default=200, help="texts per embedder (0: none)")
    parser.add_argument("--database-url", help="an existing PostgreSQL database (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="masterai-rag-bench-") as tmp:
        table = []
        for size in args.sizes:
            rows = asyncio.run(run_size(size, args.queries, Path(tmp), args.database_url))
            for name, value in rows:
                table.append((f"{size:,}", name, value))
    if args.texts:
        table += [(f"{args.texts:,}", name, value) for name, value in embedder_rows(args.texts)]
    width = max(len(n) for _, n, _ in table)
    print(f"{'chunks':>8}  {'measure':<{width}}  result")
    for size, name, value in table:
        print(f"{size:>8}  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
