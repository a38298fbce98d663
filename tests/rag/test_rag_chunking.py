"""Chunking, file reading and the offline hashing embedder."""

from __future__ import annotations

import numpy as np
import pytest

from masterai.services.errors import InvalidInputError
from masterai.services.rag import HashingEmbedder, chunk_text, file_text


def test_chunks_overlap_by_the_given_number_of_tokens() -> None:
    text = " ".join(f"w{i}" for i in range(100))
    chunks = chunk_text(text, size=30, overlap=10)
    assert [c.tokens for c in chunks] == [30, 30, 30, 30, 20]
    assert chunks[0].text.split()[-10:] == chunks[1].text.split()[:10]
    assert chunks[-1].text.endswith("w99")


def test_a_chunk_ends_after_a_sentence_near_its_end() -> None:
    text = ("alpha " * 20).strip() + ". " + ("beta " * 20).strip()
    first = chunk_text(text, size=24, overlap=2)[0]
    assert first.text.endswith("alpha.")


def test_overlap_must_be_smaller_than_size() -> None:
    with pytest.raises(InvalidInputError, match="overlap"):
        chunk_text("a b c", size=4, overlap=4)


def test_html_keeps_visible_text_only() -> None:
    page = b"<html><head><style>p{}</style></head><body><p>Hello</p><script>x=1</script></body>"
    assert file_text("kb/a.html", page) == "Hello"


def test_csv_rows_become_column_value_lines() -> None:
    assert file_text("a.csv", b"name,size\nkettle,2l\n") == "name: kettle; size: 2l"


def test_pdf_is_refused_naming_the_missing_package() -> None:
    with pytest.raises(InvalidInputError, match="pypdf"):
        file_text("a.pdf", b"%PDF")


def test_hashing_vectors_are_deterministic_unit_vectors() -> None:
    texts = ["Refunds take five days", "refunding takes 5 days", "Reset the router"]
    first = HashingEmbedder(128).embed_sync(texts)
    again = HashingEmbedder(128).embed_sync(texts)
    assert np.array_equal(first, again)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0)
    assert first[0] @ first[1] > first[0] @ first[2]


def test_a_text_without_features_embeds_as_zeros() -> None:
    vector = HashingEmbedder(64).embed_sync(["the of and"])[0]
    assert not vector.any()
