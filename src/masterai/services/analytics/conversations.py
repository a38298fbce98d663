"""``analyze_conversations``: volume, response times, outcomes, cost per conversation, trends.

Definitions (also in docs/analytics.md):

- *conversations*: conversations started in the scope's date range; *messages* are theirs.
- *response time*: ``latency_ms`` of assistant messages; percentiles interpolate linearly.
- *resolution / escalation rate*: share of conversations with ``resolved`` / ``escalated``.
- *fallback rate*: share of conversations with at least one fallback assistant message;
  *error rate*: share with at least one message carrying an ``error``.
- *satisfaction*: mean explicit rating (1..5) over rated conversations.
- *turns*: user messages per conversation; *tokens*: prompt + completion tokens.
- *daily trend*: by the day conversations started; the daily median response time is over
  the answers given that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from masterai.services.analytics.results import (
    AnalyticsResult,
    describe_scope,
    fmt,
    money,
    num,
    pct,
)
from masterai.services.analytics.scope import Scope, query

# Conversations of the scope with their message aggregates (precomputed by the copy).
PER_CONVERSATION = """
cs AS (
    SELECT c.*, coalesce(s.messages, 0) AS messages, coalesce(s.turns, 0) AS turns,
        coalesce(s.tokens, 0) AS tokens, coalesce(s.cost, 0) AS cost,
        coalesce(s.had_fallback, FALSE) AS had_fallback,
        coalesce(s.had_error, FALSE) AS had_error, s.max_latency
    FROM c LEFT JOIN conversation_stats s ON s.conversation_id = c.id
)
"""


@dataclass(frozen=True, kw_only=True)
class Percentiles:
    """Distribution of assistant response times in milliseconds."""

    count: int
    mean: float | None
    p50: float | None
    p90: float | None
    p95: float | None
    p99: float | None
    max: float | None


@dataclass(frozen=True, kw_only=True)
class DailyPoint:
    """One day of the trend (by the day conversations started, UTC)."""

    day: date
    conversations: int
    messages: int
    resolution_rate: float | None
    escalation_rate: float | None
    satisfaction: float | None
    cost_usd: float
    tokens: int
    p50_response_ms: float | None


@dataclass(frozen=True, kw_only=True)
class ConversationAnalysis(AnalyticsResult):
    """Result of ``analyze_conversations``."""

    scope: dict[str, Any]
    conversations: int
    messages: int
    resolution_rate: float | None
    escalation_rate: float | None
    fallback_rate: float | None
    """Share of conversations with at least one fallback answer."""
    error_rate: float | None
    satisfaction: float | None
    """Mean explicit rating (1..5) of the rated conversations."""
    rated_conversations: int
    turns_per_conversation: float | None
    tokens_per_conversation: float | None
    cost_per_conversation: float | None
    total_tokens: int
    total_cost_usd: float
    response_time_ms: Percentiles
    daily: list[DailyPoint]

    def summary(self) -> str:
        """Readable summary."""
        rt = self.response_time_ms
        return (
            f"{self.conversations} conversations, {self.messages} messages "
            f"({describe_scope(self.scope)}). Resolution {pct(self.resolution_rate)}, escalation "
            f"{pct(self.escalation_rate)}, fallback {pct(self.fallback_rate)}, errors "
            f"{pct(self.error_rate)}. Satisfaction {fmt(self.satisfaction)}/5 from "
            f"{self.rated_conversations} ratings. Response time p50 {fmt(rt.p50, 0)} ms, "
            f"p95 {fmt(rt.p95, 0)} ms. {fmt(self.turns_per_conversation, 1)} turns and "
            f"{fmt(self.tokens_per_conversation, 0)} tokens per conversation; cost "
            f"{money(self.total_cost_usd)} ({money(self.cost_per_conversation)} per "
            f"conversation)."
        )


_TOTALS = """
SELECT count(*), coalesce(sum(messages), 0),
    avg(resolved::INT), avg(escalated::INT), avg(had_fallback::INT),
    avg(had_error::INT), avg(satisfaction), count(satisfaction),
    avg(turns), avg(tokens), avg(cost), coalesce(sum(tokens), 0),
    coalesce(sum(cost), 0)
FROM cs
"""

_LATENCY = """
SELECT count(latency_ms), avg(latency_ms),
    quantile_cont(latency_ms::DOUBLE, [0.5, 0.9, 0.95, 0.99]), max(latency_ms)
FROM m WHERE role = 'assistant' AND latency_ms IS NOT NULL
"""

_DAILY = """,
lat AS (
    SELECT CAST(created_at AS DATE) AS day, quantile_cont(latency_ms::DOUBLE, 0.5) AS p50
    FROM m WHERE role = 'assistant' AND latency_ms IS NOT NULL GROUP BY ALL
),
d AS (
    SELECT CAST(started_at AS DATE) AS day, count(*) AS n, sum(messages) AS msgs,
        avg(resolved::INT) AS res, avg(escalated::INT) AS esc,
        avg(satisfaction) AS sat, sum(cost) AS cost, sum(tokens) AS tokens
    FROM cs GROUP BY 1
)
SELECT d.day, n, msgs, res, esc, sat, cost, tokens, lat.p50
FROM d LEFT JOIN lat ON lat.day = d.day ORDER BY 1
"""


def _percentiles(row: tuple[Any, ...]) -> Percentiles:
    quantiles = row[2] or [None] * 4
    return Percentiles(
        count=int(row[0]),
        mean=num(row[1], 2),
        p50=num(quantiles[0], 2),
        p90=num(quantiles[1], 2),
        p95=num(quantiles[2], 2),
        p99=num(quantiles[3], 2),
        max=num(row[3], 2),
    )


def _day(row: tuple[Any, ...]) -> DailyPoint:
    return DailyPoint(
        day=row[0],
        conversations=int(row[1]),
        messages=int(row[2]),
        resolution_rate=num(row[3]),
        escalation_rate=num(row[4]),
        satisfaction=num(row[5], 3),
        cost_usd=num(row[6], 6) or 0.0,
        tokens=int(row[7]),
        p50_response_ms=num(row[8], 2),
    )


def analyze_conversations(con: duckdb.DuckDBPyConnection, scope: Scope) -> ConversationAnalysis:
    """Compute the conversation metrics of ``scope`` on the analytics copy ``con``."""
    ctes, params = scope.ctes()
    totals = query(con, f"{ctes}, {PER_CONVERSATION} {_TOTALS}", params).fetchone()
    latency = query(con, f"{ctes} {_LATENCY}", params).fetchone()
    daily = query(con, f"{ctes}, {PER_CONVERSATION} {_DAILY}", params).fetchall()
    assert totals is not None and latency is not None
    return ConversationAnalysis(
        scope=scope.to_dict(),
        conversations=int(totals[0]),
        messages=int(totals[1]),
        resolution_rate=num(totals[2]),
        escalation_rate=num(totals[3]),
        fallback_rate=num(totals[4]),
        error_rate=num(totals[5]),
        satisfaction=num(totals[6], 3),
        rated_conversations=int(totals[7]),
        turns_per_conversation=num(totals[8], 3),
        tokens_per_conversation=num(totals[9], 2),
        cost_per_conversation=num(totals[10], 6),
        total_tokens=int(totals[11]),
        total_cost_usd=num(totals[12], 6) or 0.0,
        response_time_ms=_percentiles(latency),
        daily=[_day(row) for row in daily],
    )
