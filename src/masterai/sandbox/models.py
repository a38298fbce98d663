"""The values crossing the sandbox contract: requests, resolved limits and results."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from masterai.sandbox.sessions import SessionHandle


@dataclass(frozen=True, kw_only=True)
class CodeExecutionRequest:
    """One program to run in the sandbox.

    Limits left as ``None`` take the defaults from settings; any value is checked against the
    ceilings in settings (:class:`~masterai.settings.SandboxSettings`).
    """

    code: str
    """Source text of the program."""
    language: str
    """One of :data:`masterai.sandbox.languages.LANGUAGES` (``python``, ``sql``, ...)."""
    timeout: float | None = None
    """Wall-clock seconds."""
    memory: int | str | None = None
    """Bytes, or a size such as ``"256m"`` / ``"1GiB"``; swap is counted."""
    cpus: float | None = None
    """CPU quota in cores."""
    network: str = "none"
    """Only ``"none"`` is supported: programs never reach any network."""
    files: Mapping[str, bytes | str] = field(default_factory=dict)
    """Input files put in the working directory (plain names only, no directories)."""
    stdin: bytes | str | None = None
    """Standard input of the program."""
    pids: int | None = None
    """Processes and threads of the run together."""
    storage: int | str | None = None
    """Size of the temporary working directory."""
    output_limit: int | str | None = None
    """Bytes kept per output stream."""
    allowed_packages: Sequence[str] | None = None
    """Curated packages the program may import (Python, JavaScript, TypeScript), by name;
    ``None`` or ``"*"``: any. Enforced inside the sandbox (:mod:`masterai.sandbox.packages`)."""
    support_packages: Sequence[str] = ()
    """Packages a runner of this project needs for the program (``pandas`` to load a CSV):
    their dependencies may be imported by them, never by the program itself."""
    session: SessionHandle | None = None
    """A persistent working directory (:mod:`masterai.sandbox.sessions`): its files are put in
    ``/work`` before the run and the working directory saved back after it."""
    session_skip: Sequence[str] = ()
    """Working-directory files not saved to the session (a runner's own results)."""


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Limits resolved for one run (defaults applied, ceilings checked)."""

    timeout: float
    memory: int
    cpus: float
    pids: int
    storage: int
    output_limit: int
    max_output_files: int
    max_output_file_size: int


@dataclass(frozen=True, kw_only=True)
class ExecutionResult:
    """What a run produced. A failing program is a result, not an exception."""

    output: str
    """Standard output (decoded as UTF-8, invalid bytes replaced), at most the output limit."""
    error: str
    """Standard error, same rules."""
    exit_code: int
    """The program's exit status; ``128 + signal`` when killed (137 on timeout or OOM)."""
    execution_time: float
    """Wall-clock seconds from start to end of the run."""
    timed_out: bool = False
    memory_exceeded: bool = False
    output_truncated: bool = False
    """Some output was dropped (a stream over its limit, or output files over their caps)."""
    files: dict[str, bytes] = field(default_factory=dict)
    """Regular files the program left in its working directory (relative name -> content)."""
    backend: str = ""
    language: str = ""
    session_error: str = ""
    """Why the working directory was not saved to the session (empty: saved, or none)."""

    @property
    def ok(self) -> bool:
        """True when the program exited 0 within its limits."""
        return self.exit_code == 0 and not self.timed_out and not self.memory_exceeded

    def to_json(self) -> dict[str, Any]:
        """This result as JSON-ready data (file contents base64-encoded)."""
        return {
            "output": self.output,
            "error": self.error,
            "exit_code": self.exit_code,
            "execution_time": round(self.execution_time, 6),
            "timed_out": self.timed_out,
            "memory_exceeded": self.memory_exceeded,
            "output_truncated": self.output_truncated,
            "files": {k: base64.b64encode(v).decode("ascii") for k, v in self.files.items()},
            "backend": self.backend,
            "language": self.language,
        }
