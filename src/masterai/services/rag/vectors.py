"""Vector search over a collection: exact (numpy) when small, an HNSW index (usearch) when large.

A collection with at most ``exact_max_chunks`` chunks is searched exactly: one matrix-vector
product over its vectors. A larger one is searched through an approximate nearest-neighbour
index (HNSW, `usearch <https://github.com/unum-cloud/usearch>`_, half-precision vectors, inner
product on unit vectors = cosine), whose keys are the chunk ids. Each index is:

- cached in memory per process, tagged with the collection's ``generation`` and ``model``
  (every write bumps the generation, so a stale index is never used);
- persisted as ``<directory>/<company>/<collection>/<model digest>.g<generation>.usearch``, so
  another process (or a restart) loads it instead of rebuilding;
- kept in sync: :meth:`VectorIndexes.apply` adds the chunks a write inserted and removes the
  ones it replaced, then saves the index under the new generation. An index that was not in
  memory at the write is rebuilt from the stored vectors at the next search.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

CONNECTIVITY = 16
"""Graph edges per node (usearch's default): more is better recall, more memory."""
EXPANSION_ADD = 128
"""Candidates considered while inserting (build time against graph quality)."""
MIN_EXPANSION_SEARCH = 128
"""Candidates considered per search, at least; never fewer than twice the results asked."""


@dataclass(frozen=True, kw_only=True)
class IndexKey:
    """What an index belongs to: one company's collection, at one generation, of one model."""

    collection_id: int
    company_id: str
    name: str
    model: str
    generation: int


def _ranked(keys: Any, distances: Any) -> list[tuple[int, float]]:
    # usearch's "ip" distance is 1 - dot product.
    return [(int(k), 1.0 - float(d)) for k, d in zip(keys, distances, strict=True)]


class ApproximateIndex:
    """An HNSW index over one collection's vectors (thread-safe).

    Args:
        dimension: the vector size.
    """

    def __init__(self, dimension: int) -> None:
        from usearch.index import Index

        self.dimension = dimension
        self._index = Index(
            ndim=dimension,
            metric="ip",
            dtype="f32",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=MIN_EXPANSION_SEARCH,
        )
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._index)

    @classmethod
    def build(cls, chunk_ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> ApproximateIndex:
        """An index of ``vectors`` (row ``i`` is chunk ``chunk_ids[i]``)."""
        index = cls(int(vectors.shape[1]))
        index.add(chunk_ids, vectors)
        return index

    @classmethod
    def load(cls, path: Path, dimension: int) -> ApproximateIndex:
        """The index saved at ``path``."""
        index = cls(dimension)
        index._index.load(str(path))
        return index

    def save(self, path: Path) -> None:
        """Write the index to ``path`` atomically (a reader never sees half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        with self._lock:
            self._index.save(str(partial))
        os.replace(partial, path)

    def add(self, chunk_ids: NDArray[np.int64], vectors: NDArray[np.float32]) -> None:
        """Insert chunks (ids not yet in the index)."""
        if len(chunk_ids):
            with self._lock:
                # Two threads at most: the machine is shared with the request handlers.
                self._index.add(
                    np.asarray(chunk_ids, dtype=np.uint64),
                    np.ascontiguousarray(vectors, dtype=np.float32),
                    threads=2,
                )

    def remove(self, chunk_ids: Sequence[int]) -> None:
        """Drop chunks (ids not in the index are ignored)."""
        if chunk_ids:
            with self._lock:
                self._index.remove(np.asarray(chunk_ids, dtype=np.uint64))

    def search(self, query: NDArray[np.float32], count: int) -> list[tuple[int, float]]:
        """The ``count`` nearest chunks: ``(chunk id, cosine similarity)``, best first."""
        with self._lock:
            # The property has a setter; usearch's annotations declare it read-only.
            self._index.expansion_search = max(MIN_EXPANSION_SEARCH, 2 * count)  # type: ignore[misc]
            found = self._index.search(np.asarray(query, dtype=np.float32), count, threads=1)
        return _ranked(found.keys, found.distances)


Loader = Callable[[], tuple["NDArray[np.int64]", "NDArray[np.float32]"]]


class VectorIndexes:
    """The approximate indexes of one database's collections: cache, files, sync.

    Args:
        directory: where indexes are saved (``None``: memory only).
        exact_max_chunks: collections up to this size are searched exactly (no index).
    """

    def __init__(self, directory: Path | None, exact_max_chunks: int) -> None:
        self.directory = directory
        self.exact_max_chunks = exact_max_chunks
        self._lock = threading.Lock()
        self._cache: dict[int, tuple[IndexKey, ApproximateIndex | None]] = {}

    def _path(self, key: IndexKey) -> Path | None:
        if self.directory is None:
            return None
        digest = hashlib.sha256(key.model.encode()).hexdigest()[:16]
        return self.directory / key.company_id / key.name / f"{digest}.g{key.generation}.usearch"

    def cached(self, key: IndexKey) -> tuple[bool, ApproximateIndex | None]:
        """``(known, index)``: whether ``key`` is cached, and its index (``None``: exact)."""
        found = self._cache.get(key.collection_id)
        if found is not None and found[0] == key:
            return True, found[1]
        return False, None

    def get(
        self, key: IndexKey, count: int, dimension: int, load: Loader
    ) -> ApproximateIndex | None:
        """The index of ``key`` (``None`` when the collection is small enough for exact search).

        Loaded from its file when there is one, else built from ``load()`` (the stored vectors)
        and saved.
        """
        known, index = self.cached(key)
        if known:
            return index
        if count > self.exact_max_chunks:
            path = self._path(key)
            index = self._load(path, dimension)
            if index is None:
                index = ApproximateIndex.build(*load())
                if path is not None:
                    index.save(path)
                    self._drop_older(key, path)
        with self._lock:
            self._cache[key.collection_id] = (key, index)
        return index

    @staticmethod
    def _load(path: Path | None, dimension: int) -> ApproximateIndex | None:
        if path is None or not path.exists():
            return None
        try:
            return ApproximateIndex.load(path, dimension)
        except (OSError, RuntimeError, ValueError):
            return None  # removed meanwhile or unreadable: rebuilt from the database

    def apply(
        self,
        before: IndexKey,
        after: IndexKey,
        added: tuple[NDArray[np.int64], NDArray[np.float32]],
        removed: Sequence[int],
    ) -> None:
        """Carry a write into the cached index of ``before``, which becomes ``after``.

        Without a cached index at ``before`` nothing happens: the next search builds or
        loads one for ``after``.
        """
        known, index = self.cached(before)
        if not known:
            return
        if index is not None:
            index.remove(removed)
            index.add(*added)
            path = self._path(after)
            if path is not None:
                index.save(path)
                self._drop_older(after, path)
        elif len(added[0]):
            return  # the collection grew: the next search decides exact or index by size
        with self._lock:
            self._cache[after.collection_id] = (after, index)

    def _drop_older(self, key: IndexKey, keep: Path) -> None:
        """Remove the files of earlier generations of ``key``'s collection and model."""
        prefix = keep.name.split(".g", 1)[0] + ".g"
        for old in keep.parent.glob(prefix + "*.usearch"):
            if old != keep:
                with contextlib.suppress(OSError):
                    old.unlink()
