"""Small, hand-checkable conversation data shared by the service tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from masterai.store.models import Company, Conversation, Message

if TYPE_CHECKING:
    import duckdb

    from masterai.services.analytics import AnalyticsService

COPY_TABLES = {
    "conversations": "id",
    "messages": "id",
    "conversation_stats": "conversation_id",
}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 5, day, hour, minute, tzinfo=UTC)


def msg(seq: int, role: str, content: str, when: datetime, **extra: Any) -> Message:
    return Message(seq=seq, role=role, content=content, created_at=when, **extra)


def small_data_set() -> list[Any]:
    """Two companies; every figure the tests expect is computed by hand from this."""
    mini = {"model": "gpt-4o-mini"}
    return [
        Company(id="acme", name="Acme"),
        Company(id="globex", name="Globex"),
        Conversation(
            id="c1",
            company_id="acme",
            channel="web",
            model="gpt-4o-mini",
            started_at=at(1, 10),
            resolved=True,
            satisfaction=5,
            messages=[
                msg(0, "user", "Where is my order? Tracking number missing", at(1, 10)),
                msg(
                    1,
                    "assistant",
                    "It ships today.",
                    at(1, 10, 1),
                    latency_ms=1000,
                    prompt_tokens=100,
                    completion_tokens=50,
                    cost_usd=0.001,
                    **mini,
                ),
                msg(2, "user", "Thanks", at(1, 10, 2)),
                msg(
                    3,
                    "assistant",
                    "You are welcome.",
                    at(1, 10, 3),
                    latency_ms=2000,
                    prompt_tokens=150,
                    completion_tokens=30,
                    cost_usd=0.002,
                    **mini,
                ),
            ],
        ),
        Conversation(
            id="c2",
            company_id="acme",
            channel="email",
            model="gpt-4o-mini",
            started_at=at(1, 15),
            escalated=True,
            satisfaction=2,
            messages=[
                msg(0, "user", "I want a refund now", at(1, 15)),
                msg(
                    1,
                    "assistant",
                    "Sorry, I cannot help with that.",
                    at(1, 15, 1),
                    latency_ms=6000,
                    prompt_tokens=200,
                    completion_tokens=20,
                    cost_usd=0.003,
                    is_fallback=True,
                    **mini,
                ),
            ],
        ),
        Conversation(
            id="c3",
            company_id="acme",
            channel="web",
            model="mystery-model",
            started_at=at(2, 9),
            resolved=True,
            messages=[
                msg(0, "user", "Tracking number not found for my order", at(2, 9)),
                msg(
                    1,
                    "assistant",
                    "Let me check.",
                    at(2, 9, 1),
                    latency_ms=3000,
                    prompt_tokens=100,
                    error="provider timeout",
                ),
            ],
        ),
        Conversation(
            id="g1",
            company_id="globex",
            channel="web",
            model="claude-3-5-haiku-latest",
            started_at=at(2, 11),
            resolved=True,
            satisfaction=4,
            messages=[
                msg(0, "user", "How do I reset my password?", at(2, 11)),
                msg(
                    1,
                    "assistant",
                    "Use the link.",
                    at(2, 11, 1),
                    latency_ms=500,
                    prompt_tokens=80,
                    completion_tokens=40,
                    cost_usd=0.0005,
                ),
            ],
        ),
        Conversation(
            id="g2",
            company_id="globex",
            channel="web",
            model="claude-3-5-haiku-latest",
            started_at=at(3, 11),
            escalated=True,
            satisfaction=1,
            messages=[
                msg(0, "user", "How do I reset my password?", at(3, 11)),
                msg(
                    1,
                    "assistant",
                    "Use the link.",
                    at(3, 11, 1),
                    latency_ms=700,
                    prompt_tokens=60,
                    completion_tokens=20,
                    cost_usd=0.0004,
                ),
            ],
        ),
    ]


def table_rows(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the analytics copy's tables in ``con``, in a stable order."""
    return {
        table: [tuple(r) for r in con.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()]
        for table, key in COPY_TABLES.items()
    }


def copy_tables(service: AnalyticsService) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of an analytics copy's tables, in a stable order."""
    with service.copy.connect() as con:
        return table_rows(con)
