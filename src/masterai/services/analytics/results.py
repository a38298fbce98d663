"""Shared helpers for analytics results: JSON conversion and small numeric utilities."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime
from typing import Any


def jsonable(value: Any) -> Any:
    """Convert dataclasses, dates and NaN into plain JSON-serialisable values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def num(value: Any, digits: int = 4) -> float | None:
    """A rounded float, or ``None`` for SQL NULL / NaN."""
    if value is None:
        return None
    result = float(value)
    if math.isnan(result):
        return None
    return round(result, digits)


def pct(value: float | None) -> str:
    """Format a rate in 0..1 as a percentage for summaries."""
    return "n/a" if value is None else f"{value * 100:.1f}%"


def money(value: float | None) -> str:
    """Format USD for summaries."""
    return "n/a" if value is None else f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def fmt(value: float | None, digits: int = 2) -> str:
    """Format a number for summaries (``n/a`` for missing)."""
    return "n/a" if value is None else f"{value:,.{digits}f}"


def describe_scope(scope: dict[str, Any]) -> str:
    """A scope dict (``Scope.to_dict()``) as short text: ``acme, 2024-05-01..2024-05-31``."""
    who = ", ".join(scope["company_ids"]) if scope.get("company_ids") else "all companies"
    if not scope.get("start_date") and not scope.get("end_date"):
        return f"{who}, all time"
    return f"{who}, {scope.get('start_date') or 'beginning'}..{scope.get('end_date') or 'now'}"


class AnalyticsResult:
    """Mixin for result dataclasses: ``to_dict()`` for JSON, ``summary()`` for people."""

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-serialisable dict."""
        data = jsonable(self)
        assert isinstance(data, dict)
        return data

    def summary(self) -> str:
        """A short readable summary (what the model and the CLI show)."""
        raise NotImplementedError
