"""Benchmark realtime monitors: messages per second through a trivial realtime custom tool.

Run: ``.venv/bin/python benchmarks/monitors.py [--messages 400] [--cold 20]`` (bubblewrap
needed).

Everything is real: a SQLite store, the registry (the tool is created, tested and activated
through ``registry``), the importer queueing messages, the monitor loop and the bubblewrap
sandbox. In one run of this script:

- built-in monitors only (no custom tool): queued messages per second through
  ``MonitorProcessor.process_once`` (secrets scan, queue claim and delete);
- warm path: the same with one active realtime tool; each batch of assistant messages is one
  registry call, ``registry.run_realtime_batch`` (one audit record, one sandbox process);
- cold path (the baseline): one such registry call, so one sandbox process, per message,
  over ``--cold`` messages.

The ratio is warm against cold, in assistant messages (what the tool runs on) per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform as host
import shutil
import tempfile
import time
from pathlib import Path

from masterai.app import Platform
from masterai.registry import ExecutionContext, approve_all
from masterai.security import UserDirectory
from masterai.services.alerts import MonitorProcessor, message_record
from masterai.services.alerts.queue import claim
from masterai.settings import MonitorSettings, SandboxSettings, Settings

TOOL_CODE = 'def run(args, ctx):\n    return {"alert": "competitor" in args["text"]}\n'


def conversations(count: int, prefix: str) -> str:
    """``count`` conversations of a user message and an assistant answer, as JSONL."""
    lines = []
    for i in range(count):
        messages = [
            {"role": "user", "content": f"question {i}", "created_at": "2027-03-01T10:00:00Z"},
            {"role": "assistant", "content": f"answer {i}", "created_at": "2027-03-01T10:00:01Z"},
        ]
        lines.append(json.dumps({"id": f"{prefix}{i}", "company_id": "acme", "messages": messages}))
    return "\n".join(lines) + "\n"


async def setup(home: Path, run_dir: Path, batch: int) -> Platform:
    settings = Settings(
        home=home,
        sandbox=SandboxSettings(backend="bubblewrap", run_dir=run_dir),
        monitors=MonitorSettings(batch_size=batch),
    )
    platform = Platform(settings)
    directory = UserDirectory(platform.database)
    directory.add_company("acme", "Acme")
    directory.add_user("admin", "super_admin")
    platform.ensure_audit_key()
    return platform


async def call(platform: Platform, tool: str, **args: object) -> None:
    context = ExecutionContext(principal=platform.principal("admin"), approver=approve_all)
    result = await platform.call(tool, dict(args), context)
    assert result.ok, result.error


async def activate(platform: Platform) -> None:
    await call(
        platform, "registry", operation="create_custom_tool", name="trivial",
        description="benchmark", code=TOOL_CODE, trigger="realtime", companies=["acme"],
        parameters={"type": "object", "properties": {"text": {"type": "string"}}},
        tests=[{"arguments": {"text": "hi"}, "expected": {"alert": False}}],
    )  # fmt: skip
    await call(platform, "registry", operation="test_custom_tool", name="trivial")
    await call(platform, "registry", operation="activate_custom_tool", name="trivial", version=1)


async def drain(platform: Platform, processor: MonitorProcessor, count: int, prefix: str) -> float:
    """Seconds to process ``count`` conversations (2 messages each) once queued."""
    await processor.process_once()  # earlier audit records, examined before the clock starts
    await call(
        platform, "analytics", operation="import_conversations", format="jsonl",
        content=conversations(count, prefix),
    )  # fmt: skip
    started = time.perf_counter()
    done = 0
    while True:
        report = await processor.process_once()
        assert report.failures == 0
        if report.messages == 0:
            break
        done += report.messages
    assert done == 2 * count, done
    return time.perf_counter() - started


async def cold(platform: Platform, count: int) -> float:
    """Seconds to run the tool on ``count`` assistant messages, one sandbox per message."""
    await call(
        platform, "analytics", operation="import_conversations", format="jsonl",
        content=conversations(count, "cold"),
    )  # fmt: skip
    batch = await asyncio.to_thread(claim, platform.database, limit=2 * count, lease_seconds=600)
    context = ExecutionContext(principal=platform.principal("admin"))
    answers = [m for m in batch if m.role == "assistant"]
    started = time.perf_counter()
    for message in answers:
        params = {
            "operation": "run_realtime_batch", "name": "trivial",
            "company_id": message.company_id, "messages": [message_record(message)],
        }  # fmt: skip
        result = await platform.call("registry", params, context)
        assert result.ok, result.error
    return time.perf_counter() - started


async def main(messages: int, cold_count: int) -> None:
    count = messages // 2
    home = Path(tempfile.mkdtemp(prefix="masterai-bench-monitors-"))
    run_dir = Path(tempfile.mkdtemp(prefix="masterai-bench-runs-"))
    run_dir.chmod(0o755)
    platform = await setup(home / "home", run_dir, batch=messages)
    try:
        builtin = await drain(
            platform, MonitorProcessor(platform.database, platform.settings.monitors), count, "b"
        )
        await activate(platform)
        warm = await drain(platform, platform.monitor_processor(), count, "w")
        cold_seconds = await cold(platform, cold_count)
    finally:
        platform.close()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(run_dir, ignore_errors=True)
    warm_rate = count / warm
    cold_rate = cold_count / cold_seconds
    print(f"{host.processor() or host.machine()}, {messages} messages ({count} assistant)")
    print("| path | messages/s | assistant messages/s | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| built-in monitors only | {2 * count / builtin:,.0f} | - | - |")
    print(f"| cold: one sandbox per message (baseline) | - | {cold_rate:,.1f} | 1.00x |")
    print(
        f"| warm: one sandbox per batch | {2 * count / warm:,.0f} | {warm_rate:,.1f} | "
        f"{warm_rate / cold_rate:,.1f}x |"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400, help="messages per measured set")
    parser.add_argument("--cold", type=int, default=20, help="messages on the cold path")
    options = parser.parse_args()
    asyncio.run(main(options.messages, options.cold))
