"""``run_jobs``: the scheduler and the workers of one process, until stopped."""

from __future__ import annotations

import asyncio
import uuid

from masterai.jobs.clock import Clock, system_clock
from masterai.jobs.queue import InProcessQueue
from masterai.jobs.runner import Call, RunExecutor, worker_name
from masterai.jobs.scheduler import Scheduler
from masterai.services.scripts import ScriptService
from masterai.settings import JobsSettings
from masterai.store import Database


async def run_jobs(
    database: Database,
    call: Call,
    settings: JobsSettings,
    stop: asyncio.Event,
    *,
    queue_url: str | None = None,
    clock: Clock = system_clock,
) -> None:
    """Run a scheduler (standing by unless it holds the lease) and workers until ``stop``.

    Without ``queue_url`` (or ``settings.queue``) the workers are tasks of this process; with
    a ``redis://`` URL they serve the shared SAQ queue, and the scheduler enqueues there.
    """
    executor = RunExecutor(database, call, ScriptService(database, clock=clock))
    holder = f"{worker_name()}:{uuid.uuid4().hex[:8]}"
    url = queue_url or settings.queue
    if url:
        from masterai.jobs.redis import RedisQueue

        redis_queue = RedisQueue(url, executor, settings=settings)
        scheduler = Scheduler(database, redis_queue, settings, holder=holder, clock=clock)
        await asyncio.gather(redis_queue.run(stop), scheduler.run(stop))
        return
    local = InProcessQueue(executor, workers=settings.workers)
    scheduler = Scheduler(database, local, settings, holder=holder, clock=clock)
    await asyncio.gather(local.run(stop), scheduler.run(stop))
