"""Benchmark ``AITool.execute()`` dispatch and schema export.

Run: ``.venv/bin/python benchmarks/ai_tool_dispatch.py [--calls N] [--check]``

Prints median and p99 microseconds per ``execute()`` of a no-op operation with three typed
parameters, with and without argument type checking, against a direct handler call as the
floor; then the time to export 1, 10 and 100 tools to JSON Schema and the OpenAI format.
With ``--check`` it exits non-zero when checked dispatch costs more than 2.0x unchecked or
leaves single-digit microseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ai_tool import (
    AITool,
    AIToolCall,
    AIToolDefinition,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
    to_openai_tool,
    tool_json_schema,
)


class BenchAITool(AITool):
    """Five operations; ``noop`` takes a string, an integer and a boolean."""

    type_check_arguments = True

    def get_definition(self) -> AIToolDefinition:
        return self._build_definition_from_operations(
            "bench",
            "Benchmark tool.",
            [
                AIToolParameter("path", "string", "A path", required=False),
                AIToolParameter("count", "integer", "A count", required=False),
                AIToolParameter("recursive", "boolean", "A flag", required=False),
                AIToolParameter(
                    "tags",
                    "array",
                    "Tags",
                    required=False,
                    items=AIToolParameter("tag", "string", "A tag"),
                ),
                AIToolParameter(
                    "mode", "string", "Mode", required=False, enum=["fast", "slow", "auto"]
                ),
            ],
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        ops = {
            "noop": AIToolOperationDefinition(
                "noop",
                self._noop,
                None,
                {"path", "count", "recursive"},
                {"path", "count", "recursive"},
                "Do nothing",
            )
        }
        for name in ("read", "write", "list", "tag"):
            ops[name] = AIToolOperationDefinition(
                name, self._noop, None, {"path", "tags", "mode"}, {"path"}, f"{name} things"
            )
        return ops

    async def _noop(self, tool_call: AIToolCall, requester_ref: Any, auth: Any) -> AIToolResult:
        return AIToolResult(id=tool_call.id, name="bench", content="")


class UncheckedBenchAITool(BenchAITool):
    type_check_arguments = False


async def allow(*args: Any) -> bool:
    return True


async def time_calls(fn: Callable[[], Awaitable[Any]], calls: int) -> list[float]:
    """Return per-call microseconds (after a warm-up)."""
    for _ in range(min(calls, 2000)):
        await fn()
    samples = []
    clock = time.perf_counter_ns
    gc.collect()
    for _ in range(calls):
        start = clock()
        await fn()
        samples.append((clock() - start) / 1000)
    return samples


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


async def dispatch_rows(calls: int) -> list[tuple[str, float, float]]:
    tool_call = AIToolCall(
        "c1", "bench", {"operation": "noop", "path": "a/b.txt", "count": 3, "recursive": False}
    )
    checked, unchecked = BenchAITool(), UncheckedBenchAITool()
    handler = checked._noop
    variants = {
        "handler called directly (floor)": lambda: handler(tool_call, None, allow),
        "execute(), unchecked": lambda: unchecked.execute(tool_call, None, allow),
        "execute(), type-checked": lambda: checked.execute(tool_call, None, allow),
    }
    rows = []
    for label, fn in variants.items():
        samples = await time_calls(fn, calls)
        rows.append((label, statistics.median(samples), p99(samples)))
    return rows


def export_rows(repeats: int = 20) -> list[tuple[int, float, float]]:
    rows = []
    for count in (1, 10, 100):
        tools = [BenchAITool() for _ in range(count)]
        results = {}
        for name, export in (("json", tool_json_schema), ("openai", to_openai_tool)):
            times = []
            for _ in range(repeats):
                start = time.perf_counter_ns()
                for tool in tools:
                    export(tool)
                times.append((time.perf_counter_ns() - start) / 1e6)
            results[name] = statistics.median(times)
        rows.append((count, results["json"], results["openai"]))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000, help="timed calls per variant")
    parser.add_argument("--check", action="store_true", help="fail when a goal is missed")
    args = parser.parse_args()
    if args.calls < 100:
        parser.error(f"--calls must be at least 100; got {args.calls}")

    exports = export_rows()  # first: a heap grown by the dispatch samples slows GC passes
    rows = asyncio.run(dispatch_rows(args.calls))
    print(f"Python {platform.python_version()} on {platform.machine()}, {args.calls} calls each\n")
    print(f"{'dispatch of a no-op with 3 typed parameters':<44} {'median µs':>10} {'p99 µs':>9}")
    for label, median, tail in rows:
        print(f"{label:<44} {median:>10.2f} {tail:>9.2f}")
    unchecked, checked = rows[1][1], rows[2][1]
    ratio = checked / unchecked
    print(f"{'ratio checked / unchecked (goal <= 2.0)':<44} {ratio:>10.2f}")

    print(f"\n{'schema export':<20} {'tool_json_schema ms':>20} {'to_openai_tool ms':>18}")
    for count, json_ms, openai_ms in exports:
        print(f"{f'{count} tool(s)':<20} {json_ms:>20.3f} {openai_ms:>18.3f}")

    if args.check and (ratio > 2.0 or checked >= 10.0):
        print(f"\nFAIL: ratio {ratio:.2f} (goal <= 2.0), checked median {checked:.2f} µs (< 10)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
