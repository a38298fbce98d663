"""A custom tool with trigger ``schedule`` runs through the scheduler, as its owner."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from custom_support import custom_platform, ready_tool, registry

from masterai.jobs import InProcessQueue, ManualClock, RunExecutor, Scheduler
from masterai.services.scripts import ScriptService
from masterai.settings import JobsSettings
from masterai.store import Database
from masterai.store.models.audit import AuditRecord
from masterai.store.models.scripts import Script, ScriptRun, ScriptSchedule

HOURLY = {
    "name": "hourly_check",
    "description": "Counts to one every hour",
    "parameters": {"type": "object"},
    "code": "def run(args, ctx):\n    return {'checked': True, 'by': ctx['principal']}\n",
    "tests": [{"arguments": {}, "expected": {"checked": True, "by": "alice"}}],
    "trigger": "schedule",
    "schedule": "0 * * * *",
}


async def test_a_scheduled_tool_runs_on_its_cron_tick_through_the_registry(
    database: Database, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2027, 3, 1, 9, 59, tzinfo=UTC))
    with custom_platform(database, tmp_path) as platform:
        await ready_tool(platform, "alice", HOURLY)
        with database.session() as session:
            session.execute(sa.update(ScriptSchedule).values(checked_until=clock()))
        queue = InProcessQueue(
            RunExecutor(database, platform.call, ScriptService(database)), workers=1
        )
        scheduler = Scheduler(database, queue, JobsSettings(), holder="test", clock=clock)

        before = await scheduler.run_pass()
        clock.advance(timedelta(minutes=2))
        after = await scheduler.run_pass()
        stop = asyncio.Event()
        serving = asyncio.create_task(queue.run(stop))
        async with asyncio.timeout(60):
            await queue.join()
        stop.set()
        await serving

    assert before.queued == [] and len(after.queued) == 1
    with database.session() as session:
        run = session.get(ScriptRun, after.queued[0])
        assert run is not None
        assert run.status == "succeeded", (run.error, run.result)
        calls = session.scalars(
            sa.select(AuditRecord).where(AuditRecord.tool == "hourly_check")
        ).all()
    assert [(c.user_name, c.status) for c in calls] == [("alice", "ok")]


async def test_disabling_a_scheduled_tool_removes_its_schedule(
    database: Database, tmp_path: Path
) -> None:
    with custom_platform(database, tmp_path) as platform:
        await ready_tool(platform, "alice", HOURLY)
        with database.session() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Script)) == 1

        assert (await registry(platform, "alice", "disable_custom_tool", name="hourly_check")).ok

        with database.session() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(Script)) == 0
