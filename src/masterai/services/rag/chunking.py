r"""Cutting documents into overlapping passages, and reading workspace files as text.

"Tokens" here are words and punctuation marks (``\w+`` runs and single other characters):
a model-neutral stand-in for a tokenizer's pieces (an English word is about 1.3 BPE tokens).
A chunk is a slice of the original text, from its first token to its last, so snippets
quote the document exactly.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from masterai.services.errors import InvalidInputError

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SENTENCE_END = frozenset(".!?")
STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
    }
)
"""Common English words left out of vectors and of keyword queries (they match everything)."""
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".csv")
"""File types ``index_documents`` reads from the workspace (PDF needs ``pypdf``, absent)."""


@dataclass(frozen=True, kw_only=True)
class Chunk:
    """A passage of a document."""

    ordinal: int
    text: str
    tokens: int


def chunk_text(text: str, *, size: int, overlap: int) -> list[Chunk]:
    """``text`` cut into passages of at most ``size`` tokens sharing ``overlap`` tokens.

    A window ends after a sentence end in its last quarter when there is one, so passages
    rarely stop mid-sentence.

    Raises:
        InvalidInputError: ``overlap`` is not smaller than ``size``.
    """
    if overlap >= size:
        raise InvalidInputError(f"chunk overlap ({overlap}) must be smaller than size ({size})")
    spans = [m.span() for m in _TOKEN.finditer(text)]
    chunks: list[Chunk] = []
    start = 0
    while start < len(spans):
        end = min(start + size, len(spans))
        if end < len(spans):
            for i in range(end - 1, start + (3 * size) // 4, -1):
                if text[spans[i][0] : spans[i][1]] in _SENTENCE_END:
                    end = i + 1
                    break
        piece = text[spans[start][0] : spans[end - 1][1]]
        chunks.append(Chunk(ordinal=len(chunks), text=piece, tokens=end - start))
        if end >= len(spans):
            break
        start = max(end - overlap, start + 1)
    return chunks


class _HTMLText(HTMLParser):
    """Visible text of an HTML page (scripts and styles dropped)."""

    _SKIP = frozenset({"script", "style", "noscript", "template"})
    _BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _csv_text(text: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body:
        return ", ".join(header)
    # "column: value" lines keep each value next to its meaning for both searches.
    lines = ["; ".join(f"{h}: {v}" for h, v in zip(header, row, strict=False) if v) for row in body]
    return "\n".join(lines)


def check_file_type(path: str) -> None:
    """Refuse a file ``index_documents`` cannot read, before reading it.

    Raises:
        InvalidInputError: PDF (``pypdf`` is not installed) or another unsupported type.
    """
    lower = path.lower()
    if lower.endswith(".pdf"):
        raise InvalidInputError(
            f"cannot index {path!r}: PDF files need the pypdf package, which is not installed; "
            f"supported: {', '.join(TEXT_SUFFIXES)}"
        )
    if not lower.endswith(TEXT_SUFFIXES):
        raise InvalidInputError(
            f"cannot index {path!r}: unsupported file type; supported: {', '.join(TEXT_SUFFIXES)}"
        )


def file_text(path: str, data: bytes) -> str:
    """The indexable text of a workspace file, by its suffix.

    Raises:
        InvalidInputError: an unsupported type, or bytes that are not UTF-8 text.
    """
    check_file_type(path)
    lower = path.lower()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidInputError(f"cannot index {path!r}: not UTF-8 text ({e.reason})") from None
    if lower.endswith((".html", ".htm")):
        parser = _HTMLText()
        parser.feed(text)
        parser.close()
        text = re.sub(r"[ \t]+", " ", "".join(parser.parts))
        text = re.sub(r"\s*\n\s*", "\n", text).strip()
    elif lower.endswith(".csv"):
        text = _csv_text(text)
    return text


def query_terms(text: str) -> list[str]:
    """The distinct lower-cased words of a query, stop words left out unless that is all."""
    seen: dict[str, None] = {}
    for match in re.finditer(r"\w+", text.lower()):
        seen.setdefault(match.group(), None)
    content = [w for w in seen if w not in STOP_WORDS]
    return content or list(seen)


def snippet(text: str, terms: list[str], *, width: int = 240) -> str:
    """The ``width`` characters of ``text`` around the most query terms ("..." where cut)."""
    if len(text) <= width:
        return text
    lower = text.lower()
    positions = sorted(
        m.start() for t in terms if len(t) > 2 for m in re.finditer(re.escape(t), lower)
    )
    best, best_count = 0, -1
    for p in positions:
        count = sum(1 for q in positions if p <= q < p + width)
        if count > best_count:
            best, best_count = p, count
    start = max(0, min(best - width // 4, len(text) - width))
    piece = text[start : start + width].strip()
    return ("..." if start > 0 else "") + piece + ("..." if start + width < len(text) else "")
