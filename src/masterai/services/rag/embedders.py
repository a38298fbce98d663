"""Embedders: text to unit vectors. The :class:`Embedder` protocol and its implementations.

- :class:`HashingEmbedder` (``local:hashing``): deterministic, offline, no model download.
  Words (lower-cased, crudely stemmed, common English stop words dropped), adjacent word
  pairs and character trigrams of each word are hashed (CRC-32) into a fixed number of
  signed buckets, weighted by ``1 + log(count)`` and L2-normalised. It is a *lexical* vector:
  it matches shared words, word forms and spelling variants, not meaning; synonyms with no
  letters in common ("refund" / "money back") do not meet. Use a provider model for semantics.
- :class:`~masterai.services.rag.minilm.MiniLMEmbedder` (``local:all-MiniLM-L6-v2``): a
  sentence-embedding model run offline with numpy (see ``minilm.py``); semantic, slower.
- :class:`ProviderEmbedder` (``provider:model[@base_url]``): an OpenAI-compatible
  ``/embeddings`` endpoint through the official SDK, its HTTP client from the egress guard,
  credentials only for the endpoint the operator configured (as for chat models).

Errors::

    ServiceError
    └── EmbeddingError        the embedder could not embed (provider failure, bad answer)
"""

from __future__ import annotations

import math
import os
import re
import zlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

from masterai.llm.errors import LLMConfigurationError
from masterai.llm.selection import parse_model_spec, resolve_endpoint
from masterai.security.egress import EgressPolicy, EgressSettingsError
from masterai.services.errors import InvalidInputError, ServiceError
from masterai.services.rag.chunking import STOP_WORDS
from masterai.services.rag.minilm import LOCAL_MINILM, MiniLMEmbedder

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from masterai.settings import Settings

    Vectors = NDArray[np.float32]

LOCAL_HASHING = "local:hashing"
_WORD = re.compile(r"\w+")
_SUFFIXES = ("ingly", "ing", "edly", "ed", "ies", "es", "ly", "s")
_MEMO_LIMIT = 1_000_000


class EmbeddingError(ServiceError):
    """The embedder could not embed the texts."""


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of one model."""

    model_id: str
    """Stored with every vector; vectors of different ids are never compared."""

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """One row per text, each of unit length (a zero row for a text with no features)."""
        ...

    async def aclose(self) -> None:
        """Release the embedder's resources (HTTP clients)."""
        ...


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


class HashingEmbedder:
    """Hashed word, word-pair and character-trigram features (see the module docstring).

    Args:
        dimension: the vector size (more buckets, fewer collisions).
    """

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension
        self.model_id = f"{LOCAL_HASHING}-v1/{dimension}"
        self._memo: dict[str, tuple[int, float]] = {}

    def _bucket(self, feature: str) -> tuple[int, float]:
        found = self._memo.get(feature)
        if found is None:
            h = zlib.crc32(feature.encode())
            found = (h % self.dimension, 1.0 if h & 0x80000000 else -1.0)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[feature] = found
        return found

    @staticmethod
    def features(text: str) -> dict[str, float]:
        """The weighted features of ``text`` before hashing (for inspection and tests)."""
        words = [_stem(w) for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]
        counts: dict[str, float] = {}
        for i, word in enumerate(words):
            counts["w:" + word] = counts.get("w:" + word, 0.0) + 1.0
            if i:
                pair = f"p:{words[i - 1]} {word}"
                counts[pair] = counts.get(pair, 0.0) + 0.5
            padded = f"<{word}>"
            for j in range(len(padded) - 2):
                gram = "c:" + padded[j : j + 3]
                counts[gram] = counts.get(gram, 0.0) + 0.25
        return counts

    def embed_sync(self, texts: Sequence[str]) -> Vectors:
        """:meth:`embed` without the event loop (benchmarks, threads)."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            vector = out[row]
            for feature, weight in self.features(text).items():
                index, sign = self._bucket(feature)
                vector[index] += sign * (1.0 + math.log(weight) if weight > 1 else weight)
        return _normalised(out)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Hash ``texts`` (pure computation, no I/O)."""
        return self.embed_sync(texts)

    async def aclose(self) -> None:
        """Nothing to release."""


def _normalised(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: Vectors = (vectors / norms).astype(np.float32, copy=False)
    return normalised


class ProviderEmbedder:
    """Embeddings from an OpenAI-compatible ``/embeddings`` endpoint.

    Args:
        settings: the settings (keys, ``egress``).
        spec: ``provider:model[@base_url]`` (providers openai, ollama, vllm, llamacpp).
        allowed_hosts: the caller's allowed domains for a ``@base_url`` the operator did not
            configure (``None``: not limited by a principal).
        operator_chosen: ``spec`` comes from the settings, not from a call.

    Raises:
        InvalidInputError: a malformed spec, a provider without an embeddings API, a missing
            key, a host not allowed.
    """

    def __init__(
        self,
        settings: Settings,
        spec: str,
        *,
        allowed_hosts: Iterable[str] | None = None,
        operator_chosen: bool = False,
    ) -> None:
        try:
            parsed = parse_model_spec(spec)
            if parsed.provider in ("anthropic", "scripted"):
                raise InvalidInputError(
                    f"{parsed.provider!r} has no embeddings API; use local:hashing, "
                    f"{LOCAL_MINILM} or an "
                    "OpenAI-compatible provider (openai, ollama, vllm, llamacpp)"
                )
            endpoint = resolve_endpoint(
                parsed, settings, os.environ, operator_chosen=operator_chosen
            )
            base = [endpoint.base_url]
            if endpoint.trusted:
                egress = EgressPolicy.from_settings(
                    settings.egress, trusted=base, credentials_for=base if endpoint.api_key else []
                )
            else:
                hosts = None if allowed_hosts is None else frozenset(allowed_hosts)
                egress = EgressPolicy.from_settings(
                    settings.egress, allowed_hosts=hosts, credentials_for=[]
                )
        except (LLMConfigurationError, EgressSettingsError) as e:
            raise InvalidInputError(f"embedding model {spec!r}: {e}") from e
        from masterai.llm.providers import OpenAICompatibleProvider

        self._provider = OpenAICompatibleProvider(
            name=parsed.provider,
            api_key=endpoint.api_key,
            base_url=endpoint.base_url,
            timeout=settings.llm.timeout,
            egress=egress,
        )
        self._model = parsed.model
        self.model_id = f"{parsed.provider}:{parsed.model}"

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """One ``/embeddings`` request for ``texts``."""
        import openai

        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        try:
            answer = await self._provider.client.embeddings.create(
                model=self._model, input=list(texts), encoding_format="float"
            )
        except openai.OpenAIError as e:
            raise EmbeddingError(f"embedding model {self.model_id!r} failed: {e}") from e
        rows = sorted(answer.data, key=lambda d: d.index)
        if len(rows) != len(texts) or len({len(r.embedding) for r in rows}) != 1:
            raise EmbeddingError(
                f"embedding model {self.model_id!r} answered {len(rows)} vectors of mixed or "
                f"missing sizes for {len(texts)} texts"
            )
        return _normalised(np.asarray([r.embedding for r in rows], dtype=np.float32))

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._provider.aclose()


def build_embedder(
    settings: Settings,
    spec: str | None = None,
    *,
    allowed_hosts: Iterable[str] | None = None,
) -> Embedder:
    """The embedder named by ``spec`` (default: ``rag.embedding_model`` of the settings)."""
    text = (spec or settings.rag.embedding_model).strip()
    if text == LOCAL_HASHING or text.startswith(LOCAL_HASHING + "-v1/"):
        _, _, size = text.partition("/")
        return HashingEmbedder(int(size) if size.isdigit() else settings.rag.dimension)
    if text == LOCAL_MINILM:
        return MiniLMEmbedder()
    return ProviderEmbedder(
        settings, text, allowed_hosts=allowed_hosts, operator_chosen=spec is None
    )
