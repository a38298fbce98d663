"""The RAG tables: writing documents and chunks, rankings by keyword and by vector.

All queries are scoped to one collection, which belongs to one company: the only way to a
collection is :meth:`RagStore.collection` with the company id.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.orm import Session

from masterai.services.errors import ConflictError, InvalidInputError, NotFoundError
from masterai.store.models import Company, RagChunk, RagCollection, RagDocument, utcnow

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from masterai.store import Database

_PG_CONFIG: Any = sa.literal_column("'english'::regconfig")
_PG_VECTOR: Any = sa.literal_column("rag_chunks.text_tsv")
"""Each chunk's ``to_tsvector('english', text)``, stored and indexed (migration 0015)."""
ANALYZE_AFTER = 5_000
"""Chunks written at once after which PostgreSQL's statistics of the RAG tables are refreshed.

A planner that still counts the rows of before a large import picks plans for a few rows: in
a new database, indexing 100,000 chunks 5,000 at a time ran at 252 chunks/s (each batch's
lookup of its documents by id grew with the table) against 1,529 with the statistics
refreshed, and a keyword search took about 1.5 s instead of 35 ms until autovacuum came."""
MAX_TERMS = 64
FTS_OVERFETCH = 4
"""Matches taken from the FTS5 table per result wanted before falling back to a join."""


class ModelMismatchError(ConflictError):
    """The collection's vectors come from another embedding model than the one asked for."""


@dataclass(frozen=True, kw_only=True)
class NewChunk:
    """A chunk ready to store."""

    ordinal: int
    text: str
    tokens: int
    vector: NDArray[np.float32]


@dataclass(frozen=True, kw_only=True)
class NewDocument:
    """A document ready to store (``chunks`` empty: only its metadata changed)."""

    external_id: str
    content_hash: str
    metadata: dict[str, Any]
    source: str | None
    chunks: list[NewChunk] = field(default_factory=list)
    reembed: bool = True
    """Replace the chunks (``False``: the text is unchanged, only metadata is written)."""


@dataclass(frozen=True, kw_only=True)
class Matrix:
    """A collection's vectors in memory, row ``i`` being chunk ``chunk_ids[i]``."""

    generation: int
    chunk_ids: NDArray[np.int64]
    vectors: NDArray[np.float32]


@dataclass(frozen=True, kw_only=True)
class Written:
    """What :meth:`RagStore.write` changed."""

    counts: dict[str, int]
    collection_id: int
    generation_before: int
    generation: int
    added_ids: NDArray[np.int64]
    added_vectors: NDArray[np.float32]
    """Row ``i`` is the vector of chunk ``added_ids[i]``."""
    removed_ids: list[int]


@dataclass(frozen=True, kw_only=True)
class Passage:
    """A stored chunk with its document (what a search hit shows)."""

    chunk_id: int
    document_id: str
    ordinal: int
    text: str
    metadata: dict[str, Any]
    source: str | None


def _vector_bytes(vector: NDArray[np.float32]) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def _filter_clause(filters: Mapping[str, Any]) -> list[sa.ColumnElement[bool]]:
    clauses: list[sa.ColumnElement[bool]] = []
    for key, wanted in filters.items():
        values = wanted if isinstance(wanted, list) else [wanted]
        options: list[sa.ColumnElement[bool]] = []
        for value in values:
            element = RagDocument.meta[key]
            if isinstance(value, bool):
                options.append(element.as_boolean() == value)
            elif isinstance(value, int | float):
                options.append(element.as_float() == float(value))
            elif isinstance(value, str):
                options.append(element.as_string() == value)
            else:
                raise InvalidInputError(
                    f"filter {key!r}: {value!r} is not a string, number or boolean"
                )
        clauses.append(sa.or_(*options))
    return clauses


class RagStore:
    """Reads and writes one database's RAG tables (thread-safe; no I/O until called).

    Args:
        database: the database.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._lock = threading.Lock()
        self._matrices: dict[int, Matrix] = {}

    # --- collections ---------------------------------------------------------------------

    def collection(self, company_id: str, name: str) -> RagCollection | None:
        """The company's collection called ``name``, if any."""
        with self._database.session() as s:
            return s.scalar(
                sa.select(RagCollection).where(
                    RagCollection.company_id == company_id, RagCollection.name == name
                )
            )

    def collections(self, company_id: str) -> list[dict[str, Any]]:
        """The company's collections with their model and counts."""
        with self._database.session() as s:
            rows = s.execute(
                sa.select(
                    RagCollection.name,
                    RagCollection.model,
                    sa.select(sa.func.count(RagDocument.id))
                    .where(RagDocument.collection_id == RagCollection.id)
                    .scalar_subquery(),
                    sa.select(sa.func.count(RagChunk.id))
                    .where(RagChunk.collection_id == RagCollection.id)
                    .scalar_subquery(),
                )
                .where(RagCollection.company_id == company_id)
                .order_by(RagCollection.name)
            ).all()
        return [{"name": n, "model": m, "documents": d, "chunks": c} for n, m, d, c in rows]

    def known_hashes(self, collection_id: int | None, ids: Iterable[str]) -> dict[str, str]:
        """``external_id -> content_hash`` of the given documents that are stored."""
        wanted = list(ids)
        if collection_id is None or not wanted:
            return {}
        found: dict[str, str] = {}
        with self._database.session() as s:
            for start in range(0, len(wanted), 500):
                rows = s.execute(
                    sa.select(RagDocument.external_id, RagDocument.content_hash).where(
                        RagDocument.collection_id == collection_id,
                        RagDocument.external_id.in_(wanted[start : start + 500]),
                    )
                )
                found.update((str(e), str(h)) for e, h in rows)
        return found

    def write(
        self, company_id: str, name: str, model_id: str, documents: Sequence[NewDocument]
    ) -> Written:
        """Store ``documents`` in the company's collection ``name`` in one transaction.

        Returns the counts and the chunks inserted and removed (to keep a vector index in
        step with the collection).

        Raises:
            NotFoundError: the company does not exist.
            ModelMismatchError: the collection holds vectors of another model.
        """
        counts = {"added": 0, "replaced": 0, "metadata_updated": 0, "chunks": 0}
        with self._database.session(immediate=True) as s:
            collection = self._collection_for_write(s, company_id, name, model_id)
            rows = self._document_rows(s, collection.id, [d.external_id for d in documents])
            now = utcnow()
            replaced: list[int] = []
            for document in documents:
                row = rows.get(document.external_id)
                if row is None:
                    row = RagDocument(collection_id=collection.id, external_id=document.external_id)
                    rows[document.external_id] = row
                    s.add(row)
                    counts["added"] += 1
                elif document.reembed:
                    replaced.append(row.id)
                    counts["replaced"] += 1
                else:
                    counts["metadata_updated"] += 1
                row.content_hash = document.content_hash
                row.meta = document.metadata
                row.source = document.source
                row.updated_at = now
            s.flush()  # ids of the new documents
            removed: list[int] = []
            for start in range(0, len(replaced), 500):
                part = replaced[start : start + 500]
                removed += s.scalars(sa.select(RagChunk.id).where(RagChunk.document_id.in_(part)))
                s.execute(sa.delete(RagChunk).where(RagChunk.document_id.in_(part)))
            chunks = [
                {
                    "collection_id": collection.id,
                    "document_id": rows[d.external_id].id,
                    "ordinal": c.ordinal,
                    "text": c.text,
                    "tokens": c.tokens,
                    "model": model_id,
                    "embedding": _vector_bytes(c.vector),
                }
                for d in documents
                if d.reembed
                for c in d.chunks
            ]
            added: list[int] = []
            if chunks:
                added = list(
                    s.scalars(
                        sa.insert(RagChunk).returning(RagChunk.id, sort_by_parameter_order=True),
                        chunks,
                    )
                )
            counts["chunks"] = len(chunks)
            before = collection.generation
            collection.generation += 1
            collection.updated_at = now
            collection_id = collection.id
        if len(chunks) >= ANALYZE_AFTER and self._database.dialect == "postgresql":
            with self._database.engine.begin() as conn:
                conn.execute(sa.text("ANALYZE rag_documents, rag_chunks"))
        vectors = [c.vector for d in documents if d.reembed for c in d.chunks]
        return Written(
            counts=counts,
            collection_id=collection_id,
            generation_before=before,
            generation=before + 1,
            added_ids=np.asarray(added, dtype=np.int64),
            added_vectors=np.asarray(vectors, dtype=np.float32),
            removed_ids=removed,
        )

    @staticmethod
    def _document_rows(s: Session, collection_id: int, ids: list[str]) -> dict[str, RagDocument]:
        rows: dict[str, RagDocument] = {}
        for start in range(0, len(ids), 500):
            found = s.scalars(
                sa.select(RagDocument).where(
                    RagDocument.collection_id == collection_id,
                    RagDocument.external_id.in_(ids[start : start + 500]),
                )
            )
            rows.update((row.external_id, row) for row in found)
        return rows

    def _collection_for_write(
        self, s: Session, company_id: str, name: str, model_id: str
    ) -> RagCollection:
        if s.get(Company, company_id) is None:
            raise NotFoundError(f"unknown company {company_id!r}")
        collection = s.scalar(
            sa.select(RagCollection)
            .where(RagCollection.company_id == company_id, RagCollection.name == name)
            .with_for_update()
        )
        if collection is None:
            collection = RagCollection(company_id=company_id, name=name, model=model_id)
            collection.generation = 0
            s.add(collection)
            s.flush()
        elif collection.model != model_id:
            raise ModelMismatchError(mismatch_message(company_id, name, collection.model, model_id))
        return collection

    # --- rankings ------------------------------------------------------------------------

    def _documents_matching(self, collection_id: int, filters: Mapping[str, Any]) -> Any:
        return sa.select(RagDocument.id).where(
            RagDocument.collection_id == collection_id, *_filter_clause(filters)
        )

    def keyword_ranking(
        self, collection_id: int, terms: Sequence[str], filters: Mapping[str, Any], limit: int
    ) -> list[tuple[int, float]]:
        """``(chunk id, score)`` best first: BM25 on SQLite, ``ts_rank_cd`` on PostgreSQL."""
        words = [w for t in terms for w in t.split("_") if w][:MAX_TERMS]
        if not words:
            return []
        if self._database.dialect == "sqlite":  # FTS5 table: migration 0013
            match = " OR ".join(f'"{w}"' for w in words)
            first = self._fts_first(collection_id, match, filters, limit)
            if first is not None:
                return first
            score: Any = sa.literal_column("bm25(rag_chunks_fts)")
            fts = sa.table("rag_chunks_fts", sa.column("rowid"))
            query = (
                sa.select(RagChunk.id, (-score).label("score"))
                .join(fts, fts.c.rowid == RagChunk.id)
                .where(sa.text("rag_chunks_fts MATCH :match").bindparams(match=match))
            )
        else:
            vector = _PG_VECTOR
            tsquery = sa.func.to_tsquery(_PG_CONFIG, " | ".join(words))
            score = sa.func.ts_rank_cd(vector, tsquery)
            query = sa.select(RagChunk.id, score.label("score")).where(vector.op("@@")(tsquery))
        query = query.where(RagChunk.collection_id == collection_id)
        if filters:
            query = query.where(
                RagChunk.document_id.in_(self._documents_matching(collection_id, filters))
            )
        query = query.order_by(sa.desc("score"), RagChunk.id).limit(limit)
        with self._database.session() as s:
            return [(int(i), float(v)) for i, v in s.execute(query)]

    def _fts_first(
        self, collection_id: int, match: str, filters: Mapping[str, Any], limit: int
    ) -> list[tuple[int, float]] | None:
        """The best ``limit`` from FTS5 alone, or ``None`` when that cannot be known.

        The FTS5 table spans every collection. Ranking in it alone and keeping this
        collection's chunks afterwards halves the time of a join (which looks up every match):
        if the first ``FTS_OVERFETCH * limit`` matches hold ``limit`` of this collection's,
        or are all there are, they are the answer; otherwise (other collections crowd them
        out) the caller runs the join.
        """
        wanted = FTS_OVERFETCH * limit
        with self._database.session() as s:
            ranked = s.execute(
                sa.text(
                    "SELECT rowid, -rank FROM rag_chunks_fts WHERE rag_chunks_fts MATCH :match "
                    "ORDER BY rank, rowid LIMIT :wanted"
                ),
                {"match": match, "wanted": wanted},
            ).all()
            if not ranked:
                return []
            query = sa.select(RagChunk.id).where(
                RagChunk.collection_id == collection_id,
                RagChunk.id.in_([int(r[0]) for r in ranked]),
            )
            if filters:
                query = query.where(
                    RagChunk.document_id.in_(self._documents_matching(collection_id, filters))
                )
            mine = set(s.scalars(query))
        kept = [(int(i), float(v)) for i, v in ranked if i in mine][:limit]
        if len(kept) == limit or len(ranked) < wanted:
            return kept
        return None

    def matrix(self, collection: RagCollection) -> Matrix:
        """The collection's vectors (cached in memory until the collection changes)."""
        cached = self._matrices.get(collection.id)
        if cached is not None and cached.generation == collection.generation:
            return cached
        with self._database.session() as s:
            rows = s.execute(
                sa.select(RagChunk.id, RagChunk.embedding)
                .where(RagChunk.collection_id == collection.id)
                .order_by(RagChunk.id)
            ).all()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        if rows:
            blob = b"".join(r[1] for r in rows)
            vectors = np.frombuffer(blob, dtype="<f4").reshape(len(rows), -1)
        else:
            vectors = np.zeros((0, 0), dtype=np.float32)
        matrix = Matrix(generation=collection.generation, chunk_ids=ids, vectors=vectors)
        with self._lock:
            self._matrices[collection.id] = matrix
        return matrix

    def count_chunks(self, collection_id: int) -> int:
        """How many chunks the collection holds."""
        with self._database.session() as s:
            return int(
                s.scalar(
                    sa.select(sa.func.count(RagChunk.id)).where(
                        RagChunk.collection_id == collection_id
                    )
                )
                or 0
            )

    def chunk_ids_matching(self, collection_id: int, filters: Mapping[str, Any]) -> set[int]:
        """Ids of the chunks whose documents match ``filters``."""
        with self._database.session() as s:
            return set(
                s.scalars(
                    sa.select(RagChunk.id).where(
                        RagChunk.collection_id == collection_id,
                        RagChunk.document_id.in_(self._documents_matching(collection_id, filters)),
                    )
                )
            )

    def passages(self, chunk_ids: Sequence[int]) -> dict[int, Passage]:
        """The chunks ``chunk_ids`` with their documents."""
        with self._database.session() as s:
            rows = s.execute(
                sa.select(
                    RagChunk.id,
                    RagDocument.external_id,
                    RagChunk.ordinal,
                    RagChunk.text,
                    RagDocument.meta,
                    RagDocument.source,
                )
                .join(RagDocument, RagDocument.id == RagChunk.document_id)
                .where(RagChunk.id.in_(list(chunk_ids)))
            ).all()
        return {
            r[0]: Passage(
                chunk_id=r[0], document_id=r[1], ordinal=r[2], text=r[3], metadata=r[4], source=r[5]
            )
            for r in rows
        }

    # --- re-embedding --------------------------------------------------------------------

    def pending(self, collection_id: int, target: str, limit: int) -> list[tuple[int, str]]:
        """Chunks not yet embedded with ``target``: ``(id, text)``, oldest first."""
        with self._database.session() as s:
            rows = s.execute(
                sa.select(RagChunk.id, RagChunk.text)
                .where(
                    RagChunk.collection_id == collection_id,
                    sa.or_(RagChunk.next_model.is_(None), RagChunk.next_model != target),
                )
                .order_by(RagChunk.id)
                .limit(limit)
            ).all()
        return [(int(i), str(t)) for i, t in rows]

    def count_pending(self, collection_id: int, target: str) -> int:
        """How many chunks still need a ``target`` vector."""
        with self._database.session() as s:
            return int(
                s.scalar(
                    sa.select(sa.func.count(RagChunk.id)).where(
                        RagChunk.collection_id == collection_id,
                        sa.or_(RagChunk.next_model.is_(None), RagChunk.next_model != target),
                    )
                )
                or 0
            )

    def store_next(
        self, chunk_ids: Sequence[int], vectors: NDArray[np.float32], target: str
    ) -> None:
        """Keep ``target`` vectors beside the current ones (committed: an update resumes)."""
        with self._database.session() as s:
            s.execute(
                sa.update(RagChunk),
                [
                    {"id": i, "next_model": target, "next_embedding": _vector_bytes(v)}
                    for i, v in zip(chunk_ids, vectors, strict=True)
                ],
            )

    def switch_model(self, collection_id: int, target: str) -> bool:
        """Make ``target`` the collection's model if every chunk has its vector (atomic)."""
        with self._database.session(immediate=True) as s:
            collection = s.get(RagCollection, collection_id, with_for_update=True)
            if collection is None:
                return False
            missing = s.scalar(
                sa.select(sa.func.count(RagChunk.id)).where(
                    RagChunk.collection_id == collection_id,
                    sa.or_(RagChunk.next_model.is_(None), RagChunk.next_model != target),
                )
            )
            if missing:
                return False
            s.execute(
                sa.update(RagChunk)
                .where(RagChunk.collection_id == collection_id)
                .values(
                    model=RagChunk.next_model,
                    embedding=RagChunk.next_embedding,
                    next_model=None,
                    next_embedding=None,
                )
            )
            collection.model = target
            collection.generation += 1
            collection.updated_at = utcnow()
        return True


def mismatch_message(company_id: str, name: str, stored: str, asked: str) -> str:
    """The refusal when vectors of two models would meet."""
    return (
        f"collection {name!r} of company {company_id!r} holds vectors of embedding model "
        f"{stored!r}, not {asked!r}: vectors of different models cannot be compared. Re-embed "
        f"it with update_embeddings(model={asked!r}), or set MASTERAI_RAG__EMBEDDING_MODEL="
        f"{stored!r}; keyword search (mode='keyword') works meanwhile"
    )
