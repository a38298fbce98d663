"""The backend contract: what every sandbox backend implements.

A backend gets a prepared run (:class:`RunSpec`: language, resolved limits and the run's
host directories) and returns what happened (:class:`RawResult`). Everything else — request
validation, limits, the queue, files in and out, decoding — is done once, by
:class:`~masterai.sandbox.environment.CodeExecutionEnvironment`, for every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from masterai.sandbox.languages import LanguageSpec
from masterai.sandbox.models import Limits
from masterai.sandbox.workspace import RunWorkspace

KILLED_EXIT_CODE = 137
"""Exit status reported when the sandbox killed the program (timeout, OOM): 128 + SIGKILL."""


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """One prepared run handed to a backend."""

    run_id: str
    language: LanguageSpec
    limits: Limits
    workspace: RunWorkspace


@dataclass(frozen=True, kw_only=True)
class RawResult:
    """What a backend observed, before decoding and file collection."""

    stdout: bytes
    stderr: bytes
    exit_code: int
    execution_time: float
    timed_out: bool
    memory_exceeded: bool
    output_truncated: bool

    @classmethod
    def observed(
        cls,
        *,
        out: CappedBuffer,
        err: CappedBuffer,
        exit_code: int,
        execution_time: float,
        timed_out: bool,
        oom: bool,
        truncated: bool = False,
    ) -> RawResult:
        """The result of a finished run; a run the sandbox killed reports ``KILLED_EXIT_CODE``.

        A program killed by the memory limit may still leave its parent exiting 0 (a child
        was the one killed), so an OOM with status 0 counts as killed too.
        """
        if timed_out or (oom and exit_code == 0):
            exit_code = KILLED_EXIT_CODE
        return cls(
            stdout=out.getvalue(),
            stderr=err.getvalue(),
            exit_code=exit_code,
            execution_time=execution_time,
            timed_out=timed_out,
            memory_exceeded=oom,
            output_truncated=out.truncated or err.truncated or truncated,
        )


class SandboxBackend(ABC):
    """A way to run untrusted programs in isolation with limits enforced."""

    name: ClassVar[str]

    @abstractmethod
    def check(self) -> None:
        """Verify the backend can work on this host.

        Raises:
            BackendUnavailableError: it cannot; the message says what to install or start.
        """

    @abstractmethod
    async def run(self, spec: RunSpec) -> RawResult:
        """Run one program to completion or to a limit; nothing of it may outlive the call."""

    async def prepare(
        self,
        run_dir: Path,
        limits: Limits,
        uid: int,
        *,
        language: LanguageSpec | None = None,
        policy: str | None = None,
    ) -> RunWorkspace:
        """An empty workspace for a run with ``limits``, to be filled and handed to :meth:`run`.

        A backend may return one it has already built a sandbox around, for a run in
        ``language`` under the import ``policy`` (``packages.json``; None: unrestricted).
        """
        return RunWorkspace.prepare(run_dir, storage=limits.storage, uid=uid)

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release connections the backend holds (it can be used again afterwards)."""


class CappedBuffer:
    """Keeps the first ``cap`` bytes written to it and remembers if more came."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._chunks: list[bytes] = []
        self._size = 0
        self.truncated = False

    def feed(self, data: bytes) -> None:
        """Append ``data``, dropping whatever is past the cap."""
        room = self.cap - self._size
        if len(data) > room:
            self.truncated = True
            data = data[: max(room, 0)]
        if data:
            self._chunks.append(data)
            self._size += len(data)

    def getvalue(self) -> bytes:
        """The bytes kept."""
        return b"".join(self._chunks)
