"""The execution queue: at most N runs at once, waiting requests served in arrival order.

A bounded number may wait; one more is refused at once with :class:`QueueFullError` rather
than piling up unbounded work.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from masterai.sandbox.errors import QueueFullError


class ExecutionQueue:
    """A FIFO admission gate for sandbox runs (one per event loop)."""

    def __init__(self, *, max_concurrent: int, max_waiting: int) -> None:
        if max_concurrent < 1 or max_waiting < 0:
            raise ValueError(
                f"Invalid queue size: max_concurrent={max_concurrent!r} (>= 1), "
                f"max_waiting={max_waiting!r} (>= 0)"
            )
        self.max_concurrent = max_concurrent
        self.max_waiting = max_waiting
        self._running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def running(self) -> int:
        """Runs holding a slot now."""
        return self._running

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot."""
        return len(self._waiters)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one execution slot for the body of the ``async with``.

        Raises:
            QueueFullError: ``max_waiting`` requests are already waiting.
        """
        await self._acquire()
        try:
            yield
        finally:
            self._release()

    async def _acquire(self) -> None:
        if self._running < self.max_concurrent and not self._waiters:
            self._running += 1
            return
        if len(self._waiters) >= self.max_waiting:
            raise QueueFullError(
                f"Execution queue is full: {self._running} running, {len(self._waiters)} "
                f"waiting (max_concurrent={self.max_concurrent}, "
                f"queue_size={self.max_waiting}). Try again later"
            )
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # _release hands its slot over: _running stays counted
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release()  # the slot was handed over just as we were cancelled
            else:
                self._waiters.remove(waiter)
            raise

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._running -= 1
