"""Benchmark the audited tool registry: per-call overhead, audit appends, concurrency, verify.

Run: ``.venv/bin/python benchmarks/registry.py [--calls 300] [--database URL]``

The baseline, measured in the same run, is calling the clock tool's ``execute()`` directly
(no permission check, validation, time limit or audit). Each registry call adds the policy
decision, argument checks and one hash-chained audit append (a committed write).
``--database postgresql://postgres@127.0.0.1:5432/test`` runs in a fresh temporary database
on that server (dropped afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ai_tool import AIToolCall
from ai_tool.clock import ClockAITool
from masterai.audit import AuditEntry
from masterai.registry import ExecutionContext, ToolRegistry
from masterai.security import system_principal
from masterai.store import Database, normalize_url

ROOT = ExecutionContext(principal=system_principal("bench"))
PARAMS = {"operation": "get_time"}


@contextmanager
def scratch_database(url: str | None) -> Iterator[str]:
    if url is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    server = make_url(normalize_url(url))
    name = f"masterai_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


async def timed(coro_factory, n: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for _ in range(n):
        await coro_factory()
    return (time.perf_counter() - started) * 1000


async def measure(url: str, calls: int) -> list[tuple[str, int, float]]:
    database = Database(url)
    database.upgrade()
    registry = ToolRegistry(database)
    clock = ClockAITool()
    registry.register(clock)
    call = AIToolCall(id="b", name="clock", arguments=PARAMS)

    async def direct() -> None:
        await clock.execute(call, None, None)  # type: ignore[arg-type]

    async def audited() -> None:
        assert (await registry.execute_tool("clock", PARAMS, ROOT)).ok

    async def append() -> None:
        await asyncio.to_thread(
            registry.audit_log.append, AuditEntry(tool="clock", status="ok", params=PARAMS)
        )

    await audited()  # warm-up: imports, connection pool
    rows = [
        ("baseline: ClockAITool.execute() directly", calls, await timed(direct, calls)),
        ("registry.execute_tool (audited), sequential", calls, await timed(audited, calls)),
        ("audit append alone, sequential", calls, await timed(append, calls)),
    ]
    started = time.perf_counter()
    results = await asyncio.gather(
        *(registry.execute_tool("clock", PARAMS, ROOT) for _ in range(200))
    )
    assert all(r.ok for r in results)
    rows.append(("200 concurrent execute_tool calls", 200, (time.perf_counter() - started) * 1000))
    count = registry.audit_log.count()
    started = time.perf_counter()
    assert registry.audit_log.verify().ok
    rows.append((f"audit verify ({count} records)", count, (time.perf_counter() - started) * 1000))
    database.dispose()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--database", help="PostgreSQL server URL (default: temporary SQLite)")
    args = parser.parse_args()
    with scratch_database(args.database) as url:
        rows = asyncio.run(measure(url, args.calls))
    print(
        f"# registry benchmark, {platform.python_version()} on {platform.machine()}, "
        f"{make_url(url).get_backend_name()}"
    )
    print(f"{'what':<46}{'n':>6}{'total ms':>11}{'per item ms':>13}")
    for what, n, total in rows:
        print(f"{what:<46}{n:>6}{total:>11.1f}{total / n:>13.3f}")
    base = rows[0][2] / rows[0][1]
    per_call = rows[1][2] / rows[1][1]
    print(
        f"ratio audited call / direct call: {per_call / base:.1f}x "
        f"(overhead {per_call - base:.3f} ms per call)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
