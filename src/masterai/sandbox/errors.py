"""Errors of the sandbox layer: one root, a few families.

```
SandboxError                      root: everything the sandbox raises on purpose
├── InvalidRequestError           the request is malformed (bad value, unsafe file name)
│   ├── UnsupportedLanguageError  language not one of the supported ones
│   └── LimitExceededError        a limit above the ceiling set in settings
├── BackendUnavailableError       the backend cannot work on this host (says what to install)
├── QueueFullError                the execution queue is full; try again later
└── ExecutionFailedError          the sandbox itself failed (not the program)
    └── QueueUnavailableError     the job queue to the workers is not reachable; try again
```

A program that fails, times out or runs out of memory is not an error: it is an
:class:`~masterai.sandbox.models.ExecutionResult` with the matching flags.
"""

from __future__ import annotations


class SandboxError(Exception):
    """Root of every error the sandbox raises on purpose."""


class InvalidRequestError(SandboxError, ValueError):
    """The execution request is malformed; the message names the offending value."""


class UnsupportedLanguageError(InvalidRequestError):
    """The requested language is not supported."""


class LimitExceededError(InvalidRequestError):
    """A requested limit is above the ceiling set in settings."""


class BackendUnavailableError(SandboxError):
    """The backend cannot work on this host; the message says what to install or start."""


class QueueFullError(SandboxError):
    """The execution queue is full; the request was refused without running."""


class ExecutionFailedError(SandboxError):
    """The sandbox failed to run the program (a fault of the sandbox, not of the program)."""


class QueueUnavailableError(ExecutionFailedError):
    """The job queue that carries executions to the workers is not reachable right now.

    The program did not run, or its result was lost; the same request may succeed when tried
    again (a queue restarting, a network blip).
    """
