"""The job queue contract and its in-process implementation.

A queue carries run ids only; the run record in the database is the truth. Whoever takes a
job claims the run first (:meth:`masterai.services.scripts.ScriptService.claim_run`), so a
job delivered twice runs once. A job is named by its run and attempt: enqueuing a job that is
still waiting or running adds nothing, so the scheduler may enqueue a queued run again
whenever it suspects its job was lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

RunJob = Callable[[int], Awaitable[None]]
"""Executes one run by id (see :class:`masterai.jobs.runner.RunExecutor`)."""


class JobQueue(Protocol):
    """Where the scheduler puts runs for workers."""

    async def enqueue(self, run_id: int, *, attempt: int = 0) -> None:
        """Hand the run to a worker (at least once).

        ``attempt`` is the number of attempts the run record holds; the same (run, attempt)
        job is not added twice while it waits or runs.
        """
        ...


class InProcessQueue:
    """An asyncio queue served by a pool of tasks in this process (the embedded default).

    Args:
        execute: runs one run id.
        workers: runs executed at the same time.
    """

    def __init__(self, execute: RunJob, *, workers: int = 2) -> None:
        self._execute = execute
        self._workers = workers
        self._queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        self._pending: set[tuple[int, int]] = set()
        self.executed = 0
        """Jobs taken so far (for tests and benchmarks)."""

    async def enqueue(self, run_id: int, *, attempt: int = 0) -> None:
        """Put the run id on the queue, unless its (run, attempt) job is already there."""
        if (run_id, attempt) in self._pending:
            return
        self._pending.add((run_id, attempt))
        self._queue.put_nowait((run_id, attempt))

    async def join(self) -> None:
        """Wait until every job enqueued so far has been executed."""
        await self._queue.join()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve the queue with ``workers`` tasks until ``stop`` is set."""
        tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            run_id, attempt = await self._queue.get()
            try:
                await self._execute(run_id)
            except Exception:
                # The run record says what happened; one bad job never stops the pool.
                log.exception("run %s failed in the worker", run_id)
            finally:
                self._pending.discard((run_id, attempt))
                self.executed += 1
                self._queue.task_done()
