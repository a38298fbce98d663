"""Reading stored audit rows without trusting them.

Whoever can write to the database can store anything in ``audit_log``: text that is not
JSON in ``params``, a timestamp that is not one, bytes that are not UTF-8, NULL where a value
belongs. Loading such a row through the ORM raises in the middle of a query. Here every
row is fetched raw, each column is converted with its own column type (so a well-formed row
comes back exactly as the ORM would load it, and its hash recomputes), and what does not
convert or check out is named in the record's ``problems`` instead of raising. ``verify``
reports such a record as broken; ``tail`` and ``search`` show it marked.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import JSON, DateTime, LargeBinary, Select, String, Table, select, type_coerce
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import NullType, TypeDecorator

from masterai.audit.record import STATUSES
from masterai.store.models import AuditRecord

TABLE = cast(Table, AuditRecord.__table__)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_REQUIRED = {"id", "created_at", "tool", "params", "status", "duration_ms", "prev_hash", "hash"}
_OPTIONAL_TEXT = {
    "request_id",
    "user_name",
    "operation",
    "result_summary",
    "error",
    "client_address",
    "company_id",
}
_CONVERSION = {"created_at": "is not a timestamp", "params": "is not valid JSON"}

Processor = Callable[[Any], Any] | None


def _text_stored(column: Any) -> bool:
    kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
    return isinstance(kind, String | JSON | DateTime)


def _raw(column: Any, dialect: str) -> ColumnElement[Any]:
    # SQLite hands text columns to Python as str and fails the whole fetch on bytes that
    # are not UTF-8: read them as bytes and decode here instead.
    expression = (
        sql_cast(column, LargeBinary) if dialect == "sqlite" and _text_stored(column) else column
    )
    return type_coerce(expression, NullType()).label(column.name)


def select_raw(dialect: str) -> Select[Any]:
    """``SELECT`` of every ``audit_log`` column, unconverted (add filters and order)."""
    return select(*(_raw(c, dialect) for c in TABLE.c))


@dataclass(frozen=True, kw_only=True)
class Head:
    """The newest stored row, as far as the next record needs it."""

    id: int
    hash: str | None
    """None when the stored hash is malformed (the next record then links to ``""``)."""
    key_epoch: int | None


def _heads(dialect: str) -> Select[Any]:
    return select(*(_raw(TABLE.c[name], dialect) for name in ("id", "hash", "key_epoch")))


def _head(session: Session, query: Select[Any]) -> Head | None:
    row = session.execute(query).first()
    if row is None:
        return None
    raw_id, raw_hash, raw_epoch = row
    digest, _ = _convert("hash", raw_hash, None)
    ok = isinstance(digest, str) and _HEX64.fullmatch(digest) is not None
    return Head(
        id=raw_id if _is_int(raw_id) else 0,
        hash=digest if ok else None,
        key_epoch=raw_epoch if _is_int(raw_epoch) else None,
    )


def newest(session: Session, dialect: str) -> Head | None:
    """The newest row's id, hash and key epoch, read without trusting them (None: empty).

    A malformed id (possible only if the table was rebuilt without its key) reads as 0.
    """
    return _head(session, _heads(dialect).order_by(TABLE.c.id.desc()).limit(1))


def at(session: Session, dialect: str, record_id: int) -> Head | None:
    """Record ``record_id``'s id, hash and key epoch, read as :func:`newest` (None: absent)."""
    return _head(session, _heads(dialect).where(TABLE.c.id == record_id))


def describe(value: Any) -> str:
    """``value`` for a message about a stored row, clipped to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _processor(column: Any, dialect: Dialect, type_code: Any) -> Processor:
    try:
        return cast(
            Processor, column.type.dialect_impl(dialect).result_processor(dialect, type_code)
        )
    except Exception as e:  # a column whose type was changed in the database
        message = f"has an unexpected type ({e})"

        def refuse(value: Any) -> Any:
            raise ValueError(message)

        return refuse


def read(session: Session, query: Select[Any]) -> list[AuditRecord]:
    """Run ``query`` (built on :func:`select_raw`) and parse each row (see :func:`parse`)."""
    result = session.connection().execute(query)
    dialect = session.get_bind().dialect
    description = result.cursor.description if result.cursor is not None else None
    codes = [d[1] for d in description] if description else [None] * len(TABLE.c)
    processors = [_processor(c, dialect, code) for c, code in zip(TABLE.c, codes, strict=True)]
    return [parse(row, processors) for row in result.fetchall()]


def parse(values: Sequence[Any], processors: Sequence[Processor]) -> AuditRecord:
    """A record from one raw row; what is wrong with it goes to ``problems``."""
    fields: dict[str, Any] = {}
    problems: list[str] = []
    for column, raw, processor in zip(TABLE.c, values, processors, strict=True):
        value, problem = _convert(column.name, raw, processor)
        problem = problem or _check(column.name, value)
        if problem:
            problems.append(f"{column.name} {problem}")
            value = None
        fields[column.name] = value
    record = AuditRecord(**fields)
    record.problems = tuple(problems)
    return record


def _convert(name: str, raw: Any, processor: Processor) -> tuple[Any, str | None]:
    value = raw
    if isinstance(value, bytes | memoryview):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None, f"is not valid UTF-8 text: {describe(bytes(raw))}"
    if value is None or processor is None:
        return value, None
    try:
        return processor(value), None
    except Exception as e:
        reason = _CONVERSION.get(name, f"cannot be read ({type(e).__name__})")
        return None, f"{reason}: {describe(value)}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(name: str, value: Any) -> str | None:
    """What is wrong with a converted column value, or None."""
    if value is None:
        return "is NULL but must have a value" if name in _REQUIRED else None
    if name in ("id", "user_id", "token_id"):
        return None if _is_int(value) else f"is not an integer: {describe(value)}"
    if name == "key_epoch":
        return None if _is_int(value) and value >= 1 else f"is not an epoch: {describe(value)}"
    if name == "created_at":
        ok = isinstance(value, datetime) and value.tzinfo is not None
        return None if ok else f"is not a timestamp: {describe(value)}"
    if name == "duration_ms":
        number = (_is_int(value) or isinstance(value, float)) and math.isfinite(value)
        return None if number else f"is not a finite number: {describe(value)}"
    if name in ("hash", "prev_hash"):
        ok = isinstance(value, str) and _HEX64.fullmatch(value) is not None
        return None if ok else f"is not a 64-digit hex hash: {describe(value)}"
    if name == "status":
        return None if value in STATUSES else f"is not a known status: {describe(value)}"
    if name == "tool" or name in _OPTIONAL_TEXT:
        return None if isinstance(value, str) else f"is not text: {describe(value)}"
    if name == "company_ids":
        return _check_companies(value)
    if name == "params":
        return _check_json(value)
    return None


def _check_json(value: Any) -> str | None:
    # SQLite's JSON is text: Python's parser also takes NaN and Infinity, which the
    # canonical encoding (like JSON itself) refuses
    try:
        json.dumps(value, allow_nan=False)
    except (ValueError, TypeError, RecursionError) as e:
        return f"is not storable JSON ({e})"
    return None


def _check_companies(value: Any) -> str | None:
    try:
        ids = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        ids = None
    if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
        return None
    return f"is not a JSON list of company ids: {describe(value)}"
