"""Benchmark what custom tools add to registry calls, and a custom tool call's own cost.

Run: ``.venv/bin/python benchmarks/custom_tools.py [--calls 300] [--runs 10]``

1. The refresher that keeps active custom tools in step with the store reads one counter row
   before a lookup. Baseline: ``clock.get_time`` through a registry without it; then with it,
   checking on every call (``refresh_ms=0``) and at most every 250 ms (the default).
2. A custom tool call (argument check against its schema, the sandboxed run, output check)
   against ``code.execute_code`` of the same program as the same super admin (baseline):
   both pay one sandbox process; the difference is the custom tool's own work.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from masterai.app import Platform
from masterai.registry import ExecutionContext, approve_all
from masterai.security import system_principal
from masterai.settings import CustomToolSettings, Settings

CODE = "def run(args, ctx):\n    return {'n': args['n'] + 1}\n"
PROGRAM = "import json, sys\nargs = json.load(sys.stdin)\nprint(json.dumps({'n': args['n'] + 1}))\n"
TOOL: dict[str, Any] = {
    "name": "bench_increment",
    "description": "Adds one",
    "parameters": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
    "code": CODE,
    "output_schema": {"type": "object", "required": ["n"]},
    "tests": [{"arguments": {"n": 1}, "expected": {"n": 2}}],
}


async def timed(calls: int, call: Any) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        result = await call()
        assert result.ok, result.error
    return (time.perf_counter() - started) / calls * 1000


async def clock_calls(home: Path, calls: int, refresh_ms: int | None) -> float:
    settings = Settings(home=home, custom_tools=CustomToolSettings(refresh_ms=refresh_ms or 0))
    app = Platform(settings)
    if refresh_ms is None:
        app.registry._refreshers.clear()  # baseline: a registry without the refresher
    context = ExecutionContext(principal=system_principal("bench"))
    params = {"operation": "get_time"}
    await timed(20, lambda: app.call("clock", params, context))  # warm-up
    per_call = await timed(calls, lambda: app.call("clock", params, context))
    app.close()
    return per_call


async def sandbox_calls(home: Path, runs: int) -> tuple[float, float]:
    app = Platform(Settings(home=home, custom_tools=CustomToolSettings(refresh_ms=0)))
    context = ExecutionContext(principal=system_principal("bench"), approver=approve_all)
    for operation, args in (
        ("create_custom_tool", TOOL),
        ("test_custom_tool", {"name": TOOL["name"]}),
        ("activate_custom_tool", {"name": TOOL["name"], "version": 1}),
    ):
        result = await app.call("registry", {"operation": operation, **args}, context)
        assert result.ok, (operation, result.error)
    execute = {"operation": "execute_code", "language": "python", "code": PROGRAM}
    execute["stdin"] = '{"n": 1}'
    await app.call("code", execute, context)  # warm-up
    baseline = await timed(runs, lambda: app.call("code", execute, context))
    custom = await timed(runs, lambda: app.call(TOOL["name"], {"n": 1}, context))
    app.close()
    return baseline, custom


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bare = asyncio.run(clock_calls(root / "a", args.calls, None))
        every = asyncio.run(clock_calls(root / "b", args.calls, 0))
        throttled = asyncio.run(clock_calls(root / "c", args.calls, 250))
        baseline, custom = asyncio.run(sandbox_calls(root / "d", args.runs))
    print(f"# custom tools: {args.calls} clock calls, {args.runs} sandbox calls (SQLite)")
    print(f"# {platform.python_version()} on {platform.machine()}")
    row = "{:<58}{:>10.3f}{:>8.2f}x"
    print(f"{'what':<58}{'ms/call':>10}{'ratio':>9}")
    print(row.format("baseline: clock.get_time, registry without the refresher", bare, 1.0))
    print(row.format("with the refresher, counter read on every call", every, every / bare))
    print(row.format("with the refresher, refresh_ms=250 (default)", throttled, throttled / bare))
    print(row.format("baseline: code.execute_code of the same program", baseline, 1.0))
    print(row.format("custom tool call (schema, sandbox, output check)", custom, custom / baseline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
