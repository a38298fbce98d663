"""Sandboxed code execution (see ``docs/sandbox.md``).

``CodeExecutionEnvironment(settings).execute_code(CodeExecutionRequest(...))`` runs a program
in one of six languages under the bubblewrap or Docker backend, with limits enforced.
"""

from __future__ import annotations

from masterai.sandbox.base import RawResult, RunSpec, SandboxBackend
from masterai.sandbox.environment import (
    BACKENDS,
    CodeExecutionEnvironment,
    CodeExecutor,
    create_backend,
)
from masterai.sandbox.errors import (
    BackendUnavailableError,
    ExecutionFailedError,
    InvalidRequestError,
    LimitExceededError,
    QueueFullError,
    QueueUnavailableError,
    SandboxError,
    UnsupportedLanguageError,
)
from masterai.sandbox.languages import LANGUAGES, LanguageSpec, get_language
from masterai.sandbox.limits import parse_size
from masterai.sandbox.models import CodeExecutionRequest, ExecutionResult, Limits
from masterai.sandbox.queue import ExecutionQueue

__all__ = [
    "BACKENDS",
    "LANGUAGES",
    "BackendUnavailableError",
    "CodeExecutionEnvironment",
    "CodeExecutionRequest",
    "CodeExecutor",
    "ExecutionFailedError",
    "ExecutionQueue",
    "ExecutionResult",
    "InvalidRequestError",
    "LanguageSpec",
    "LimitExceededError",
    "Limits",
    "QueueFullError",
    "QueueUnavailableError",
    "RawResult",
    "RunSpec",
    "SandboxBackend",
    "SandboxError",
    "UnsupportedLanguageError",
    "create_backend",
    "get_language",
    "parse_size",
]
