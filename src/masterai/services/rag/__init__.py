"""Retrieval over a company's documents (RAG): chunking, embedders, storage, hybrid search.

Public entry points: :class:`RagService` (index, search, update_embeddings),
:func:`build_embedder` and the :class:`Embedder` protocol. See ``docs/rag.md``.

Errors::

    ServiceError
    ├── InvalidInputError         bad documents, filters, names, query
    ├── NotFoundError             unknown company or collection
    ├── ConflictError
    │   └── ModelMismatchError    the collection's vectors come from another model
    └── EmbeddingError            the embedder failed
"""

from masterai.services.rag.chunking import (
    TEXT_SUFFIXES,
    Chunk,
    check_file_type,
    chunk_text,
    file_text,
)
from masterai.services.rag.embedders import (
    LOCAL_HASHING,
    Embedder,
    EmbeddingError,
    HashingEmbedder,
    ProviderEmbedder,
    build_embedder,
)
from masterai.services.rag.minilm import LOCAL_MINILM, MiniLMEmbedder
from masterai.services.rag.service import (
    DEFAULT_COLLECTION,
    RRF_K,
    ContextSetting,
    RagService,
    RetrievedContext,
    SearchMode,
    SourceDocument,
    check_filters,
    collection_name,
    context_setting,
    document_from_json,
)
from masterai.services.rag.store import ModelMismatchError

__all__ = [
    "DEFAULT_COLLECTION",
    "LOCAL_HASHING",
    "LOCAL_MINILM",
    "RRF_K",
    "TEXT_SUFFIXES",
    "Chunk",
    "ContextSetting",
    "Embedder",
    "EmbeddingError",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "ModelMismatchError",
    "ProviderEmbedder",
    "RagService",
    "RetrievedContext",
    "SearchMode",
    "SourceDocument",
    "build_embedder",
    "check_file_type",
    "check_filters",
    "chunk_text",
    "collection_name",
    "context_setting",
    "document_from_json",
    "file_text",
]
