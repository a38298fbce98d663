"""Benchmark the Master AI agent's framework overhead per plan step (model latency excluded).

Run: ``.venv/bin/python benchmarks/agent.py [--steps 20] [--rounds 5] [--database URL]``

A scripted model proposes one plan of ``--steps`` read-only ``clock.get_time`` steps; the
agent approves it (``ApproveAll``), runs every step through the real ``ToolRegistry``
(permissions, validation, audit) and stores plan, steps and approvals after each change, then
synthesises. The baseline, measured in the same run, is the same number of bare
``registry.execute_tool`` calls: what any caller pays for audited tool calls. The agent's own
cost per step is the difference, divided by the number of steps.
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

from ai_tool.clock import ClockAITool
from masterai.agent import ApproveAll, MasterAI
from masterai.llm import ScriptedModel
from masterai.registry import ExecutionContext, ToolRegistry
from masterai.security import system_principal
from masterai.settings import AgentSettings
from masterai.store import Database

ROOT = ExecutionContext(principal=system_principal("bench"))


def plan_script(steps: int) -> ScriptedModel:
    plan = {
        "summary": f"{steps} clock reads",
        "steps": [
            {"tool": "clock", "operation": "get_time", "arguments": {}, "purpose": f"read {n}"}
            for n in range(steps)
        ],
    }
    return ScriptedModel(
        [ScriptedModel.call("propose_plan", plan), ScriptedModel.reply("done")], chunk_size=64
    )


async def registry_only(registry: ToolRegistry, steps: int) -> float:
    started = time.perf_counter()
    for _ in range(steps):
        result = await registry.execute_tool("clock", {"operation": "get_time"}, ROOT)
        assert result.ok, result.error
    return time.perf_counter() - started


async def agent_turn(database: Database, registry: ToolRegistry, steps: int) -> float:
    agent = MasterAI(
        model=plan_script(steps),
        registry=registry,
        approver=ApproveAll(),
        database=database,
        settings=AgentSettings(max_steps=steps),
    )
    started = time.perf_counter()
    response = await agent.process_request("read the clock", ROOT)
    elapsed = time.perf_counter() - started
    assert response.status == "completed", response.text
    return elapsed


async def measure(url: str, steps: int, rounds: int) -> tuple[list[float], list[float]]:
    database = Database(url)
    database.upgrade()
    registry = ToolRegistry(database)
    registry.register(ClockAITool(), category="clock")
    await agent_turn(database, registry, steps)  # warm-up: imports, prepared statements
    bare, agent = [], []
    for _ in range(rounds):
        bare.append(await registry_only(registry, steps))
        agent.append(await agent_turn(database, registry, steps))
    database.dispose()
    return bare, agent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", help="SQLAlchemy URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.db'}"
        bare, agent = asyncio.run(measure(url, args.steps, args.rounds))
    n = args.steps
    bare_ms = statistics.median(bare) * 1000
    agent_ms = statistics.median(agent) * 1000
    print(f"# agent overhead: {n}-step plan, median of {args.rounds} rounds")
    print(f"# {platform.python_version()} on {platform.machine()}, {url.split(':')[0]}")
    row = "{:<48}{:>10.1f}{:>13.2f}"
    print(f"{'what':<48}{'total ms':>10}{'per step ms':>13}")
    print(row.format("baseline: bare registry.execute_tool calls", bare_ms, bare_ms / n))
    print(row.format("agent turn (plan, approve, run, store, answer)", agent_ms, agent_ms / n))
    overhead = (agent_ms - bare_ms) / n
    print(f"{'agent overhead per step':<48}{'':>10}{overhead:>13.2f}")
    print(f"ratio agent / baseline: {agent_ms / bare_ms:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
