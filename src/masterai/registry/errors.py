"""Errors of the registry.

```
RegistryError                 every failure of a call; ``status`` is its audit status
├── ToolNotFound              not_found: no tool of that name
├── TargetNotFound            not_found: what the call names does not exist
├── PermissionDenied          denied: the policy (or a human) refused
├── InvalidArguments          invalid: arguments malformed, too large, or wrong types
├── ToolTimeout               timeout: the call ran past its limit
├── ToolUnavailable           unavailable: a service the tool needs is not reachable; retry
└── ToolFailed                failed: the tool reported an error
DuplicateToolError            register(): a tool of that name is already registered
UndeclaredRoleError           register(): a parameter looks like a company, URL, ... but
                              declares no role
PipelineError                 ToolRegistry(steps=...): the steps are not in a valid order
```

Inside :meth:`ToolRegistry.execute_tool` these become a :class:`ToolResult` with ``ok=False``;
they are raised only by the lower-level steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from masterai.registry.calls import PreparedCall


class RegistryError(Exception):
    """A tool call failed; ``status`` is the audit status it is recorded with.

    Args:
        message: what failed.
        call: the prepared call, when the failure came after preparation (or from the policy),
            so the audit records its operation and companies.
    """

    status = "failed"

    def __init__(
        self, message: str, *, call: PreparedCall | None = None, path: str | None = None
    ) -> None:
        super().__init__(message)
        self.call = call
        self.path = path
        """The offending parameter's path (``changes.temperature``), when one is known."""


class ToolNotFound(RegistryError):
    """No tool is registered under the requested name."""

    status = "not_found"


class TargetNotFound(RegistryError):
    """The tool exists but what the call names does not (a webhook, a connection)."""

    status = "not_found"


class PermissionDenied(RegistryError):
    """The policy (or the human asked for approval) refused the call."""

    status = "denied"


class InvalidArguments(RegistryError):
    """The arguments are malformed, too large, or do not match the tool's parameters."""

    status = "invalid"


class ToolTimeout(RegistryError):
    """The call did not finish within its time limit."""

    status = "timeout"


class ToolUnavailable(RegistryError):
    """A service the tool needs (a job queue, a database) is not reachable right now.

    Nothing was done, or its result was lost: the same call may succeed when tried again.
    """

    status = "unavailable"


class ToolFailed(RegistryError):
    """The tool ran and reported an error."""

    status = "failed"


class DuplicateToolError(ValueError):
    """A tool with the same name is already registered."""


class UndeclaredRoleError(ValueError):
    """A tool parameter looks like it names a company, URL, ... but declares no role."""


class PipelineError(ValueError):
    """The registry's steps are not request steps, ``PREPARE``, then prepared-call steps."""
