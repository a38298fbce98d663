"""Which conversations an analysis covers: companies and a date range, validated once."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb

from masterai.security.directory import COMPANY_ID_RULE, is_company_id
from masterai.services.errors import InvalidInputError

MAX_DAYS = 3660
FIRST_DAY = date(1970, 1, 1)
"""The first day conversation data and analysis ranges may name."""
LAST_DAY = date(2099, 12, 31)
"""The last day conversation data and analysis ranges may name (a far-future date would make
daily series millions of days long)."""


def day_in_range(day: date, name: str) -> date:
    """``day`` when it is within the supported range (:data:`FIRST_DAY`..:data:`LAST_DAY`)."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInputError(
            f"{name} {day.isoformat()!r} is outside the supported range "
            f"{FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}"
        )
    return day


def parse_day(value: Any, name: str) -> date:
    """Parse an ISO date (``2024-05-31``) or datetime string within the supported range."""
    if isinstance(value, datetime):
        return day_in_range(value.date(), name)
    if isinstance(value, date):
        return day_in_range(value, name)
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
        else:
            return day_in_range(day, name)
    raise InvalidInputError(f"{name} must be an ISO date such as '2024-05-31', got {value!r}")


def check_company_id(value: Any, name: str = "company_id") -> str:
    """Return ``value`` when it is a valid company id (the rule of ``company add``), else raise."""
    if not is_company_id(value):
        raise InvalidInputError(f"{name} must be a company id ({COMPANY_ID_RULE}), got {value!r}")
    assert isinstance(value, str)
    return value


@dataclass(frozen=True, kw_only=True)
class Scope:
    """Conversations started in ``[start, end)`` (naive UTC) of ``company_ids`` (None: all)."""

    company_ids: tuple[str, ...] | None = None
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def parse(
        cls,
        *,
        company_id: str | None = None,
        company_ids: Sequence[str] | None = None,
        start_date: Any = None,
        end_date: Any = None,
        days: Any = None,
        today: date | None = None,
    ) -> Scope:
        """Build a scope from user-facing arguments.

        ``end_date`` is inclusive (the whole day counts). ``days=N`` means the last N days up
        to and including today (UTC) and cannot be combined with ``start_date``.
        """
        ids: list[str] | None = None
        if company_id is not None:
            ids = [check_company_id(company_id)]
        if company_ids is not None:
            if isinstance(company_ids, str) or not isinstance(company_ids, Sequence):
                raise InvalidInputError(
                    f"company_ids must be a list of company ids, got {company_ids!r}"
                )
            ids = (ids or []) + [check_company_id(c, "company_ids[]") for c in company_ids]
            if not ids:
                raise InvalidInputError("company_ids must not be empty (omit it for all companies)")
        start = parse_day(start_date, "start_date") if start_date is not None else None
        end = parse_day(end_date, "end_date") if end_date is not None else None
        if days is not None:
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
                raise InvalidInputError(
                    f"days must be an integer from 1 to {MAX_DAYS}, got {days!r}"
                )
            if start is not None:
                raise InvalidInputError("give either days or start_date, not both")
            end = end or today or datetime.now(UTC).date()
            start = end - timedelta(days=days - 1)
        if start is not None and end is not None and end < start:
            raise InvalidInputError(
                f"end_date {end.isoformat()!r} is before start_date {start.isoformat()!r}"
            )
        return cls(
            company_ids=tuple(dict.fromkeys(ids)) if ids is not None else None,
            start=datetime.combine(start, datetime.min.time()) if start else None,
            end=datetime.combine(end + timedelta(days=1), datetime.min.time()) if end else None,
        )

    def conversation_filter(self, alias: str = "") -> tuple[str, dict[str, Any]]:
        """SQL condition over ``conversations`` and its DuckDB parameters."""
        prefix = f"{alias}." if alias else ""
        parts = ["TRUE"]
        params: dict[str, Any] = {}
        if self.company_ids is not None:
            parts.append(f"list_contains($companies, {prefix}company_id)")
            params["companies"] = list(self.company_ids)
        if self.start is not None:
            parts.append(f"{prefix}started_at >= $start")
            params["start"] = self.start
        if self.end is not None:
            parts.append(f"{prefix}started_at < $end")
            params["end"] = self.end
        return " AND ".join(parts), params

    def ctes(self) -> tuple[str, dict[str, Any]]:
        """``WITH c AS (...), m AS (...)``: the scoped conversations and their messages."""
        where, params = self.conversation_filter()
        if self.start is None and self.end is None:
            # Messages carry company_id, so no join is needed without a date range.
            mwhere = (
                "list_contains($companies, company_id)" if self.company_ids is not None else "TRUE"
            )
        else:
            mwhere = "conversation_id IN (SELECT id FROM c)"
        sql = (
            f"WITH c AS NOT MATERIALIZED (SELECT * FROM conversations WHERE {where}), "
            f"m AS NOT MATERIALIZED (SELECT * FROM messages WHERE {mwhere})"
        )
        return sql, params

    def describe(self) -> str:
        """A short human description, e.g. ``acme, 2024-05-01..2024-05-31``."""
        who = ", ".join(self.company_ids) if self.company_ids else "all companies"
        if self.start is None and self.end is None:
            return f"{who}, all time"
        start = self.start.date().isoformat() if self.start else "beginning"
        end = (self.end - timedelta(days=1)).date().isoformat() if self.end else "now"
        return f"{who}, {start}..{end}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (dates inclusive, ISO)."""
        return {
            "company_ids": list(self.company_ids) if self.company_ids is not None else None,
            "start_date": self.start.date().isoformat() if self.start else None,
            "end_date": (self.end - timedelta(days=1)).date().isoformat() if self.end else None,
        }


_PARAM_RE = re.compile(r"\$([A-Za-z_]\w*)")


def sql_literal(value: Any) -> str:
    """``value`` as a DuckDB SQL literal (strings quoted with ``''`` doubling).

    Analytics inlines its few parameters instead of binding them: DuckDB's Python binding
    imports pandas on the first bound parameter, which costs seconds on a cold start.
    """
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"not a finite number: {value!r}")
        return repr(value)
    if isinstance(value, str):
        if "\x00" in value:  # DuckDB's parser ends a statement at NUL
            raise InvalidInputError(f"text must not contain NUL characters: {value!r}")
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(sql_literal(v) for v in value) + "]"
    raise TypeError(f"cannot inline {type(value).__name__} into SQL")


def query(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]
) -> duckdb.DuckDBPyConnection:
    """Run ``sql`` with its ``$name`` parameters replaced by literals of ``params``."""

    def literal(match: re.Match[str]) -> str:
        return sql_literal(params[match.group(1)])

    return con.execute(_PARAM_RE.sub(literal, sql))
