"""Code executions over the Redis fleet.

``execute_code`` and ``transform_data`` calls of the agent and the API run on whichever
``masterai worker`` (or ``serve`` process) is free.

The registry call stays where it was made: permissions, validation, approval and the audit
record happen in the caller's process. Only the sandbox run travels: the caller's
:class:`QueuedExecutions` puts the request on the ``<jobs.queue_name>-exec`` SAQ queue and waits
for the result; an :class:`ExecutionServer` in a worker runs it in its local sandbox and
returns the result. The queue is bounded: with ``sandbox.queue_size`` executions already
waiting, a call is refused at once with :class:`~masterai.sandbox.QueueFullError`, the same
error as the in-process queue.

What stays local:

- a call with a ``session``: the session is a working directory on the caller's disk
  (:mod:`masterai.sandbox.sessions`), so its runs execute where it lives;
- a script run (``run_script``): it is already a job on a worker, and sending its sandbox run
  to the queue again could leave every worker waiting on the others.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from redis.exceptions import RedisError
from saq import Queue, Worker
from saq.job import Status
from saq.types import PartialTimersDict

from masterai.sandbox import (
    CodeExecutionEnvironment,
    CodeExecutionRequest,
    ExecutionResult,
    InvalidRequestError,
    QueueFullError,
    SandboxError,
)
from masterai.sandbox.errors import (
    BackendUnavailableError,
    ExecutionFailedError,
    QueueUnavailableError,
)
from masterai.settings import Settings

log = logging.getLogger(__name__)

JOB = "masterai.execute_code"
_ERRORS: dict[str, type[SandboxError]] = {
    "invalid": InvalidRequestError,
    "unavailable": BackendUnavailableError,
    "full": QueueFullError,
    "failed": ExecutionFailedError,
}
_RECHECK = 2.0
"""Seconds between two reads of a job the caller waits for (beside its notifications)."""
_WAIT_MARGIN = 30.0
"""Seconds a caller waits beyond the run's own time limit (queueing, start, transfer)."""


def queue_name(settings: Settings) -> str:
    """The SAQ queue of executions: beside the runs' queue, never shared with it."""
    return f"{settings.jobs.queue_name}-exec"


def _b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else bytes(data)
    return base64.b64encode(raw).decode("ascii")


def encode_request(request: CodeExecutionRequest) -> dict[str, Any]:
    """``request`` as JSON-ready data (files and stdin base64-encoded; no session)."""
    return {
        "code": request.code,
        "language": request.language,
        "timeout": request.timeout,
        "memory": request.memory,
        "cpus": request.cpus,
        "network": request.network,
        "files": {name: _b64(content) for name, content in request.files.items()},
        "stdin": None if request.stdin is None else _b64(request.stdin),
        "pids": request.pids,
        "storage": request.storage,
        "output_limit": request.output_limit,
        "allowed_packages": (
            None if request.allowed_packages is None else list(request.allowed_packages)
        ),
        "support_packages": list(request.support_packages),
        "session_skip": list(request.session_skip),
    }


def decode_request(data: dict[str, Any]) -> CodeExecutionRequest:
    """The request :func:`encode_request` encoded."""
    stdin = data.get("stdin")
    return CodeExecutionRequest(
        code=data["code"],
        language=data["language"],
        timeout=data.get("timeout"),
        memory=data.get("memory"),
        cpus=data.get("cpus"),
        network=data.get("network", "none"),
        files={k: base64.b64decode(v) for k, v in (data.get("files") or {}).items()},
        stdin=None if stdin is None else base64.b64decode(stdin),
        pids=data.get("pids"),
        storage=data.get("storage"),
        output_limit=data.get("output_limit"),
        allowed_packages=data.get("allowed_packages"),
        support_packages=tuple(data.get("support_packages") or ()),
        session_skip=tuple(data.get("session_skip") or ()),
    )


def decode_result(data: dict[str, Any]) -> ExecutionResult:
    """The result :meth:`ExecutionResult.to_json` encoded."""
    return ExecutionResult(
        output=data["output"],
        error=data["error"],
        exit_code=data["exit_code"],
        execution_time=data["execution_time"],
        timed_out=data["timed_out"],
        memory_exceeded=data["memory_exceeded"],
        output_truncated=data["output_truncated"],
        files={k: base64.b64decode(v) for k, v in data["files"].items()},
        backend=data["backend"],
        language=data["language"],
    )


def _error_kind(error: SandboxError) -> str:
    for kind, family in _ERRORS.items():
        if isinstance(error, family):
            return kind
    return "failed"


class QueuedExecutions:
    """Runs sandbox requests on the fleet; has ``execute_code`` like the local environment.

    Args:
        url: ``redis://host:port/db`` (``jobs.queue``).
        settings: the platform settings (queue name, sandbox limits and queue size).
        local: the environment that runs session calls here.
    """

    def __init__(self, url: str, settings: Settings, local: CodeExecutionEnvironment) -> None:
        self._url = url
        self._settings = settings
        self._local = local

    @contextlib.asynccontextmanager
    async def connected(self) -> AsyncIterator[Queue]:
        """The execution queue on a connection of its own, closed after the block.

        One per call: a Redis connection belongs to the event loop that opened it, and the
        callers (HTTP workers, CLI, tests) come and go with their loops.
        """
        queue = Queue.from_url(self._url, name=queue_name(self._settings))
        try:
            yield queue
        finally:
            await queue.disconnect()

    async def execute_code(self, request: CodeExecutionRequest) -> ExecutionResult:
        """Run ``request`` on a worker and wait for its result (session calls: here).

        Raises:
            QueueFullError: ``sandbox.queue_size`` executions are already waiting.
            InvalidRequestError: the worker refused the request as malformed.
            ExecutionFailedError: the sandbox failed, or no worker finished it in time.
            QueueUnavailableError: the job queue is not reachable (try again).
        """
        if request.session is not None:
            return await self._local.execute_code(request)
        try:
            async with self.connected() as queue:
                return await self._execute(queue, request)
        except (RedisError, OSError) as e:
            raise QueueUnavailableError(
                f"The job queue is not reachable ({type(e).__name__}: {e}); the code did not "
                "run or its result was lost: try again in a moment"
            ) from e

    async def _execute(self, queue: Queue, request: CodeExecutionRequest) -> ExecutionResult:
        waiting = await queue.count("queued")
        if waiting >= self._settings.sandbox.queue_size:
            raise QueueFullError(
                f"Execution queue is full: {waiting} executions wait for a worker "
                f"(sandbox.queue_size={self._settings.sandbox.queue_size}); try again later"
            )
        limit = float(request.timeout or self._settings.sandbox.default_timeout)
        wait = limit + _WAIT_MARGIN
        # A run without a session has no effect outside its result, so the job of a worker
        # that died is safely run again (once) by another.
        job = await queue.enqueue(
            JOB, request=encode_request(request), timeout=int(wait), retries=2, ttl=600
        )
        if job is None:  # cannot happen: keys are random
            raise ExecutionFailedError("the execution was not queued (duplicate job key)")
        deadline = time.monotonic() + wait
        while not job.completed:
            if time.monotonic() >= deadline:
                await queue.abort(job, "the caller stopped waiting")
                raise ExecutionFailedError(
                    f"No worker finished the execution within {wait:g} s (is `masterai worker "
                    "--queue` running?)"
                )
            # Woken by the job's notification; the bounded wait also catches one that was
            # missed (a reconnection to Redis) by reading the job again.
            with contextlib.suppress(TimeoutError):
                await job.refresh(until_complete=min(_RECHECK, deadline - time.monotonic()))
        return self._outcome(job.status, job.result, job.error)

    @staticmethod
    def _outcome(status: Status, result: Any, error: str | None) -> ExecutionResult:
        if status != Status.COMPLETE or not isinstance(result, dict):
            # SAQ keeps the worker's traceback in ``error``: only its last line is shown.
            reason = (error or "no reason given").strip().splitlines()[-1:] or ["?"]
            raise ExecutionFailedError(f"the execution {status.value} on the worker: {reason[0]}")
        if "error" in result:
            family = _ERRORS.get(result["error"]["kind"], ExecutionFailedError)
            raise family(result["error"]["message"])
        return decode_result(result["result"])


class ExecutionServer:
    """Serves the execution queue in a worker: each job runs in this host's sandbox.

    Args:
        url: ``redis://host:port/db``.
        settings: the platform settings (queue name; ``sandbox.max_concurrent`` runs at once).
        environment: the local sandbox.
    """

    def __init__(self, url: str, settings: Settings, environment: CodeExecutionEnvironment) -> None:
        self._environment = environment
        self._settings = settings
        self.queue = Queue.from_url(url, name=queue_name(settings))

    async def _job(self, ctx: dict[str, Any], *, request: dict[str, Any]) -> dict[str, Any]:
        try:
            result = await self._environment.execute_code(decode_request(request))
        except SandboxError as e:  # the caller raises the same family
            return {"error": {"kind": _error_kind(e), "message": str(e)}}
        return {"result": result.to_json()}

    async def run(self, stop: asyncio.Event) -> None:
        """Serve executions until ``stop`` is set."""
        worker: Worker[Any] = Worker(
            self.queue,
            functions=[(JOB, self._job)],
            concurrency=self._settings.sandbox.max_concurrent,
            timers=PartialTimersDict(schedule=1, worker_info=10, sweep=10, abort=1),
        )
        worker.SIGNALS = []  # the process's own handlers set ``stop``
        task = asyncio.create_task(worker.start())
        try:
            await stop.wait()
        finally:
            await worker.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self.queue.disconnect()
