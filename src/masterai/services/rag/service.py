"""Indexing, hybrid search and re-embedding of a company's collections.

Search modes: ``keyword`` (BM25 over FTS5 on SQLite, ``ts_rank_cd`` on PostgreSQL),
``vector`` (exact cosine similarity with numpy over the collection's vectors) and ``hybrid``
(both lists fused by reciprocal rank, ``1 / (60 + rank)`` summed). Hits are documents: the best
chunk of each, with its score, a snippet, the document ``id`` and metadata.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from masterai.services.errors import InvalidInputError, NotFoundError
from masterai.services.rag.chunking import Chunk, chunk_text, query_terms, snippet
from masterai.services.rag.embedders import Embedder
from masterai.services.rag.store import (
    ModelMismatchError,
    NewChunk,
    NewDocument,
    RagStore,
    Written,
    mismatch_message,
)
from masterai.services.rag.vectors import ApproximateIndex, IndexKey, VectorIndexes
from masterai.settings import RagSettings, Settings
from masterai.store import Database
from masterai.store.models import RagCollection

RRF_K = 60
DEFAULT_COLLECTION = "default"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_FILTER_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
MAX_TOP_K = 100
MAX_QUERY_CHARS = 4000


class SearchMode(StrEnum):
    """How ``search_similar`` ranks."""

    VECTOR = "vector"
    KEYWORD = "keyword"
    HYBRID = "hybrid"


@dataclass(frozen=True, kw_only=True)
class SourceDocument:
    """A document to index: text given in the call or read from a workspace file."""

    id: str
    text: str
    metadata: dict[str, Any]
    source: str | None = None


def collection_name(value: str | None) -> str:
    """A checked collection name (default ``default``).

    Raises:
        InvalidInputError: not 1-128 letters, digits, ``_``, ``.``, ``-``.
    """
    name = DEFAULT_COLLECTION if value is None else value
    if not _NAME.match(name):
        raise InvalidInputError(
            f"invalid collection {name!r}: use 1-128 letters, digits, '_', '.', '-' "
            "(starting with a letter or digit)"
        )
    return name


def check_filters(filters: Any) -> dict[str, Any]:
    """Metadata filters ``{key: value | [values]}`` (values: strings, numbers, booleans).

    Raises:
        InvalidInputError: anything else.
    """
    if filters is None:
        return {}
    if not isinstance(filters, dict):
        raise InvalidInputError(f"filters must be an object {{key: value}}, not {filters!r}")
    for key, value in filters.items():
        if not _FILTER_KEY.match(key):
            raise InvalidInputError(
                f"invalid filter key {key!r}: use 1-64 letters, digits, '_', '.', '-'"
            )
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str | int | float | bool) for v in values):
            raise InvalidInputError(
                f"filter {key!r}: {value!r} must be a string, number or boolean, "
                "or a non-empty list of them"
            )
    return dict(filters)


def content_hash(text: str, settings: RagSettings) -> str:
    """What decides re-indexing: the text and the chunking settings."""
    key = f"{settings.chunk_tokens}:{settings.chunk_overlap}\n{text}"
    return hashlib.sha256(key.encode()).hexdigest()


def _fuse(rankings: Sequence[Sequence[int]]) -> list[tuple[int, float]]:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


DEFAULT_CONTEXT_TOP_K = 3


@dataclass(frozen=True, kw_only=True)
class ContextSetting:
    """A configuration's ``settings.rag``: answer from this collection's passages."""

    collection: str
    top_k: int = DEFAULT_CONTEXT_TOP_K


def context_setting(value: Any) -> ContextSetting | None:
    """Read a configuration's ``settings.rag``.

    ``{"collection": NAME?, "top_k": N?}`` (defaults ``default`` and 3) or ``true``;
    absent, ``null`` or ``false``: no retrieval.

    Raises:
        InvalidInputError: another shape.
    """
    if value is None or value is False:
        return None
    if value is True:
        return ContextSetting(collection=DEFAULT_COLLECTION)
    if not isinstance(value, dict) or set(value) - {"collection", "top_k"}:
        raise InvalidInputError(
            f"settings.rag must be true or {{collection?, top_k?}}, not {value!r}"
        )
    top_k = value.get("top_k", DEFAULT_CONTEXT_TOP_K)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 20:
        raise InvalidInputError(f"settings.rag.top_k must be 1 to 20, not {top_k!r}")
    return ContextSetting(collection=collection_name(value.get("collection")), top_k=top_k)


@dataclass(frozen=True, kw_only=True)
class RetrievedContext:
    """Passages retrieved for a question, ready for a prompt."""

    collection: str
    hits: list[dict[str, Any]]
    """Search hits, each with its passage's whole ``text``."""

    @property
    def text(self) -> str:
        """The block added to the system prompt (empty when nothing was found)."""
        if not self.hits:
            return ""
        passages = "\n\n".join(f"[{h['id']}]\n{h['text']}" for h in self.hits)
        return (
            "Passages from the company's knowledge base (collection "
            f"{self.collection!r}); answer from them when they are relevant:\n\n{passages}"
        )


class RagService:
    """A company's collections: index, search, re-embed.

    Args:
        database: the database.
        settings: the ``rag`` settings (chunking, batch size, limits).
    """

    def __init__(
        self, database: Database, settings: RagSettings, *, index_dir: Path | None = None
    ) -> None:
        self.settings = settings
        self.store = RagStore(database)
        self.vectors = VectorIndexes(index_dir, settings.exact_search_max_chunks)
        """Approximate indexes of the large collections (saved under ``index_dir``)."""

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> RagService:
        """The service of ``settings`` (indexes saved under ``rag.index_dir`` or ``<home>/rag``)."""
        index_dir = settings.rag.index_dir or settings.home / "rag"
        return cls(database, settings.rag, index_dir=index_dir)

    # --- indexing ------------------------------------------------------------------------

    def _chunks(self, text: str) -> list[Chunk]:
        return chunk_text(
            text, size=self.settings.chunk_tokens, overlap=self.settings.chunk_overlap
        )

    async def _embed(self, embedder: Embedder, texts: Sequence[str]) -> np.ndarray[Any, Any]:
        size = self.settings.batch_size
        parts = [
            await embedder.embed(texts[start : start + size])
            for start in range(0, len(texts), size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    async def index(
        self,
        company_id: str,
        documents: Sequence[SourceDocument],
        *,
        collection: str | None,
        embedder: Embedder,
    ) -> dict[str, Any]:
        """Chunk, embed and store ``documents``; unchanged ones (same hash) are skipped.

        Everything is embedded before anything is written, and written in one transaction:
        a failure leaves the collection as it was.

        Raises:
            InvalidInputError: duplicate ids, empty text, too many documents.
            NotFoundError: the company does not exist.
            ModelMismatchError: the collection holds vectors of another model.
            EmbeddingError: the embedder failed.
        """
        name = collection_name(collection)
        self._check_batch(documents)
        existing = await asyncio.to_thread(self.store.collection, company_id, name)
        if existing is not None and existing.model != embedder.model_id:
            raise ModelMismatchError(
                mismatch_message(company_id, name, existing.model, embedder.model_id)
            )
        known = await asyncio.to_thread(
            self.store.known_hashes,
            existing.id if existing else None,
            [d.id for d in documents],
        )
        hashes = {d.id: content_hash(d.text, self.settings) for d in documents}
        changed = [d for d in documents if known.get(d.id) != hashes[d.id]]
        changed_ids = {d.id for d in changed}
        chunked = [(d, self._chunks(d.text)) for d in changed]
        texts = [c.text for _, chunks in chunked for c in chunks]
        vectors = await self._embed(embedder, texts)
        prepared: list[NewDocument] = []
        row = 0
        for document, chunks in chunked:
            new = []
            for c in chunks:
                new.append(
                    NewChunk(ordinal=c.ordinal, text=c.text, tokens=c.tokens, vector=vectors[row])
                )
                row += 1
            prepared.append(self._new(document, hashes[document.id], new, reembed=True))
        # Unchanged text: metadata is still written (cheap, no embedding).
        prepared += [
            self._new(d, hashes[d.id], [], reembed=False)
            for d in documents
            if d.id not in changed_ids
        ]
        written = await asyncio.to_thread(
            self.store.write, company_id, name, embedder.model_id, prepared
        )
        await asyncio.to_thread(self._sync_index, company_id, name, embedder.model_id, written)
        counts = written.counts
        return {
            "collection": name,
            "model": embedder.model_id,
            "documents": len(documents),
            "indexed": counts["added"] + counts["replaced"],
            "added": counts["added"],
            "replaced": counts["replaced"],
            "unchanged": len(documents) - len(changed),
            "chunks": counts["chunks"],
        }

    def _sync_index(self, company_id: str, name: str, model: str, written: Written) -> None:
        def key(generation: int) -> IndexKey:
            return IndexKey(
                collection_id=written.collection_id,
                company_id=company_id,
                name=name,
                model=model,
                generation=generation,
            )

        self.vectors.apply(
            key(written.generation_before),
            key(written.generation),
            (written.added_ids, written.added_vectors),
            written.removed_ids,
        )

    async def add_new(
        self,
        company_id: str,
        documents: Sequence[SourceDocument],
        *,
        collection: str | None,
        embedder: Embedder,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, int]:
        """Index those of ``documents`` whose ids the collection does not hold yet.

        Batches of ``max_documents`` are committed one by one, so a call stopped half way
        resumes with the rest.
        """
        name = collection_name(collection)
        existing = await asyncio.to_thread(self.store.collection, company_id, name)
        known = await asyncio.to_thread(
            self.store.known_hashes, existing.id if existing else None, [d.id for d in documents]
        )
        new = [d for d in documents if d.id not in known]
        added = chunks = 0
        size = self.settings.max_documents
        for start in range(0, len(new), size):
            done = await self.index(
                company_id, new[start : start + size], collection=name, embedder=embedder
            )
            added += done["added"]
            chunks += done["chunks"]
            if progress is not None:
                progress(added, len(new))
        return {"added": added, "chunks": chunks, "already_indexed": len(documents) - len(new)}

    @staticmethod
    def _new(
        document: SourceDocument, digest: str, chunks: list[NewChunk], *, reembed: bool
    ) -> NewDocument:
        return NewDocument(
            external_id=document.id,
            content_hash=digest,
            metadata=document.metadata,
            source=document.source,
            chunks=chunks,
            reembed=reembed,
        )

    def _check_batch(self, documents: Sequence[SourceDocument]) -> None:
        if not documents:
            raise InvalidInputError("nothing to index: give documents or paths")
        if len(documents) > self.settings.max_documents:
            raise InvalidInputError(
                f"{len(documents)} documents in one call; at most {self.settings.max_documents} "
                "(MASTERAI_RAG__MAX_DOCUMENTS)"
            )
        seen: set[str] = set()
        for document in documents:
            if document.id in seen:
                raise InvalidInputError(f"document id {document.id!r} is given twice")
            seen.add(document.id)
            if not document.text.strip():
                raise InvalidInputError(f"document {document.id!r} has no text")

    # --- search --------------------------------------------------------------------------

    async def search(
        self,
        company_id: str,
        query: str,
        *,
        collection: str | None,
        top_k: int,
        filters: Mapping[str, Any],
        mode: SearchMode,
        embedder: Embedder,
        full_text: bool = False,
    ) -> dict[str, Any]:
        """The ``top_k`` documents best matching ``query`` (see the module docstring).

        ``full_text``: each hit also carries its passage's whole ``text`` (for prompts).

        Raises:
            InvalidInputError: an empty or too long query, ``top_k`` out of range.
            NotFoundError: the company has no such collection.
            ModelMismatchError: vector or hybrid search with another model than the
                collection's.
        """
        name = collection_name(collection)
        if not query.strip() or len(query) > MAX_QUERY_CHARS:
            raise InvalidInputError(f"query must be 1 to {MAX_QUERY_CHARS} characters")
        if not 1 <= top_k <= MAX_TOP_K:
            raise InvalidInputError(f"top_k must be 1 to {MAX_TOP_K}, not {top_k}")
        found = await asyncio.to_thread(self.store.collection, company_id, name)
        if found is None:
            raise NotFoundError(
                f"company {company_id!r} has no collection {name!r}; index documents first"
            )
        pool = max(50, top_k * 10)
        terms = query_terms(query)
        vector_work: Any = None
        keyword_work: Any = None
        if mode is not SearchMode.KEYWORD:
            if embedder.model_id != found.model:
                raise ModelMismatchError(
                    mismatch_message(company_id, name, found.model, embedder.model_id)
                )
            query_vector = (await embedder.embed([query]))[0]
            vector_work = asyncio.to_thread(
                self._vector_ranking, company_id, found, query_vector, filters, pool
            )
        if mode is not SearchMode.VECTOR:
            keyword_work = asyncio.to_thread(
                self.store.keyword_ranking, found.id, terms, filters, pool
            )
        # Both rankings run at once (one thread each) in hybrid mode.
        done = await asyncio.gather(*(w for w in (vector_work, keyword_work) if w is not None))
        ranked_lists = iter(done)
        vector_scores = dict(next(ranked_lists)) if vector_work is not None else {}
        keyword_scores = dict(next(ranked_lists)) if keyword_work is not None else {}
        rankings = [list(scores) for scores in (vector_scores, keyword_scores) if scores]
        if not rankings:
            rankings = [[]]
        fused = _fuse(rankings) if mode is SearchMode.HYBRID else None
        order = fused if fused is not None else [(i, 0.0) for i in rankings[0]]
        hits = await asyncio.to_thread(
            self._hits, order, terms, top_k, vector_scores, keyword_scores, mode, full_text
        )
        return {"collection": name, "model": found.model, "mode": mode.value, "hits": hits}

    def _vector_ranking(
        self,
        company_id: str,
        collection: RagCollection,
        query: np.ndarray[Any, Any],
        filters: Mapping[str, Any],
        pool: int,
    ) -> list[tuple[int, float]]:
        if not filters:  # filtered searches are exact over the matching chunks
            index = self._approximate_index(company_id, collection, len(query))
            if index is not None:
                return index.search(query, pool)
        matrix = self.store.matrix(collection)
        if not len(matrix.chunk_ids):
            return []
        # einsum's own loop, not BLAS: OpenBLAS's thread pool costs more than it saves for one
        # vector on a busy machine (0.8 against 5.3 ms at 10,000 chunks, see benchmarks.md).
        scores = np.einsum("ij,j->i", matrix.vectors, query.astype(np.float32))
        if filters:
            allowed = self.store.chunk_ids_matching(collection.id, filters)
            mask = np.isin(matrix.chunk_ids, np.fromiter(allowed, dtype=np.int64))
            scores = np.where(mask, scores, -np.inf)
        count = min(pool, len(scores))
        top = np.argpartition(-scores, count - 1)[:count]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(matrix.chunk_ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])]

    def _approximate_index(
        self, company_id: str, collection: RagCollection, dimension: int
    ) -> ApproximateIndex | None:
        key = IndexKey(
            collection_id=collection.id,
            company_id=company_id,
            name=collection.name,
            model=collection.model,
            generation=collection.generation,
        )
        known, index = self.vectors.cached(key)
        if known:
            return index

        def load() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
            matrix = self.store.matrix(collection)
            return matrix.chunk_ids, matrix.vectors

        count = self.store.count_chunks(collection.id)
        return self.vectors.get(key, count, dimension, load)

    def _hits(
        self,
        order: Sequence[tuple[int, float]],
        terms: list[str],
        top_k: int,
        vector_scores: dict[int, float],
        keyword_scores: dict[int, float],
        mode: SearchMode,
        full_text: bool,
    ) -> list[dict[str, Any]]:
        # Fetch a generous slice: several chunks of one document collapse into one hit.
        wanted = [i for i, _ in order[: top_k * 5]]
        passages = self.store.passages(wanted)
        hits: list[dict[str, Any]] = []
        seen: set[str] = set()
        for chunk_id, fused in order:
            passage = passages.get(chunk_id)
            if passage is None or passage.document_id in seen:
                continue
            seen.add(passage.document_id)
            score = {
                SearchMode.HYBRID: fused,
                SearchMode.VECTOR: vector_scores.get(chunk_id, 0.0),
                SearchMode.KEYWORD: keyword_scores.get(chunk_id, 0.0),
            }[mode]
            hit: dict[str, Any] = {
                "id": passage.document_id,
                "score": round(score, 6),
                "snippet": snippet(passage.text, terms),
                "chunk": passage.ordinal,
                "metadata": passage.metadata,
            }
            if chunk_id in vector_scores:
                hit["vector_score"] = round(vector_scores[chunk_id], 6)
            if chunk_id in keyword_scores:
                hit["keyword_score"] = round(keyword_scores[chunk_id], 6)
            if passage.source:
                hit["source"] = passage.source
            if full_text:
                hit["text"] = passage.text
            hits.append(hit)
            if len(hits) == top_k:
                break
        return hits

    async def context(
        self,
        company_id: str,
        query: str,
        *,
        collection: str | None,
        top_k: int,
        embedder: Embedder,
    ) -> RetrievedContext:
        """The passages to put in a model request answering ``query`` (retrieval-augmented).

        One hybrid search; the ``top_k`` best passages, whole, as a block of text for the
        system prompt. ``test_configuration`` uses it for configurations with ``settings.rag``;
        other callers (a playground, the agent) use the same function.

        Raises:
            NotFoundError: the company has no such collection.
            ModelMismatchError: the collection holds vectors of another model.
        """
        found = await self.search(
            company_id,
            query[:MAX_QUERY_CHARS],
            collection=collection,
            top_k=top_k,
            filters={},
            mode=SearchMode.HYBRID,
            embedder=embedder,
            full_text=True,
        )
        return RetrievedContext(collection=found["collection"], hits=found["hits"])

    # --- re-embedding --------------------------------------------------------------------

    async def update_embeddings(
        self,
        company_id: str,
        *,
        collection: str | None,
        embedder: Embedder,
        max_chunks: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Re-embed the collection with ``embedder``'s model, batch by batch.

        Each batch is committed beside the current vectors; when every chunk has a new
        vector the collection switches model in one transaction. A call stopped (failure,
        ``max_chunks`` reached) resumes where it left off.

        Raises:
            NotFoundError: the company has no such collection.
            EmbeddingError: the embedder failed (batches before it are kept).
        """
        name = collection_name(collection)
        if max_chunks is not None and max_chunks < 1:
            raise InvalidInputError(f"max_chunks must be at least 1, not {max_chunks}")
        found = await asyncio.to_thread(self.store.collection, company_id, name)
        if found is None:
            raise NotFoundError(f"company {company_id!r} has no collection {name!r}")
        target = embedder.model_id
        result: dict[str, Any] = {"collection": name, "from_model": found.model, "model": target}
        if found.model == target:
            return {**result, "embedded": 0, "remaining": 0, "complete": True, "switched": False}
        total = await asyncio.to_thread(self.store.count_pending, found.id, target)
        done = 0
        while max_chunks is None or done < max_chunks:
            size = self.settings.batch_size
            if max_chunks is not None:
                size = min(size, max_chunks - done)
            batch = await asyncio.to_thread(self.store.pending, found.id, target, size)
            if not batch:
                break
            vectors = await embedder.embed([text for _, text in batch])
            await asyncio.to_thread(self.store.store_next, [i for i, _ in batch], vectors, target)
            done += len(batch)
            if progress is not None:
                progress(done, total)
        switched = await asyncio.to_thread(self.store.switch_model, found.id, target)
        remaining = (
            0 if switched else await asyncio.to_thread(self.store.count_pending, found.id, target)
        )
        return {
            **result,
            "embedded": done,
            "remaining": remaining,
            "complete": switched,
            "switched": switched,
        }

    def collections(self, company_id: str) -> list[dict[str, Any]]:
        """The company's collections (name, model, documents, chunks)."""
        return self.store.collections(company_id)


def document_from_json(value: Any, index: int) -> SourceDocument:
    """A document given in a call: ``{"id", "text", "metadata"?}``.

    Raises:
        InvalidInputError: another shape (the message names ``documents[index]``).
    """
    where = f"documents[{index}]"
    if not isinstance(value, dict):
        raise InvalidInputError(f"{where} must be an object {{id, text, metadata?}}")
    unknown = set(value) - {"id", "text", "metadata"}
    if unknown:
        raise InvalidInputError(
            f"{where}: unknown fields {sorted(unknown)}; allowed: id, text, metadata"
        )
    doc_id, text, metadata = value.get("id"), value.get("text"), value.get("metadata", {})
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    if not isinstance(doc_id, str) or not 1 <= len(doc_id) <= 512:
        raise InvalidInputError(f"{where}.id must be a string of 1-512 characters")
    if not isinstance(text, str):
        raise InvalidInputError(f"{where}.text must be a string")
    if not isinstance(metadata, dict):
        raise InvalidInputError(f"{where}.metadata must be an object")
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as e:
        raise InvalidInputError(f"{where}.metadata is not JSON: {e}") from None
    return SourceDocument(id=doc_id, text=text, metadata=metadata)
