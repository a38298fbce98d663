"""``import_conversations``: load conversations and messages from JSONL or CSV files or text.

:func:`import_conversations` reads a file; :func:`import_conversations_text` takes the text
itself (what a client sends through the registry). Both go through one code path.

Formats (documented with examples in docs/analytics.md):

- **JSONL**: one conversation per line, with its messages in a ``messages`` list.
- **CSV**: one message per row; conversation columns repeat on each row of a conversation
  (the first row of a conversation supplies them), ``message_model`` is the message's model.

Every line is validated first. Bad lines are reported with their line numbers, one error
per line; unless ``skip_bad`` is set, nothing is written when any line is bad. Otherwise the
conversations of bad lines are skipped and the rest is written. Everything is written in one
transaction, with the new messages queued for the realtime monitors (docs/alerts.md).

What a line must satisfy (docs/analytics.md, "Import rules"): company ids by the rule of
``company add`` (:func:`masterai.security.directory.is_company_id`), numbers finite and within
their columns (:data:`MAX_INT`, :data:`MAX_COST_USD`), timestamps within the days analytics
supports (``FIRST_DAY``..``LAST_DAY`` of :mod:`masterai.services.analytics.scope`),
``seq`` unique within a conversation, and the CSV rows of one conversation naming one company.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from masterai.security.directory import COMPANY_ID_RULE, is_company_id
from masterai.services.alerts.queue import enqueue_conversations
from masterai.services.analytics.scope import FIRST_DAY, LAST_DAY
from masterai.services.errors import InvalidInputError
from masterai.store import Database
from masterai.store.models import Company, Conversation, Message

MAX_ERRORS_SHOWN = 20
FORMATS = ("jsonl", "csv")
Progress = Callable[[int, int], None]
"""``progress(done, total)`` in conversations."""
MayWrite = Callable[[str], bool]
"""``may_write(company_id)``: whether the importing user may add data to that company."""


MAX_INT = 2**31 - 1
"""The largest value of an integer column (PostgreSQL ``integer``)."""
MAX_COST_USD = 1_000_000.0
"""The largest cost of one message (sums of costs stay finite)."""


def _utc(value: datetime | None) -> datetime | None:
    """``value`` in UTC (naive: read as UTC), refused outside the supported days."""
    if value is None:
        return None
    supported = f"the supported range {FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}"
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 has no UTC form
        raise ValueError(f"{value.isoformat()} is outside {supported}") from None
    if not FIRST_DAY <= utc.date() <= LAST_DAY:
        raise ValueError(f"{utc.date().isoformat()} is outside {supported}")
    return utc


class MessageIn(BaseModel):
    """One message of an imported conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant", "system", "tool"]
    content: str
    created_at: datetime
    seq: int | None = Field(default=None, ge=0, le=MAX_INT)
    latency_ms: int | None = Field(default=None, ge=0, le=MAX_INT)
    prompt_tokens: int = Field(default=0, ge=0, le=MAX_INT)
    completion_tokens: int = Field(default=0, ge=0, le=MAX_INT)
    cost_usd: float = Field(default=0.0, ge=0, le=MAX_COST_USD, allow_inf_nan=False)
    model: str | None = None
    is_fallback: bool = False
    error: str | None = None

    @field_validator("created_at")
    @classmethod
    def _created_utc(cls, value: datetime) -> datetime:
        utc = _utc(value)
        assert utc is not None
        return utc


class ConversationIn(BaseModel):
    """One imported conversation (naive timestamps are read as UTC)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    company_id: str
    """A company id by the rule of ``company add`` (lowercase, no whitespace or wildcards)."""
    started_at: datetime | None = None
    """Default: the first message's time."""
    ended_at: datetime | None = None
    channel: str | None = None
    model: str | None = None
    config_version: int | None = Field(default=None, ge=1, le=MAX_INT)
    resolved: bool = False
    escalated: bool = False
    satisfaction: int | None = Field(default=None, ge=1, le=5)
    user_ref: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    messages: list[MessageIn] = Field(default_factory=list)

    @field_validator("company_id")
    @classmethod
    def _company(cls, value: str) -> str:
        if not is_company_id(value):
            raise ValueError(f"not a valid company id: use {COMPANY_ID_RULE}")
        return value

    @field_validator("started_at", "ended_at")
    @classmethod
    def _times_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)

    def ordered_messages(self) -> list[tuple[int, MessageIn]]:
        """``(seq, message)`` as stored: by ``seq``, else by position."""
        ordered = sorted(
            enumerate(self.messages), key=lambda p: p[1].seq if p[1].seq is not None else p[0]
        )
        return [(m.seq if m.seq is not None else i, m) for i, (_, m) in enumerate(ordered)]


@dataclass(frozen=True, kw_only=True)
class BadLine:
    """A line that could not be imported."""

    line: int
    message: str


@dataclass(frozen=True, kw_only=True)
class ImportReport:
    """What ``import_conversations`` did."""

    conversations: int
    messages: int
    skipped: list[BadLine] = field(default_factory=list)
    created_companies: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "conversations": self.conversations,
            "messages": self.messages,
            "skipped": [b.__dict__ for b in self.skipped],
            "created_companies": self.created_companies,
        }


class ImportFileError(InvalidInputError):
    """The file has bad lines (and ``skip_bad`` was not set); nothing was imported."""

    def __init__(self, source: Path | str, bad: list[BadLine]) -> None:
        shown = "\n".join(f"  line {b.line}: {b.message}" for b in bad[:MAX_ERRORS_SHOWN])
        more = (
            f"\n  ... and {len(bad) - MAX_ERRORS_SHOWN} more" if len(bad) > MAX_ERRORS_SHOWN else ""
        )
        super().__init__(
            f"{source}: {len(bad)} bad line(s); nothing was imported (use --skip-bad, or "
            f"skip_bad, to import the good ones):\n{shown}{more}"
        )
        self.bad = bad


def _explain(errors: list[Any]) -> str:
    parts = []
    for item in errors[:3]:
        where = ".".join(str(p) for p in item["loc"]) or "line"
        parts.append(f"{where}: {item['msg']} (got {item.get('input')!r})"[:300])
    return "; ".join(parts)


def _bad_lines(error: ValidationError, numbers: list[int]) -> list[BadLine]:
    """One bad line per line with errors: a message's own CSV row, else the first line."""
    by_line: dict[int, list[Any]] = {}
    for item in error.errors():
        loc = item["loc"]
        line = numbers[0]
        if len(loc) > 1 and loc[0] == "messages" and isinstance(loc[1], int):
            line = numbers[loc[1]] if loc[1] < len(numbers) else numbers[0]
        by_line.setdefault(line, []).append(item)
    return [BadLine(line=line, message=_explain(items)) for line, items in by_line.items()]


Lines = Iterable[str]
"""The text being imported, line by line (an open file or a ``StringIO``, ``newline=""``)."""


class _NotFinite(ValueError):
    """``NaN`` or ``Infinity`` in a line (Python's JSON reader accepts them)."""


def _refuse_constant(name: str) -> Any:
    raise _NotFinite(f"{name} is not a number JSON allows (numbers must be finite)")


def _read_jsonl(lines: Lines, source: str) -> Iterator[tuple[list[int], dict[str, Any] | BadLine]]:
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_constant=_refuse_constant)
        except json.JSONDecodeError as e:
            yield [number], BadLine(line=number, message=f"not valid JSON: {e.msg}")
            continue
        except _NotFinite as e:
            yield [number], BadLine(line=number, message=f"not valid JSON: {e}")
            continue
        except ValueError:  # Python refuses integers of more than 4300 digits
            yield [number], BadLine(line=number, message="a number has too many digits")
            continue
        except RecursionError:
            yield [number], BadLine(line=number, message="not valid JSON: nested too deeply")
            continue
        if not isinstance(value, dict):
            yield [number], BadLine(line=number, message="expected a JSON object")
            continue
        yield [number], value


_CONVERSATION_COLUMNS = (
    "company_id", "started_at", "ended_at", "channel", "model", "config_version", "resolved",
    "escalated", "satisfaction", "user_ref",
)  # fmt: skip
_MESSAGE_COLUMNS = (
    "role", "content", "created_at", "seq", "latency_ms", "prompt_tokens", "completion_tokens",
    "cost_usd", "is_fallback", "error",
)  # fmt: skip


def _read_csv(lines: Lines, source: str) -> Iterator[tuple[list[int], dict[str, Any] | BadLine]]:
    """Group message rows into conversations (line numbers of all their rows kept)."""
    groups: dict[str, tuple[list[int], dict[str, Any]]] = {}
    reader = csv.DictReader(lines)
    required = {"conversation_id", "company_id", "role", "content", "created_at"}
    missing = required - set(reader.fieldnames or [])
    if missing:
        raise InvalidInputError(
            f"{source}: missing CSV column(s) {', '.join(sorted(missing))}; required: "
            f"{', '.join(sorted(required))}"
        )
    companies: dict[str, str] = {}
    refused: set[str] = set()
    for row in reader:
        number = reader.line_num
        cid = (row.get("conversation_id") or "").strip()
        if not cid:
            yield [number], BadLine(line=number, message="conversation_id is empty")
            continue
        company = row.get("company_id") or ""
        if cid not in groups:
            conv = {k: row[k] for k in _CONVERSATION_COLUMNS if row.get(k) not in (None, "")}
            groups[cid] = ([], {"id": cid, **conv, "messages": []})
            companies[cid] = company
        numbers, conv = groups[cid]
        if company != companies[cid]:
            # Rows of one conversation naming another company are never merged.
            refused.add(cid)
            message = (
                f"conversation {cid!r} names company {company!r} here but "
                f"{companies[cid]!r} on line {numbers[0]}; the rows of one conversation "
                "must agree on the company"
            )
            yield [number], BadLine(line=number, message=message)
            continue
        numbers.append(number)
        message_row = {k: row[k] for k in _MESSAGE_COLUMNS if row.get(k) not in (None, "")}
        if row.get("message_model"):
            message_row["model"] = row["message_model"]
        conv["messages"].append(message_row)
    yield from (group for cid, group in groups.items() if cid not in refused)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _repeated_seq(conv: ConversationIn) -> int | None:
    """A ``seq`` two messages would share (the store keeps one message per seq)."""
    seen: set[int] = set()
    for seq, _ in conv.ordered_messages():
        if seq in seen:
            return seq
        seen.add(seq)
    return None


def _parse(
    lines: Lines, source: str, fmt: str
) -> tuple[list[tuple[list[int], ConversationIn]], list[BadLine]]:
    reader = _read_jsonl if fmt == "jsonl" else _read_csv
    good: list[tuple[list[int], ConversationIn]] = []
    bad: list[BadLine] = []
    seen: set[str] = set()
    for numbers, raw in reader(lines, source):
        if isinstance(raw, BadLine):
            bad.append(raw)
            continue
        if _has_nul(raw):
            # PostgreSQL cannot store NUL in text; analytics cannot query it either.
            bad.append(BadLine(line=numbers[0], message="contains a NUL character"))
            continue
        try:
            conv = ConversationIn.model_validate(raw)
        except ValidationError as e:
            bad.extend(_bad_lines(e, numbers))
            continue
        repeated = _repeated_seq(conv)
        if repeated is not None:
            message = f"two messages of conversation {conv.id!r} have seq {repeated}"
            bad.append(BadLine(line=numbers[0], message=message))
            continue
        if conv.id in seen:
            bad.append(BadLine(line=numbers[0], message=f"duplicate conversation id {conv.id!r}"))
            continue
        if conv.started_at is None and not conv.messages:
            bad.append(BadLine(line=numbers[0], message="started_at missing and no messages"))
            continue
        seen.add(conv.id)
        good.append((numbers, conv))
    return good, bad


def detect_format(path: Path, fmt: str | None) -> str:
    """``jsonl`` or ``csv``: the given format, or the file's suffix."""
    chosen = fmt or {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}.get(path.suffix.lower())
    if chosen not in ("jsonl", "csv"):
        raise InvalidInputError(
            f"cannot tell the format of {str(path)!r} (suffix {path.suffix!r}); "
            "use a .jsonl or .csv file or give the format: jsonl, csv"
        )
    return chosen


def import_conversations(
    database: Database,
    path: Path,
    *,
    fmt: str | None = None,
    skip_bad: bool = False,
    create_companies: bool = False,
    progress: Progress | None = None,
    may_write: MayWrite | None = None,
    source: str | None = None,
) -> ImportReport:
    """Validate ``path`` and write its conversations and messages in one transaction.

    Args:
        database: Where to write.
        path: A ``.jsonl`` or ``.csv`` file (or any file, with ``fmt``).
        fmt: ``jsonl`` or ``csv`` (default: by the file's suffix).
        skip_bad: Import the good conversations and report the bad lines.
        create_companies: Create companies the data names that do not exist.
        progress: Called with conversations written so far.
        may_write: When given, conversations of companies it refuses are bad lines.
        source: How messages name the file (default: ``path``).

    Raises:
        ImportFileError: some lines are bad and ``skip_bad`` is false (nothing written).
        InvalidInputError: the file is missing, unreadable or of an unknown format.
    """
    fmt = detect_format(path, fmt)
    if not path.is_file():
        raise InvalidInputError(f"no such file: {source or str(path)!r}")
    with path.open(encoding="utf-8", newline="") as handle:
        return _import(
            database,
            handle,
            source=source or str(path),
            fmt=fmt,
            skip_bad=skip_bad,
            create_companies=create_companies,
            progress=progress,
            may_write=may_write,
        )


def import_conversations_text(
    database: Database,
    text: str,
    *,
    fmt: str,
    skip_bad: bool = False,
    create_companies: bool = False,
    progress: Progress | None = None,
    may_write: MayWrite | None = None,
    source: str = "content",
) -> ImportReport:
    """:func:`import_conversations` of ``text`` (the contents of a file) in format ``fmt``.

    Raises:
        ImportFileError: some lines are bad and ``skip_bad`` is false (nothing written).
        InvalidInputError: ``fmt`` is not ``jsonl`` or ``csv``; CSV columns are missing.
    """
    if fmt not in FORMATS:
        raise InvalidInputError(f"unknown import format {fmt!r}; allowed: {', '.join(FORMATS)}")
    return _import(
        database,
        io.StringIO(text, newline=""),
        source=source,
        fmt=fmt,
        skip_bad=skip_bad,
        create_companies=create_companies,
        progress=progress,
        may_write=may_write,
    )


def _import(
    database: Database,
    lines: Lines,
    *,
    source: str,
    fmt: str,
    skip_bad: bool,
    create_companies: bool,
    progress: Progress | None,
    may_write: MayWrite | None,
) -> ImportReport:
    try:
        good, bad = _parse(lines, source, fmt)
    except UnicodeDecodeError as e:
        raise InvalidInputError(f"{source}: not UTF-8 text ({e.reason})") from None
    created: list[str] = []
    with database.session(immediate=True) as session:
        good, more_bad, created = _check_against_store(session, good, create_companies, may_write)
        bad = sorted(bad + more_bad, key=lambda b: b.line)
        if bad and not skip_bad:
            raise ImportFileError(source, bad)
        for company in created:
            session.add(Company(id=company, name=company))
        session.flush()
        messages = _write(session, [conv for _, conv in good], progress)
        # Queued in the same transaction: the realtime monitors see exactly what was stored.
        enqueue_conversations(session, [conv.id for _, conv in good])
    return ImportReport(
        conversations=len(good), messages=messages, skipped=bad, created_companies=created
    )


def _check_against_store(
    session: Any,
    good: list[tuple[list[int], ConversationIn]],
    create_companies: bool,
    may_write: MayWrite | None = None,
) -> tuple[list[tuple[list[int], ConversationIn]], list[BadLine], list[str]]:
    denied: list[BadLine] = []
    if may_write is not None:
        good, denied = _without_refused(good, may_write)
    companies = {c.company_id for _, c in good}
    known = set(session.scalars(sa.select(Company.id).where(Company.id.in_(companies))))
    ids = [c.id for _, c in good]
    existing: set[str] = set()
    for start in range(0, len(ids), 5000):
        existing.update(
            session.scalars(
                sa.select(Conversation.id).where(Conversation.id.in_(ids[start : start + 5000]))
            )
        )
    kept, bad = [], []
    for lines, conv in good:
        if conv.id in existing:
            bad.append(BadLine(line=lines[0], message=f"conversation {conv.id!r} exists already"))
        elif conv.company_id not in known and not create_companies:
            bad.append(
                BadLine(
                    line=lines[0],
                    message=f"unknown company {conv.company_id!r} (add it first, or use "
                    "--create-companies)",
                )
            )
        else:
            kept.append((lines, conv))
    created = sorted({c.company_id for _, c in kept} - known)
    return kept, denied + bad, created


def _without_refused(
    good: list[tuple[list[int], ConversationIn]], may_write: MayWrite
) -> tuple[list[tuple[list[int], ConversationIn]], list[BadLine]]:
    """Split off the conversations of companies the importing user may not change.

    Checked before the store is read, so the report tells nothing about those companies
    (whether they, or the conversation ids, exist).
    """
    allowed = {c.company_id: may_write(c.company_id) for _, c in good}
    kept, denied = [], []
    for numbers, conv in good:
        if allowed[conv.company_id]:
            kept.append((numbers, conv))
        else:
            message = f"you may not add conversations to company {conv.company_id!r}"
            denied.append(BadLine(line=numbers[0], message=message))
    return kept, denied


def _write(session: Any, conversations: list[ConversationIn], progress: Progress | None) -> int:
    total = 0
    for start in range(0, len(conversations), 2000):
        chunk = conversations[start : start + 2000]
        conv_rows: list[dict[str, Any]] = []
        msg_rows: list[dict[str, Any]] = []
        for conv in chunk:
            ordered = conv.ordered_messages()
            first = ordered[0][1].created_at if ordered else None
            conv_rows.append(
                {
                    "id": conv.id,
                    "company_id": conv.company_id,
                    "config_version": conv.config_version,
                    "channel": conv.channel,
                    "model": conv.model,
                    "started_at": conv.started_at or first,
                    "ended_at": conv.ended_at,
                    "resolved": conv.resolved,
                    "escalated": conv.escalated,
                    "satisfaction": conv.satisfaction,
                    "user_ref": conv.user_ref,
                    "metadata_": conv.metadata,
                }
            )
            msg_rows.extend(
                {**m.model_dump(exclude={"seq"}), "conversation_id": conv.id, "seq": seq}
                for seq, m in ordered
            )
        session.execute(sa.insert(Conversation), conv_rows)
        if msg_rows:
            session.execute(sa.insert(Message), msg_rows)
        total += len(msg_rows)
        if progress is not None:
            progress(min(start + len(chunk), len(conversations)), len(conversations))
    return total
