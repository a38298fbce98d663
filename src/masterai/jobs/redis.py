"""``RedisQueue``: runs spread over a fleet of ``masterai worker --queue redis://...`` processes.

SAQ carries the jobs (asyncio-native, at-least-once, retries, sweeping of stuck jobs, abort);
each job holds only a run id. Every job is given explicit limits (SAQ's default time-out is
10 s). Delivery twice is harmless: a worker claims the run in the database first. A worker
that dies mid-run stops beating the run's heartbeat; the scheduler queues the run again after
``stale_after`` and the run record shows both attempts.

A worker also beats each job it holds in Redis (every ``heartbeat`` seconds; SAQ's sweep
takes back a job not beaten for ``stale_after``). Without it, a job taken by a worker that died
before it claimed the run stayed "active" in Redis for the run's whole time-out (an hour):
the run stayed queued, because SAQ drops a job whose key is still incomplete.
"""

from __future__ import annotations

import asyncio
import logging
import math
from contextlib import suppress
from typing import Any

from saq import Job, Queue, Worker
from saq.types import PartialTimersDict

from masterai.jobs.queue import RunJob
from masterai.settings import JobsSettings

JOB = "masterai.run_script"

log = logging.getLogger(__name__)


class RedisQueue:
    """A SAQ queue on Redis and, with :meth:`run`, a worker serving it.

    Args:
        url: ``redis://host:port/db``.
        execute: runs one run id (in the process that takes the job).
        settings: the ``jobs`` settings (concurrency, time-outs, attempts, queue name).
    """

    def __init__(self, url: str, execute: RunJob, *, settings: JobsSettings) -> None:
        self._url = url
        self._execute = execute
        self._settings = settings
        self._name = settings.queue_name
        self._queue: Queue | None = None

    @property
    def queue(self) -> Queue:
        """The SAQ queue (created on first use)."""
        if self._queue is None:
            self._queue = Queue.from_url(self._url, name=self._name)
        return self._queue

    async def enqueue(self, run_id: int, *, attempt: int = 0) -> None:
        """Put the run id on the Redis queue, unless its (run, attempt) job is incomplete there.

        SAQ drops a job whose key is still waiting or running; a finished or lost one (Redis
        restarted without it) is added again.
        """
        await self.queue.enqueue(
            JOB,
            key=f"run-{run_id}-{attempt}",
            run_id=run_id,
            timeout=int(self._settings.run_timeout),
            heartbeat=max(1, math.ceil(self._settings.stale_after)),
            retries=self._settings.max_attempts,
            retry_delay=1.0,
            retry_backoff=True,
        )

    async def _job(self, ctx: dict[str, Any], *, run_id: int) -> None:
        beating = asyncio.create_task(self._beat(ctx["job"]))
        try:
            await self._execute(run_id)
        finally:
            beating.cancel()
            with suppress(asyncio.CancelledError):
                await beating

    async def _beat(self, job: Job) -> None:
        """Touch ``job`` in Redis while it runs here, so the sweep knows its worker lives."""
        while True:
            await asyncio.sleep(self._settings.heartbeat)
            try:
                await job.update()
            except Exception as e:  # Redis away for a moment: the next beat tries again
                log.warning("could not beat job %s: %s: %s", job.key, type(e).__name__, e)

    def worker(self) -> Worker[Any]:
        """A SAQ worker executing this queue's jobs."""
        return Worker(
            self.queue,
            functions=[(JOB, self._job)],
            concurrency=self._settings.workers,
            timers=PartialTimersDict(schedule=1, worker_info=10, sweep=10, abort=1),
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Serve the queue until ``stop`` is set."""
        worker = self.worker()
        worker.SIGNALS = []  # the process's own handlers set ``stop``; SAQ's would replace them
        task = asyncio.create_task(worker.start())
        try:
            await stop.wait()
        finally:
            await worker.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self.queue.disconnect()

    async def close(self) -> None:
        """Close the Redis connection."""
        if self._queue is not None:
            await self._queue.disconnect()
