"""Retrieval (RAG): a company's collections, their documents and embedded chunks.

A chunk keeps the id of the model that made its vector (``model``), so vectors of two models
are never compared. While ``update_embeddings`` re-embeds a collection, new vectors go to
``next_embedding``/``next_model`` and replace the old ones in one transaction at the end:
searches see one model throughout, and an interrupted update resumes where it stopped.

Keyword search reads ``rag_chunks_fts`` (an FTS5 table kept in step by triggers, migration
0013) on SQLite, and on PostgreSQL the generated column ``text_tsv``
(``to_tsvector('english', text)``) with its GIN index (migration 0015), not modelled here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from masterai.store.models.base import Base, json_object, timestamp_now


class RagCollection(Base):
    """A named set of documents of one company, embedded with one model."""

    __tablename__ = "rag_collections"
    __table_args__ = (UniqueConstraint("company_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    company_id: Mapped[str] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    model: Mapped[str] = mapped_column(String(256), nullable=False)
    """Id of the embedding model of every vector searched in this collection."""
    generation: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    """Bumped by every change of the chunks (in-memory vector matrices are keyed by it)."""
    created_at: Mapped[datetime] = timestamp_now()
    updated_at: Mapped[datetime] = timestamp_now()


class RagDocument(Base):
    """One indexed document: its caller-given id, metadata and content hash."""

    __tablename__ = "rag_documents"
    __table_args__ = (UniqueConstraint("collection_id", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("rag_collections.id", ondelete="CASCADE"), nullable=False, index=True
    )
    external_id: Mapped[str] = mapped_column(String(512), nullable=False)
    """The document's ``id`` as given (or the workspace path of a file)."""
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    """SHA-256 of the text and the chunking settings: unchanged documents are skipped."""
    meta: Mapped[dict[str, Any]] = json_object()
    source: Mapped[str | None] = mapped_column(String(1024))
    """The workspace path the text was read from, if any."""
    created_at: Mapped[datetime] = timestamp_now()
    updated_at: Mapped[datetime] = timestamp_now()


class RagChunk(Base):
    """A passage of a document with its vector (float32 bytes)."""

    __tablename__ = "rag_chunks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(
        ForeignKey("rag_collections.id", ondelete="CASCADE"), nullable=False, index=True
    )
    document_id: Mapped[int] = mapped_column(
        ForeignKey("rag_documents.id", ondelete="CASCADE"), nullable=False, index=True
    )
    ordinal: Mapped[int] = mapped_column(Integer, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    tokens: Mapped[int] = mapped_column(Integer, nullable=False)
    model: Mapped[str] = mapped_column(String(256), nullable=False)
    embedding: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    next_model: Mapped[str | None] = mapped_column(String(256))
    """Set while ``update_embeddings`` moves the collection to another model."""
    next_embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
