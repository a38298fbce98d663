"""Benchmark ``process_csv`` (DuckDB, through the registry) against pandas on the same file.

Run: ``.venv/bin/python benchmarks/csv_processing.py [--rows 1000000] [--rounds 3]``

A CSV of ``--rows`` rows (id, region of 7, product of 50, amount) is written into a temporary
workspace. Each round runs the same filter and aggregate both ways, in the same run:

- ``process_csv``: one ``integration`` call through the real ``ToolRegistry`` (permission
  check, validation, audit) — read, ``amount > 50``, group by region: count and sum;
- pandas (the baseline): ``read_csv``, the same filter, ``groupby().agg``.

Both results are compared before any time is printed. The table shows the median seconds of
each and the ratio (pandas / process_csv; above 1 means process_csv is faster).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd

from masterai.registry import ExecutionContext
from masterai.security import system_principal
from masterai.settings import Settings
from masterai.store import Database
from masterai.tools import build_registry

FILE = "companies/bench/sales.csv"
STEPS = [
    {"op": "filter", "where": "amount > 50"},
    {"op": "aggregate", "by": "region", "metrics": {"n": "count(*)", "total": "sum(amount)"}},
    {"op": "sort", "by": "region"},
]


def write_csv(path: Path, rows: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    duckdb.sql(
        "COPY (SELECT i AS id, 'r' || (i % 7) AS region, 'p' || (i % 50) AS product, "
        f"(i * 37 % 1000) / 10.0 AS amount FROM range({rows}) t(i)) TO '{path}' (HEADER)"
    )


def with_pandas(path: Path) -> dict[str, tuple[int, float]]:
    frame = pd.read_csv(path)
    kept = frame[frame["amount"] > 50]
    grouped = kept.groupby("region")["amount"].agg(["count", "sum"])
    return {str(k): (int(r["count"]), round(float(r["sum"]), 3)) for k, r in grouped.iterrows()}


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home")
        database = Database(f"sqlite:///{tmp}/bench.db")
        database.upgrade()
        registry = build_registry(settings, database)
        context = ExecutionContext(principal=system_principal("bench"))
        path = settings.workspace / FILE
        write_csv(path, args.rows)

        async def with_tool() -> dict[str, tuple[int, float]]:
            result = await registry.execute_tool(
                "integration",
                {"operation": "process_csv", "file": FILE, "operations": STEPS},
                context,
            )
            assert result.ok, result.error
            return {
                r["region"]: (int(r["n"]), round(float(r["total"]), 3))
                for r in result.data["result"]["preview"]
            }

        tool_times, pandas_times = [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            ours = asyncio.run(with_tool())
            tool_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            theirs = with_pandas(path)
            pandas_times.append(time.perf_counter() - started)
            if ours != theirs:
                sys.exit(f"results differ:\n process_csv {ours}\n pandas      {theirs}")
        database.dispose()
    tool, base = statistics.median(tool_times), statistics.median(pandas_times)
    print(f"filter + aggregate over {args.rows:,} CSV rows, median of {args.rounds} rounds")
    print(
        f"python {platform.python_version()}, duckdb {duckdb.__version__}, pandas {pd.__version__}"
    )
    print(f"{'what':<34}{'seconds':>10}")
    print(f"{'process_csv (registry + DuckDB)':<34}{tool:>10.3f}")
    print(f"{'pandas read_csv + groupby':<34}{base:>10.3f}")
    print(f"{'ratio pandas / process_csv':<34}{base / tool:>10.2f}")


if __name__ == "__main__":
    main()
