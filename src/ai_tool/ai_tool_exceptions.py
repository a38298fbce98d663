"""Exceptions raised by AI tools.

The tree::

    AIToolError                       root of everything this package raises on purpose
    ├── AIToolExecutionError          the tool could not do what was asked (seed 003)
    │   ├── AIToolNotFoundError       what the call names does not exist
    │   ├── AIToolValidationError     arguments rejected before the handler ran (has ``path``)
    │   ├── AIToolUnavailableError    a service the tool needs is not reachable right now
    │   └── AIToolCancelledError      ``AITool.cancel()`` stopped a running execution
    ├── AIToolAuthorizationDenied     the authorization callback refused (seed 003)
    └── AIToolTimeoutError            an operation ran past its timeout (seed 003)

``AIToolExecutionError``, ``AIToolAuthorizationDenied`` and ``AIToolTimeoutError`` keep the
seed's constructors, so code that raises or catches them is unchanged.
"""

from __future__ import annotations


class AIToolError(Exception):
    """Root of the exceptions the ``ai_tool`` framework raises."""


class AIToolExecutionError(AIToolError):
    """A tool execution failed; the message is meant for the model and the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class AIToolNotFoundError(AIToolExecutionError):
    """What the call names does not exist (a record, a file, a connection)."""


class AIToolValidationError(AIToolExecutionError):
    """Arguments were rejected before any handler ran.

    Attributes:
        path: Where in the arguments the problem is, dotted for nested objects and with
            ``[i]`` for array items (``"filters.date_range.start"``, ``"tags[2]"``), or
            ``"operation"`` when the operation itself is missing or unknown.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class AIToolUnavailableError(AIToolExecutionError):
    """A service the tool needs (a database, a job queue) is not reachable right now.

    Nothing was done, or what was done is lost; the same call may succeed when tried again.
    """


class AIToolCancelledError(AIToolExecutionError):
    """A running execution was stopped by ``AITool.cancel()``."""


class AIToolAuthorizationDenied(AIToolError):
    """The authorization callback refused the operation."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class AIToolTimeoutError(AIToolError):
    """An operation did not finish within its timeout.

    Attributes:
        timeout_duration: The limit, in seconds, that was exceeded.
    """

    def __init__(self, message: str, timeout_duration: float) -> None:
        super().__init__(message)
        self.timeout_duration = timeout_duration
