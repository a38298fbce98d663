"""Analytics from the store: building the DuckDB copy, and answers, vs pandas.read_sql.

    .venv/bin/python benchmarks/analytics.py [--conversations 100000] [--db PATH] [--repeat 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/masterai_bench]

Seeds the embedded SQLite store (or the PostgreSQL database of --database-url) with the demo
data set (about 10 messages per conversation, so 100k conversations is about 1 million
messages; kept between runs), then measures in the same run:

Building the copy (the cold path's own work):

- baseline: ``pandas.read_sql`` of both tables (every column the copy holds);
- build: ``AnalyticsService.refresh()`` with no copy yet (bulk ADBC read into DuckDB);
- refresh after +1%: 1% more messages appended (1,000 conversations of 10 messages for the
  default store), then ``refresh()`` (only rows above the watermark are read).

Answers, ``analyze_conversations`` + ``identify_failures`` over all companies, end to end:

- baseline: ``pandas.read_sql`` of both tables and the same figures computed in pandas;
- cold: the analytics service with no copy yet (it builds its DuckDB copy first);
- warm: a fresh service object (as a new CLI or tool call would make) whose copy is in step;
- incremental: after 1,000 new conversations are appended, the next call (copy catches up).

Prints two tables with the median of --repeat runs (cold runs are single runs), the ratio
to the baseline and whether it meets the issue's goal (at least 4x faster).
"""

from __future__ import annotations

import argparse
import resource
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


def read_tables(engine: sa.Engine) -> int:
    """The baseline of the build: ``pandas.read_sql`` of every column the copy holds."""
    conv = pd.read_sql(
        "SELECT id, company_id, config_version, channel, model, started_at, ended_at, resolved, "
        "escalated, satisfaction, user_ref FROM conversations",
        engine,
    )
    msgs = pd.read_sql(
        "SELECT id, conversation_id, seq, role, content, created_at, latency_ms, prompt_tokens, "
        "completion_tokens, cost_usd, model, is_fallback, error FROM messages",
        engine,
    )
    return len(conv) + len(msgs)


def refresh_copy(database: Database, settings: Settings, copy_dir: Path) -> None:
    """Bring the copy in step with the store (builds it when there is none)."""
    AnalyticsService(database, settings, copy_dir=copy_dir).refresh()


def service_path(database: Database, settings: Settings, copy_dir: Path) -> dict[str, Any]:
    """The analytics service: a new object per call, as a CLI or tool call would use."""
    service = AnalyticsService(database, settings, copy_dir=copy_dir)
    scope = service.scope()
    conv = service.analyze_conversations(scope)
    failures = service.identify_failures(scope, slow_ms=SLOW_MS)
    return {"conversations": conv.conversations, "groups": len(failures.groups)}


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the SQLite export processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(
    function: Callable[[], Any], repeat: int, before: Callable[[], None] | None = None
) -> tuple[float, float]:
    """Median wall-clock and CPU seconds of ``repeat`` calls (``before`` runs untimed)."""
    walls, cpus = [], []
    for _ in range(repeat):
        if before is not None:
            before()
        start, cpu = time.perf_counter(), cpu_seconds()
        function()
        walls.append(time.perf_counter() - start)
        cpus.append(cpu_seconds() - cpu)
    return statistics.median(walls), statistics.median(cpus)


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


def count_messages(database: Database) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM messages")).scalar_one())


def seeded_sqlite(home: Path, conversations: int) -> Database:
    """The SQLite store with the demo data set, seeded on first use and kept in ``home``."""
    database = Database(f"sqlite:///{home / 'masterai.db'}")
    database.upgrade()
    if count_messages(database) == 0:
        print(f"seeding {conversations:,} conversations into {home} (once) ...", flush=True)
        start = time.perf_counter()
        seed_demo(
            database,
            conversations=conversations,
            end_date=END,
            seed=7,
            turn_probability=0.16,
            max_turns=10,
        )
        print(f"seeded in {time.perf_counter() - start:.1f} s", flush=True)
    return database


def fill_postgres(source: Database, target: Database) -> None:
    """Copy the SQLite store's companies, conversations and messages into PostgreSQL.

    ``COPY ... FROM STDIN`` of the same rows takes a fraction of seeding them again.
    """
    src = source.engine.raw_connection()
    raw = target.engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        with driver.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")  # SQLite's timestamps are UTC text
            for table in ("companies", "conversations", "messages"):
                names = [r[1] for r in src.execute(f"PRAGMA table_info({table})").fetchall()]
                listed = ", ".join(f'"{n}"' for n in names)
                rows = src.cursor()
                rows.execute(f"SELECT {listed} FROM {table}")
                with cur.copy(f"COPY {table} ({listed}) FROM STDIN") as copy:
                    while batch := rows.fetchmany(10_000):
                        for row in batch:
                            copy.write_row(row)
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('messages', 'id'), "
                "(SELECT max(id) FROM messages))"
            )
        driver.commit()
    finally:
        raw.close()
        src.close()


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
    sqlite_store = seeded_sqlite(home, args.conversations)
    if args.database_url:
        home = home / "postgres"
        database = Database(args.database_url)
        database.upgrade()
        if count_messages(database) == 0:
            print(f"copying the SQLite store into {database.display_url} (once) ...", flush=True)
            start = time.perf_counter()
            fill_postgres(sqlite_store, database)
            print(f"copied in {time.perf_counter() - start:.1f} s", flush=True)
    else:
        database = sqlite_store
    settings = Settings(home=home)
    with database.session() as session:  # conversations appended by earlier runs
        bench = sa.select(Conversation.id).where(Conversation.id.like("bench-%"))
        session.execute(sa.delete(Message).where(Message.conversation_id.in_(bench)))
        session.execute(sa.delete(Conversation).where(Conversation.id.like("bench-%")))
    with database.engine.connect() as conn:
        messages = conn.execute(sa.text("SELECT count(*) FROM messages")).scalar_one()
        conversations = conn.execute(sa.text("SELECT count(*) FROM conversations")).scalar_one()
    kind = database.dialect if args.database_url else "SQLite, WAL"
    print(f"store: {conversations:,} conversations, {messages:,} messages ({kind})")

    salt = [0]
    build_dir = home / "bench-build"
    added = max(1, messages // 1000)  # conversations of 10 messages: 1% more messages
    read = timed(lambda: read_tables(database.engine), args.repeat)
    build = timed(
        lambda: refresh_copy(database, settings, build_dir),
        args.repeat,
        before=lambda: shutil.rmtree(build_dir, ignore_errors=True),
    )
    refresh = timed(
        lambda: refresh_copy(database, settings, build_dir),
        args.repeat,
        before=lambda: append_conversations(database, added, salt),
    )
    print_table(
        "building the copy",
        ("pandas.read_sql of both tables (baseline)", read),
        [
            ("build the DuckDB copy (bulk read)", build),
            (f"refresh after +1% ({added * 10:,} messages)", refresh),
        ],
    )

    copy_dir = home / "bench-copy"
    baseline = timed(lambda: pandas_path(database.engine), args.repeat)
    cold = timed(
        lambda: service_path(database, settings, copy_dir),
        1,
        before=lambda: shutil.rmtree(copy_dir, ignore_errors=True),
    )
    warm = timed(lambda: service_path(database, settings, copy_dir), args.repeat)
    incremental = timed(
        lambda: service_path(database, settings, copy_dir),
        args.repeat,
        before=lambda: append_conversations(database, added, salt),
    )
    print_table(
        "analyze_conversations + identify_failures",
        ("pandas.read_sql + pandas (baseline)", baseline),
        [
            ("service, cold (builds the DuckDB copy)", cold),
            ("service, warm (copy in step)", warm),
            (f"service, after +{added:,} conversations", incremental),
        ],
    )


Timing = tuple[float, float]


def print_table(title: str, baseline: tuple[str, Timing], rows: list[tuple[str, Timing]]) -> None:
    """One table: wall-clock seconds, their ratio to the baseline and the issue's goal (>= 4x
    faster), then CPU seconds and their ratio (steadier than wall-clock on a busy machine;
    a PostgreSQL server's own CPU is not counted)."""
    print(
        f"\n{title:<44} {'seconds':>8} {'vs baseline':>12} {'goal >= 4x':>11} "
        f"{'cpu s':>7} {'cpu vs base':>12}"
    )
    base_wall, base_cpu = baseline[1]
    print(
        f"{baseline[0]:<44} {base_wall:>8.3f} {1.0:>11.1f}x {'':>11} {base_cpu:>7.2f} {1.0:>11.1f}x"
    )
    for name, (wall, cpu) in rows:
        ratio = base_wall / wall
        verdict = "met" if ratio >= GOAL else "NOT met"
        print(
            f"{name:<44} {wall:>8.3f} {ratio:>11.1f}x {verdict:>11} "
            f"{cpu:>7.2f} {base_cpu / cpu:>11.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
