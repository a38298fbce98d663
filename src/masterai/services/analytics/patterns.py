"""``identify_patterns``: topics, recurring phrases, peak hours and problem questions.

Topics come from keyword rules over each conversation's first user message (no model needed;
the first rule that matches wins). Phrases are word bigrams and trigrams of user messages that
neither start nor end with a stop word, counted once per conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb

from masterai.services.analytics.results import AnalyticsResult, describe_scope, num, pct
from masterai.services.analytics.scope import Scope, query

# (topic, regular expression over the lower-cased first user message), first match wins.
TOPIC_RULES: tuple[tuple[str, str], ...] = (
    ("cancellation", r"\b(cancel\w*|unsubscribe|close my account)\b"),
    ("refund", r"\b(refunds?|money back|reimburse\w*)\b"),
    ("billing", r"\b(bill\w*|invoices?|charged?|charges|payments?|pric\w+|subscription|plan)\b"),
    ("shipping", r"\b(ship\w*|deliver\w*|packages?|orders?|tracking|track)\b"),
    ("account", r"\b(password|log ?in|sign ?in|accounts?|username|2fa|locked)\b"),
    ("technical", r"\b(errors?|bugs?|crash\w*|broken|not working|doesn't work|fail\w*)\b"),
    ("product", r"\b(products?|features?|sizes?|stock|availab\w+|specs?|warranty)\b"),
    ("complaint", r"\b(complain\w*|terrible|awful|angry|unacceptable|worst)\b"),
    ("greeting", r"^(hi|hello|hey)\b"),
)

STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "about",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "it",
        "its",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "can",
        "could",
        "would",
        "should",
        "will",
        "just",
        "so",
        "not",
        "no",
        "yes",
        "please",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "there",
        "here",
        "what",
        "when",
        "where",
        "which",
        "who",
        "how",
        "why",
        "am",
        "im",
        "i'm",
        "it's",
        "don't",
        "can't",
        "get",
    ]
)


@dataclass(frozen=True, kw_only=True)
class Topic:
    """Conversations of one topic and how they end."""

    topic: str
    conversations: int
    share: float | None
    resolution_rate: float | None
    escalation_rate: float | None
    satisfaction: float | None


@dataclass(frozen=True, kw_only=True)
class Phrase:
    """A recurring phrase in user messages."""

    phrase: str
    conversations: int


@dataclass(frozen=True, kw_only=True)
class ProblemQuestion:
    """An opening question that often ends in escalation or a low rating."""

    question: str
    conversations: int
    escalation_rate: float | None
    low_rating_rate: float | None
    """Share of this question's conversations rated at or below the low-rating threshold."""


@dataclass(frozen=True, kw_only=True)
class PatternAnalysis(AnalyticsResult):
    """Result of ``identify_patterns``."""

    scope: dict[str, Any]
    conversations: int
    topics: list[Topic]
    phrases: list[Phrase]
    conversations_by_hour: list[int]
    """24 counts, index = hour of day (UTC) the conversation started."""
    peak_hours: list[int]
    problem_questions: list[ProblemQuestion]

    def summary(self) -> str:
        """Readable summary."""
        topics = ", ".join(f"{t.topic} {pct(t.share)}" for t in self.topics[:5]) or "none"
        phrases = ", ".join(f'"{p.phrase}" ({p.conversations})' for p in self.phrases[:5])
        hours = ", ".join(f"{h:02d}:00" for h in self.peak_hours) or "n/a"
        lines = [
            f"Patterns in {self.conversations} conversations ({describe_scope(self.scope)}).",
            f"Top topics: {topics}.",
            f"Recurring phrases: {phrases or 'none'}.",
            f"Peak hours (UTC): {hours}.",
        ]
        lines.extend(
            f'Problem question: "{q.question}" ({q.conversations} conversations, '
            f"escalated {pct(q.escalation_rate)}, low rating {pct(q.low_rating_rate)})"
            for q in self.problem_questions[:3]
        )
        return "\n".join(lines)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _topic_case(column: str) -> str:
    whens = " ".join(
        f"WHEN regexp_matches({column}, {_sql_string(pattern)}) THEN '{name}'"
        for name, pattern in TOPIC_RULES
    )
    return f"CASE {whens} ELSE 'other' END"


FIRST_QUESTION = """
fq AS (
    SELECT conversation_id, arg_min(content, seq) AS question
    FROM m WHERE role = 'user' GROUP BY conversation_id
),
ct AS (
    SELECT c.*, lower(fq.question) AS q, {topic} AS topic
    FROM c LEFT JOIN fq ON fq.conversation_id = c.id
)
"""


def topic_ctes() -> str:
    """CTEs ``fq`` (first user message) and ``ct`` (conversations with ``q`` and ``topic``)."""
    return FIRST_QUESTION.format(topic=_topic_case("lower(coalesce(fq.question, ''))"))


_TOPICS = """
SELECT topic, count(*), avg(resolved::INT), avg(escalated::INT), avg(satisfaction)
FROM ct GROUP BY topic ORDER BY 2 DESC, 1
"""

# Bigrams and trigrams as [first word, last word, phrase]; stop words are checked on the ends.
_PHRASES = """,
w AS (
    SELECT conversation_id, regexp_extract_all(lower(content), '[a-z][a-z'']*') AS w
    FROM m WHERE role = 'user'
),
grams AS (
    SELECT conversation_id, unnest(list_concat(
        list_transform(range(1, len(w)),
            lambda i: [w[i], w[i + 1], w[i] || ' ' || w[i + 1]]),
        list_transform(range(1, len(w) - 1),
            lambda i: [w[i], w[i + 2], w[i] || ' ' || w[i + 1] || ' ' || w[i + 2]])
    )) AS g FROM w
)
SELECT g[3] AS phrase, count(DISTINCT conversation_id) AS n FROM grams
WHERE NOT list_contains($stop, g[1]) AND NOT list_contains($stop, g[2])
GROUP BY 1 HAVING n >= 2 ORDER BY n DESC, phrase LIMIT $top
"""

_PROBLEMS = """
SELECT trim(regexp_replace(q, '[[:space:]]+', ' ', 'g'), ' ?!.') AS question, count(*),
    avg(escalated::INT), count(*) FILTER (WHERE satisfaction <= $low) / count(*)
FROM ct WHERE q IS NOT NULL GROUP BY 1
HAVING count(*) >= 2 AND (sum(escalated::INT) > 0
    OR count(*) FILTER (WHERE satisfaction <= $low) > 0)
ORDER BY sum(escalated::INT) + count(*) FILTER (WHERE satisfaction <= $low) DESC, 2 DESC, 1
LIMIT $top
"""


def _phrases(con: duckdb.DuckDBPyConnection, ctes: str, params: dict[str, Any]) -> list[Phrase]:
    rows = query(con, f"{ctes} {_PHRASES}", {**params, "stop": sorted(STOP_WORDS)}).fetchall()
    return [Phrase(phrase=p, conversations=int(n)) for p, n in rows]


def _topic(row: tuple[Any, ...], total: int) -> Topic:
    name, n, resolved, escalated, satisfaction = row
    return Topic(
        topic=name,
        conversations=int(n),
        share=num(n / total) if total else None,
        resolution_rate=num(resolved),
        escalation_rate=num(escalated),
        satisfaction=num(satisfaction, 3),
    )


def identify_patterns(
    con: duckdb.DuckDBPyConnection, scope: Scope, *, low_rating_max: int, top: int = 10
) -> PatternAnalysis:
    """Find the topics, phrases, peak hours and problem questions of ``scope``."""
    ctes, params = scope.ctes()
    params = {**params, "low": low_rating_max, "top": top}
    base = f"{ctes}, {topic_ctes()}"
    hours = dict(
        query(con, f"{ctes} SELECT hour(started_at), count(*) FROM c GROUP BY 1", params).fetchall()
    )
    by_hour = [int(hours.get(h, 0)) for h in range(24)]
    total = sum(by_hour)
    topics = query(con, f"{base} {_TOPICS}", params).fetchall()
    problems = query(con, f"{base} {_PROBLEMS}", params).fetchall()
    return PatternAnalysis(
        scope=scope.to_dict(),
        conversations=total,
        topics=[_topic(row, total) for row in topics],
        phrases=_phrases(con, ctes, params),
        conversations_by_hour=by_hour,
        peak_hours=sorted((h for h in range(24) if by_hour[h]), key=lambda h: (-by_hour[h], h))[:3],
        problem_questions=[
            ProblemQuestion(
                question=q, conversations=int(n), escalation_rate=num(e), low_rating_rate=num(lr)
            )
            for q, n, e, lr in problems
        ],
    )
