"""Analytics end to end from the store: DuckDB analytics copy vs pandas.read_sql + pandas.

    .venv/bin/python benchmarks/analytics.py [--conversations 100000] [--db PATH] [--repeat 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/masterai_bench]

Seeds the embedded SQLite store with the demo data set (about 10 messages per conversation,
so 100k conversations is about 1 million messages; kept in --db between runs), then times
``analyze_conversations`` + ``identify_failures`` over all companies, end to end from the
store, three ways in the same run:

- baseline: ``pandas.read_sql`` of both tables and the same figures computed in pandas;
- cold: the analytics service with no copy yet (it builds its DuckDB copy first);
- warm: a fresh service object (as a new CLI or tool call would make) whose copy is in step;
- incremental: after 1,000 new conversations are appended, the next call (copy catches up).

Prints a table with the median of --repeat runs (the cold run is a single run), the ratio to
the baseline and whether it meets the issue's goal (at least 4x faster). The cold path does
not: it reads every row through the database driver once to build the copy.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from masterai.services.analytics import AnalyticsService
from masterai.services.demo import seed_demo
from masterai.settings import Settings
from masterai.store import Database
from masterai.store.models import Conversation, Message

SLOW_MS = 5000
GOAL = 4.0
LOW = 2
END = date(2024, 6, 30)


def pandas_path(engine: sa.Engine) -> dict[str, Any]:
    """The straightforward way: read both tables with pandas, compute the same figures."""
    conv = pd.read_sql(
        "SELECT id, company_id, started_at, resolved, escalated, satisfaction FROM conversations",
        engine,
    )
    msgs = pd.read_sql(
        "SELECT id, conversation_id, seq, role, content, latency_ms, prompt_tokens, "
        "completion_tokens, cost_usd, is_fallback, error FROM messages",
        engine,
    )
    msgs["tokens"] = msgs["prompt_tokens"] + msgs["completion_tokens"]
    msgs["is_user"] = msgs["role"] == "user"
    msgs["has_error"] = msgs["error"].notna()
    per = msgs.groupby("conversation_id").agg(
        messages=("id", "size"),
        turns=("is_user", "sum"),
        tokens=("tokens", "sum"),
        cost=("cost_usd", "sum"),
        fallback=("is_fallback", "max"),
        err=("has_error", "max"),
    )
    cs = conv.merge(per, left_on="id", right_index=True, how="left").fillna(
        {"messages": 0, "turns": 0, "tokens": 0, "cost": 0, "fallback": False, "err": False}
    )
    assistant = msgs[msgs["role"] == "assistant"]
    latency = assistant["latency_ms"].dropna()
    cs["day"] = pd.to_datetime(cs["started_at"]).dt.date
    daily = cs.groupby("day").agg(
        conversations=("id", "size"),
        resolved=("resolved", "mean"),
        escalated=("escalated", "mean"),
        satisfaction=("satisfaction", "mean"),
        cost=("cost", "sum"),
    )
    summary = {
        "conversations": len(cs),
        "resolution": cs["resolved"].mean(),
        "escalation": cs["escalated"].mean(),
        "fallback": cs["fallback"].astype(bool).mean(),
        "satisfaction": cs["satisfaction"].mean(),
        "turns": cs["turns"].mean(),
        "tokens": cs["tokens"].mean(),
        "cost": cs["cost"].mean(),
        "p": latency.quantile([0.5, 0.9, 0.95, 0.99]).tolist(),
        "days": len(daily),
    }
    # failures, with up to 3 examples per group and the user message before each
    groups = {
        "escalation": cs[cs["escalated"].astype(bool)][["id"]].rename(
            columns={"id": "conversation_id"}
        ),
        "fallback": assistant[assistant["is_fallback"].astype(bool)][["conversation_id", "seq"]],
        "slow": assistant[assistant["latency_ms"] > SLOW_MS][["conversation_id", "seq"]],
        "low": cs[cs["satisfaction"] <= LOW][["id"]].rename(columns={"id": "conversation_id"}),
    }
    errors = msgs[msgs["has_error"]]
    for text, frame in errors.groupby("error"):
        groups[f"error: {text}"] = frame[["conversation_id", "seq"]]
    users = msgs[msgs["is_user"]][["conversation_id", "seq", "content"]]
    failures = {}
    for name, frame in groups.items():
        examples = frame.sort_values(list(frame.columns)).head(3)
        quoted = users[users["conversation_id"].isin(examples["conversation_id"])]
        failures[name] = (len(frame), quoted.groupby("conversation_id")["content"].first().tolist())
    summary["failures"] = {k: v[0] for k, v in failures.items()}
    return summary


def service_path(database: Database, settings: Settings, copy_dir: Path) -> dict[str, Any]:
    """The analytics service: a new object per call, as a CLI or tool call would use."""
    service = AnalyticsService(database, settings, copy_dir=copy_dir)
    scope = service.scope()
    conv = service.analyze_conversations(scope)
    failures = service.identify_failures(scope, slow_ms=SLOW_MS)
    return {"conversations": conv.conversations, "groups": len(failures.groups)}


def timed(
    function: Callable[[], Any], repeat: int, before: Callable[[], None] | None = None
) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def append_conversations(database: Database, n: int, salt: list[int]) -> None:
    salt[0] += 1
    when = datetime(2024, 6, 30, 12, tzinfo=UTC)
    with database.session() as session:
        session.execute(
            sa.insert(Conversation),
            [
                {
                    "id": f"bench-{salt[0]}-{i}",
                    "company_id": "acme-retail",
                    "started_at": when,
                    "resolved": i % 2 == 0,
                    "satisfaction": 1 + i % 5,
                }
                for i in range(n)
            ],
        )
        session.execute(
            sa.insert(Message),
            [
                {
                    "conversation_id": f"bench-{salt[0]}-{i}",
                    "seq": j,
                    "role": role,
                    "content": "Where is my order?" if role == "user" else "On its way.",
                    "created_at": when + timedelta(seconds=j),
                    "latency_ms": 900 + j,
                    "prompt_tokens": 300,
                    "completion_tokens": 50,
                    "cost_usd": 0.0001,
                }
                for i in range(n)
                for j, role in enumerate(["user", "assistant"] * 5)
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "masterai-bench")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--database-url", help="benchmark this (PostgreSQL) database instead of SQLite"
    )
    args = parser.parse_args()

    home = args.db / f"n{args.conversations}"
    if args.database_url:
        home = home / "postgres"
        database = Database(args.database_url)
    else:
        database = Database(f"sqlite:///{home / 'masterai.db'}")
    database.upgrade()
    settings = Settings(home=home)
    with database.engine.connect() as conn:
        messages = conn.execute(sa.text("SELECT count(*) FROM messages")).scalar_one()
    if messages == 0:
        print(f"seeding {args.conversations:,} conversations into {home} (once) ...", flush=True)
        start = time.perf_counter()
        seed_demo(
            database,
            conversations=args.conversations,
            end_date=END,
            seed=7,
            turn_probability=0.16,
            max_turns=10,
        )
        print(f"seeded in {time.perf_counter() - start:.1f} s", flush=True)
    with database.session() as session:  # conversations appended by earlier runs
        bench = sa.select(Conversation.id).where(Conversation.id.like("bench-%"))
        session.execute(sa.delete(Message).where(Message.conversation_id.in_(bench)))
        session.execute(sa.delete(Conversation).where(Conversation.id.like("bench-%")))
    with database.engine.connect() as conn:
        messages = conn.execute(sa.text("SELECT count(*) FROM messages")).scalar_one()
        conversations = conn.execute(sa.text("SELECT count(*) FROM conversations")).scalar_one()
    kind = database.dialect if args.database_url else "SQLite, WAL"
    print(f"store: {conversations:,} conversations, {messages:,} messages ({kind})\n")

    copy_dir = home / "bench-copy"
    baseline = timed(lambda: pandas_path(database.engine), args.repeat)
    cold = timed(
        lambda: service_path(database, settings, copy_dir),
        1,
        before=lambda: shutil.rmtree(copy_dir, ignore_errors=True),
    )
    warm = timed(lambda: service_path(database, settings, copy_dir), args.repeat)
    salt = [0]
    incremental = timed(
        lambda: service_path(database, settings, copy_dir),
        args.repeat,
        before=lambda: append_conversations(database, 1000, salt),
    )
    rows = [
        ("service, cold (builds the DuckDB copy)", cold),
        ("service, warm (copy in step)", warm),
        ("service, after +1,000 conversations", incremental),
    ]
    header = f"{'analyze_conversations + identify_failures':<44} {'seconds':>8} {'vs baseline':>12}"
    print(f"{header} {'goal >= 4x':>11}")
    print(f"{'pandas.read_sql + pandas (baseline)':<44} {baseline:>8.3f} {1.0:>11.1f}x")
    for name, seconds in rows:  # the goal: at least 4x faster than the baseline
        ratio = baseline / seconds
        verdict = "met" if ratio >= GOAL else "NOT met"
        print(f"{name:<44} {seconds:>8.3f} {ratio:>11.1f}x {verdict:>11}")


if __name__ == "__main__":
    main()
