"""``CodeExecutionEnvironment``: the one entry point for running untrusted code.

It validates a request, resolves its limits against the settings' ceilings, waits for a
slot in the execution queue, lays out the run's directories, hands the run to the
configured backend, collects output files, and removes every trace of the run.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import replace
from typing import Protocol

from masterai.sandbox.base import RawResult, RunSpec, SandboxBackend
from masterai.sandbox.errors import InvalidRequestError
from masterai.sandbox.languages import get_language
from masterai.sandbox.limits import resolve_limits
from masterai.sandbox.models import CodeExecutionRequest, ExecutionResult, Limits
from masterai.sandbox.packages import POLICY_FILE, policy_text
from masterai.sandbox.queue import ExecutionQueue
from masterai.sandbox.sessions import SessionHandle
from masterai.sandbox.sessions import load as load_session
from masterai.sandbox.sessions import save as save_session
from masterai.sandbox.workspace import RunWorkspace, validate_files
from masterai.settings import SandboxSettings, Settings

BACKENDS = ("bubblewrap", "docker")

# Removing a run's directory waits on the kernel for milliseconds after its mount namespace
# died, so it is done by this thread once the result is out (every process of the run is
# killed and past its last system call by then; their teardown and reaping happen here
# too). Threads start on first use; ``wait_idle`` waits for pending removals.
_CLEANER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="masterai-sandbox-cleanup")
_CLEANUPS: set[Future[None]] = set()


def create_backend(name: str, settings: SandboxSettings) -> SandboxBackend:
    """The backend called ``name`` (no I/O; :meth:`SandboxBackend.check` probes the host).

    Raises:
        InvalidRequestError: unknown backend name.
    """
    if name == "bubblewrap":
        from masterai.sandbox.bubblewrap import BubblewrapBackend

        return BubblewrapBackend(settings)
    if name == "docker":
        from masterai.sandbox.docker import DockerBackend

        return DockerBackend(settings)
    raise InvalidRequestError(
        f"Unknown sandbox backend: {name!r}. Available: {', '.join(BACKENDS)}"
    )


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class CodeExecutor(Protocol):
    """What runs a request.

    A :class:`CodeExecutionEnvironment` here, or the worker fleet
    (:class:`masterai.jobs.executions.QueuedExecutions`).
    """

    async def execute_code(self, request: CodeExecutionRequest) -> ExecutionResult:
        """Run ``request`` and report what happened (see :class:`CodeExecutionEnvironment`)."""
        ...


class CodeExecutionEnvironment:
    r"""Runs code in the sandbox, one request at a time per queue slot.

    Example:
        >>> env = CodeExecutionEnvironment()  # doctest: +SKIP
        >>> result = await env.execute_code(  # doctest: +SKIP
        ...     CodeExecutionRequest(code="print(6 * 7)", language="python"))
        >>> result.output  # doctest: +SKIP
        '42\\n'
    """

    def __init__(
        self,
        settings: Settings | SandboxSettings | None = None,
        *,
        backend: SandboxBackend | str | None = None,
    ) -> None:
        if settings is None:
            settings = Settings()
        self.settings = settings.sandbox if isinstance(settings, Settings) else settings
        if backend is None or isinstance(backend, str):
            backend = create_backend(backend or self.settings.backend, self.settings)
        self.backend = backend
        self._queues: dict[asyncio.AbstractEventLoop, ExecutionQueue] = {}
        self._swept = False

    @property
    def queue(self) -> ExecutionQueue:
        """The execution queue of the running event loop."""
        loop = asyncio.get_running_loop()
        if loop not in self._queues:
            self._queues = {  # a queue's futures belong to one loop; drop closed loops' queues
                lp: q for lp, q in self._queues.items() if not lp.is_closed()
            }
            self._queues[loop] = ExecutionQueue(
                max_concurrent=self.settings.max_concurrent, max_waiting=self.settings.queue_size
            )
        return self._queues[loop]

    def close(self) -> None:
        """Finish pending clean-ups and release the backend (the environment stays usable)."""
        self.wait_idle()
        self.backend.close()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until the directories of finished runs (of any environment) are removed."""
        wait(list(_CLEANUPS), timeout=timeout)

    def _clean_up_later(self, workspace: RunWorkspace) -> None:
        future = _CLEANER.submit(workspace.cleanup)
        _CLEANUPS.add(future)
        future.add_done_callback(_CLEANUPS.discard)

    async def execute_code(self, request: CodeExecutionRequest) -> ExecutionResult:
        """Run ``request`` in the sandbox and report what happened.

        Raises:
            InvalidRequestError: the request is malformed (family: unsupported language,
                limit above its ceiling, unsafe input file name).
            BackendUnavailableError: the backend cannot work on this host.
            QueueFullError: too many requests are waiting.
            ExecutionFailedError: the sandbox itself failed.
        """
        language = get_language(request.language)
        if not isinstance(request.code, str):
            raise InvalidRequestError(f"Invalid code: {type(request.code).__name__}. Expected str")
        if request.network != "none":
            raise InvalidRequestError(
                f"Unsupported network: {request.network!r}. Allowed: 'none' (sandboxed "
                "programs never reach any network)"
            )
        limits = resolve_limits(request, self.settings)
        files = validate_files(request.files)
        stdin = request.stdin or b""
        stdin = stdin.encode() if isinstance(stdin, str) else bytes(stdin)
        policy = policy_text(
            language.name, request.allowed_packages, self.settings, request.support_packages
        )
        self.backend.check()
        if not self._swept:  # runs of a process that died mid-run
            RunWorkspace.sweep(self.settings.run_dir)
            self._swept = True
        if request.session is None:
            return await self._execute(request, limits, files, stdin, policy)
        async with request.session.lock():
            return await self._execute(request, limits, files, stdin, policy)

    async def _execute(
        self,
        request: CodeExecutionRequest,
        limits: Limits,
        files: dict[str, bytes],
        stdin: bytes,
        policy: str | None,
    ) -> ExecutionResult:
        language = get_language(request.language)
        session = request.session
        saved_files = await asyncio.to_thread(load_session, session) if session else {}
        clash = sorted(saved_files.keys() & files.keys())
        if clash:
            raise InvalidRequestError(
                f"Input file {clash[0]!r} is also a file of the session; rename one of them"
            )
        session_error = ""
        async with self.queue.slot():
            uid = self.settings.sandbox_uid
            workspace = await self.backend.prepare(
                self.settings.run_dir, limits, uid, language=language, policy=policy
            )
            try:
                code, source = request.code, language.source
                workspace.fill(source_name=source, code=code, stdin=stdin, files=files, uid=uid)
                if policy is not None:
                    workspace.add_code_file(POLICY_FILE, policy)
                if saved_files:
                    workspace.restore(saved_files, uid)
                raw = await self.backend.run(
                    RunSpec(
                        run_id=uuid.uuid4().hex[:16],
                        language=language,
                        limits=limits,
                        workspace=workspace,
                    )
                )
                out_files, files_truncated = workspace.collect(limits)
                if session is not None:
                    session_error = await self._save(session, workspace, request.session_skip)
            finally:
                self._clean_up_later(workspace)
        result = self._result(raw, out_files, files_truncated, language.name)
        return replace(result, session_error=session_error) if session_error else result

    @staticmethod
    async def _save(session: SessionHandle, workspace: RunWorkspace, skip: Sequence[str]) -> str:
        # Input files are saved too: they are part of the working directory the next run sees.
        return await asyncio.to_thread(save_session, session, workspace.work_dir, frozenset(skip))

    def _result(
        self, raw: RawResult, files: dict[str, bytes], files_truncated: bool, language: str
    ) -> ExecutionResult:
        return ExecutionResult(
            output=_decode(raw.stdout),
            error=_decode(raw.stderr),
            exit_code=raw.exit_code,
            execution_time=raw.execution_time,
            timed_out=raw.timed_out,
            memory_exceeded=raw.memory_exceeded,
            output_truncated=raw.output_truncated or files_truncated,
            files=files,
            backend=self.backend.name,
            language=language,
        )
