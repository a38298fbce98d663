"""Errors of the registry.

```
RegistryError                 every failure of a call; ``status`` is its audit status
├── ToolNotFound              not_found: no tool of that name
├── PermissionDenied          denied: the policy (or a human) refused
├── InvalidArguments          invalid: arguments malformed, too large, or wrong types
├── ToolTimeout               timeout: the call ran past its limit
└── ToolFailed                failed: the tool reported an error
DuplicateToolError            register(): a tool of that name is already registered
```

Inside :meth:`ToolRegistry.execute_tool` these become a :class:`ToolResult` with ``ok=False``;
they are raised only by the lower-level steps.
"""

from __future__ import annotations


class RegistryError(Exception):
    """A tool call failed; ``status`` is the audit status it is recorded with."""

    status = "failed"


class ToolNotFound(RegistryError):
    """No tool is registered under the requested name."""

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


class ToolFailed(RegistryError):
    """The tool ran and reported an error."""

    status = "failed"


class DuplicateToolError(ValueError):
    """A tool with the same name is already registered."""
