"""``identify_failures``: escalations, fallback answers, errors, slow responses, low ratings.

Each group has a count, a rate against its natural base and example conversations: the user
message that led to the failure and the assistant's answer. Errors are grouped by their text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from masterai.services.analytics.results import AnalyticsResult, describe_scope, num, pct
from masterai.services.analytics.scope import Scope, query


@dataclass(frozen=True, kw_only=True)
class FailureExample:
    """One conversation illustrating a failure."""

    conversation_id: str
    company_id: str
    user_message: str | None
    assistant_message: str | None
    detail: str | None = None
    """Error text, latency or rating, depending on the group."""


@dataclass(frozen=True, kw_only=True)
class FailureGroup:
    """One kind of failure (for errors: one distinct error text)."""

    kind: str
    """``escalation``, ``fallback``, ``error``, ``slow_response`` or ``low_rating``."""
    label: str
    count: int
    """Failing items: conversations (escalation, low_rating) or messages (the others)."""
    conversations: int
    rate: float | None
    """``count`` over its base: conversations, assistant messages or rated conversations."""
    examples: list[FailureExample]


@dataclass(frozen=True, kw_only=True)
class FailureAnalysis(AnalyticsResult):
    """Result of ``identify_failures``."""

    scope: dict[str, Any]
    conversations: int
    assistant_messages: int
    slow_threshold_ms: int
    low_rating_max: int
    groups: list[FailureGroup]

    def summary(self) -> str:
        """Readable summary."""
        lines = [f"Failures in {self.conversations} conversations ({describe_scope(self.scope)}):"]
        for group in self.groups:
            example = group.examples[0] if group.examples else None
            quote = f' e.g. "{_clip(example.user_message)}"' if example else ""
            lines.append(
                f"- {group.label}: {group.count} ({pct(group.rate)}) in "
                f"{group.conversations} conversations.{quote}"
            )
        if not self.groups:
            lines.append("- none found")
        return "\n".join(lines)


def _clip(text: str | None, size: int = 80) -> str:
    if not text:
        return ""
    return text if len(text) <= size else text[: size - 1] + "…"


# Each group: the failing messages or conversations as (conversation_id, message seq, key,
# detail), with the key splitting a kind into sub-groups (only errors use it).
_GROUP_SQL = {
    "escalation": "SELECT id AS conversation_id, NULL::INT AS seq, 'Escalated to a human' AS key, "
    "NULL AS detail FROM c WHERE escalated",
    "fallback": "SELECT conversation_id, seq, 'Fallback answers' AS key, NULL AS detail FROM m "
    "WHERE role = 'assistant' AND is_fallback",
    "error": "SELECT conversation_id, seq, 'Error: ' || error AS key, error AS detail FROM m "
    "WHERE error IS NOT NULL",
    "slow_response": "SELECT conversation_id, seq, 'Slow responses' AS key, "
    "latency_ms || ' ms' AS detail FROM m WHERE role = 'assistant' AND latency_ms > $slow",
    "low_rating": "SELECT id AS conversation_id, NULL::INT AS seq, 'Low ratings' AS key, "
    "'rated ' || satisfaction AS detail FROM c WHERE satisfaction <= $low",
}
_BASE = {
    "escalation": "(SELECT count(*) FROM c)",
    "fallback": "(SELECT count(*) FROM m WHERE role = 'assistant')",
    "error": "(SELECT count(*) FROM m WHERE role = 'assistant')",
    "slow_response": "(SELECT count(*) FROM m WHERE role = 'assistant' AND latency_ms IS NOT NULL)",
    "low_rating": "(SELECT count(satisfaction) FROM c)",
}


# Counts per (kind, key), then up to $n example conversations per group with the user message
# before the failing answer and the answer itself.
_GROUPS = """,
g AS (
    SELECT kind, key, count(*) AS n, count(DISTINCT conversation_id) AS convs,
        any_value(base) AS base
    FROM f GROUP BY kind, key
),
ex AS (
    SELECT *, row_number() OVER (PARTITION BY kind, key ORDER BY conversation_id, seq) AS rn
    FROM f QUALIFY rn <= $n
),
ctx AS (
    SELECT conversation_id, seq, role, content FROM m
    WHERE conversation_id IN (SELECT conversation_id FROM ex)
),
ex2 AS (
    SELECT ex.kind, ex.key, ex.conversation_id, ex.detail, ex.rn,
        any_value(c.company_id) AS company_id,
        arg_max(ctx.content, ctx.seq) FILTER (
            WHERE ctx.role = 'user' AND (ex.seq IS NULL OR ctx.seq < ex.seq)
        ) AS user_message,
        arg_max(ctx.content, ctx.seq) FILTER (
            WHERE ctx.role = 'assistant' AND (ex.seq IS NULL OR ctx.seq = ex.seq)
        ) AS assistant_message
    FROM ex JOIN c ON c.id = ex.conversation_id
    LEFT JOIN ctx ON ctx.conversation_id = ex.conversation_id
    GROUP BY ex.kind, ex.key, ex.conversation_id, ex.seq, ex.detail, ex.rn
)
SELECT g.kind, g.key, g.n, g.convs, g.base,
    list(struct_pack(conversation_id := ex2.conversation_id,
        company_id := ex2.company_id, user_message := ex2.user_message,
        assistant_message := ex2.assistant_message, detail := ex2.detail)
        ORDER BY ex2.rn) FILTER (WHERE ex2.conversation_id IS NOT NULL)
FROM g LEFT JOIN ex2 ON ex2.kind = g.kind AND ex2.key = g.key
GROUP BY ALL ORDER BY g.n DESC, g.kind, g.key
"""


def _group(row: tuple[Any, ...]) -> FailureGroup:
    kind, key, n, convs, base, examples = row
    return FailureGroup(
        kind=kind,
        label=key,
        count=int(n),
        conversations=int(convs),
        rate=num(n / base) if base else None,
        examples=[FailureExample(**e) for e in (examples or [])],
    )


def identify_failures(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    slow_ms: int,
    low_rating_max: int,
    examples: int,
) -> FailureAnalysis:
    """Group the failures of ``scope`` and pick ``examples`` example conversations per group."""
    ctes, params = scope.ctes()
    params = {**params, "slow": slow_ms, "low": low_rating_max, "n": examples}
    union = " UNION ALL ".join(
        f"SELECT '{kind}' AS kind, *, {_BASE[kind]} AS base FROM ({sql})"
        for kind, sql in _GROUP_SQL.items()
    )
    rows = query(con, f"{ctes}, f AS ({union}) {_GROUPS}", params).fetchall()
    counts = query(
        con,
        f"{ctes} SELECT (SELECT count(*) FROM c), "
        "(SELECT count(*) FROM m WHERE role = 'assistant')",
        params,
    ).fetchone()
    assert counts is not None
    return FailureAnalysis(
        scope=scope.to_dict(),
        conversations=int(counts[0]),
        assistant_messages=int(counts[1]),
        slow_threshold_ms=slow_ms,
        low_rating_max=low_rating_max,
        groups=[_group(row) for row in rows],
    )
