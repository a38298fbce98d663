"""``measure_satisfaction``: explicit ratings, their distribution and what drives them.

A *driver* compares the mean rating of conversations with a property (escalated, resolved,
had a fallback answer, had an error, had a slow answer, a channel, a model, a topic) with the
mean of those without it; drivers are ordered by how much they move the mean, weighted by how
many rated conversations they cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb

from masterai.services.analytics.conversations import PER_CONVERSATION
from masterai.services.analytics.patterns import topic_ctes
from masterai.services.analytics.results import AnalyticsResult, describe_scope, fmt, num, pct
from masterai.services.analytics.scope import Scope, query


@dataclass(frozen=True, kw_only=True)
class Driver:
    """How one property of a conversation relates to its rating."""

    factor: str
    """e.g. ``escalated``, ``channel=email``, ``topic=refund``."""
    rated_with: int
    mean_with: float | None
    mean_without: float | None
    impact: float | None
    """``mean_with - mean_without`` (negative: the property lowers satisfaction)."""


@dataclass(frozen=True, kw_only=True)
class SatisfactionAnalysis(AnalyticsResult):
    """Result of ``measure_satisfaction``."""

    scope: dict[str, Any]
    conversations: int
    rated: int
    coverage: float | None
    """Share of conversations with an explicit rating."""
    mean: float | None
    median: float | None
    csat: float | None
    """Share of ratings that are 4 or 5."""
    distribution: dict[str, int]
    """Count of each rating ``"1"``..``"5"``."""
    drivers: list[Driver]

    def summary(self) -> str:
        """Readable summary."""
        dist = ", ".join(f"{k}: {v}" for k, v in self.distribution.items())
        lines = [
            f"Satisfaction ({describe_scope(self.scope)}): mean {fmt(self.mean)}/5 from "
            f"{self.rated} ratings ({pct(self.coverage)} of {self.conversations} "
            f"conversations), CSAT {pct(self.csat)}. Distribution {dist}."
        ]
        lines.extend(
            f"- {d.factor}: {fmt(d.mean_with)} vs {fmt(d.mean_without)} without "
            f"({d.rated_with} rated, impact {fmt(d.impact)})"
            for d in self.drivers[:4]
        )
        return "\n".join(lines)


_BOOLEAN_FACTORS = ("escalated", "resolved", "had_fallback", "had_error", "slow")


def measure_satisfaction(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    slow_ms: int,
    conversation_ids: Sequence[str] | None = None,
) -> SatisfactionAnalysis:
    """Measure the ratings of ``scope`` (optionally only ``conversation_ids``)."""
    ctes, params = scope.ctes()
    params = {**params, "slow": slow_ms}
    restrict = ""
    if conversation_ids is not None:
        restrict = "WHERE list_contains($ids, cs.id)"
        params["ids"] = list(conversation_ids)
    base = (
        f"{ctes}, {PER_CONVERSATION}, {topic_ctes()}, "
        f"r AS (SELECT cs.*, coalesce(cs.max_latency > $slow, FALSE) AS slow, ct.topic "
        f"FROM cs JOIN ct ON ct.id = cs.id {restrict})"
    )
    row = query(
        con,
        f"""{base} SELECT count(*), count(satisfaction), avg(satisfaction),
            quantile_cont(satisfaction::DOUBLE, 0.5),
            count(*) FILTER (WHERE satisfaction >= 4) / nullif(count(satisfaction), 0),
            {", ".join(f"count(*) FILTER (WHERE satisfaction = {i})" for i in range(1, 6))}
        FROM r""",
        params,
    ).fetchone()
    assert row is not None
    drivers: list[Driver] = []
    for factor in _BOOLEAN_FACTORS:
        drivers.extend(_drivers(con, base, params, factor, f"{factor}::VARCHAR", only="true"))
    for column in ("channel", "model", "topic"):
        drivers.extend(_drivers(con, base, params, column, f"coalesce({column}, 'unknown')"))
    drivers = [d for d in drivers if d.impact is not None]
    drivers.sort(key=lambda d: (-abs(d.impact or 0) * d.rated_with**0.5, d.factor))
    conversations, rated = int(row[0]), int(row[1])
    return SatisfactionAnalysis(
        scope=scope.to_dict(),
        conversations=conversations,
        rated=rated,
        coverage=num(rated / conversations) if conversations else None,
        mean=num(row[2], 3),
        median=num(row[3], 3),
        csat=num(row[4]),
        distribution={str(i): int(row[4 + i]) for i in range(1, 6)},
        drivers=drivers[:10],
    )


def _drivers(
    con: duckdb.DuckDBPyConnection,
    base: str,
    params: dict[str, Any],
    name: str,
    expr: str,
    only: str | None = None,
) -> list[Driver]:
    rows = query(
        con,
        f"""{base}, g AS (SELECT {expr} AS v, satisfaction FROM r WHERE satisfaction IS NOT NULL)
        SELECT v2.v, count(*) FILTER (WHERE g.v = v2.v),
            avg(satisfaction) FILTER (WHERE g.v = v2.v),
            avg(satisfaction) FILTER (WHERE g.v <> v2.v)
        FROM g CROSS JOIN (SELECT DISTINCT v FROM g) v2 GROUP BY v2.v ORDER BY v2.v""",
        params,
    ).fetchall()
    result = []
    for value, n, with_, without in rows:
        if only is not None and value != only:
            continue
        factor = name if only is not None else f"{name}={value}"
        impact = None if with_ is None or without is None else num(with_ - without, 3)
        result.append(
            Driver(
                factor=factor,
                rated_with=int(n),
                mean_with=num(with_, 3),
                mean_without=num(without, 3),
                impact=impact,
            )
        )
    return result
