"""Workers: a run whose worker died is taken again and its record shows both attempts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from scripts_support import code, platform_over, result_of

from masterai.jobs import InProcessQueue, RunExecutor, Scheduler
from masterai.services.scripts import ScriptService
from masterai.settings import JobsSettings
from masterai.store import Database
from masterai.store.models import utcnow
from masterai.store.models.scripts import ScriptRun, ScriptSchedule


async def test_a_run_whose_worker_died_is_retried_and_shows_both_attempts(
    database: Database, tmp_path: Path
) -> None:
    with platform_over(database, tmp_path) as platform:
        script = result_of(
            await code(
                platform,
                "alice",
                "create_script",
                name="nightly",
                language="python",
                code="print('done')",
                schedule="0 2 * * *",
            )
        )
        service = ScriptService(database)
        schedule_id = script["schedule"]["id"]
        run_id = service.record_tick(schedule_id, utcnow() - timedelta(hours=1))
        assert run_id is not None
        assert service.claim_run(run_id, "dead-worker", stale_after=30) is not None
        with database.session() as session:  # the dead worker's last heartbeat, long ago
            session.execute(
                sa.update(ScriptRun).values(heartbeat_at=utcnow() - timedelta(minutes=10))
            )
            session.execute(sa.update(ScriptSchedule).values(enabled=False))
        queue = InProcessQueue(RunExecutor(database, platform.call, service), workers=1)
        report = await Scheduler(database, queue, JobsSettings(), holder="h").run_pass()
        stop = asyncio.Event()
        serving = asyncio.create_task(queue.run(stop))
        async with asyncio.timeout(30):
            await queue.join()
        stop.set()
        await serving
        run = result_of(await code(platform, "alice", "get_run", run_id=run_id))

    assert report.retried == [run_id]
    assert run["status"] == "succeeded" and run["stdout"] == "done\n"
    assert [(a["attempt"], a["worker"], a["outcome"]) for a in run["attempts"]] == [
        (1, "dead-worker", "lost"),
        (2, run["attempts"][1]["worker"], "succeeded"),
    ]


async def test_a_job_delivered_twice_runs_once(database: Database, tmp_path: Path) -> None:
    with platform_over(database, tmp_path) as platform:
        await code(
            platform,
            "alice",
            "create_script",
            name="once",
            language="python",
            code="print(1)",
            schedule="0 2 * * *",
        )
        service = ScriptService(database)
        with database.session() as session:
            schedule_id = session.scalars(sa.select(ScriptSchedule.id)).one()
        run_id = service.record_tick(schedule_id, utcnow() - timedelta(hours=1))
        assert run_id is not None
        executor = RunExecutor(database, platform.call, service)
        queues = [InProcessQueue(executor, workers=1) for _ in range(2)]  # two workers
        for queue in queues:
            await queue.enqueue(run_id)
            await queue.enqueue(run_id)  # the same job again: not added
        stop = asyncio.Event()
        serving = [asyncio.create_task(queue.run(stop)) for queue in queues]
        async with asyncio.timeout(30):
            for queue in queues:
                await queue.join()
        stop.set()
        await asyncio.gather(*serving)
        run = result_of(await code(platform, "alice", "get_run", run_id=run_id))

    assert [queue.executed for queue in queues] == [1, 1]
    assert run["status"] == "succeeded" and len(run["attempts"]) == 1
