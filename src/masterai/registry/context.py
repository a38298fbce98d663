"""Values passed into and out of :meth:`ToolRegistry.execute_tool`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from masterai.registry.approval import Effect
from masterai.security import Principal

if TYPE_CHECKING:
    from masterai.registry.approval import Approver
    from masterai.registry.calls import PreparedCall


def new_request_id() -> str:
    """A fresh request id (hex UUID4)."""
    return uuid.uuid4().hex


@dataclass(frozen=True, kw_only=True)
class ExecutionContext:
    """Who calls, for which company, from where."""

    principal: Principal
    company_id: str | None = None
    """Company scope of the call; checked by the policy like a ``company_id`` argument."""
    request_id: str = field(default_factory=new_request_id)
    client_address: str | None = None
    """Where the call comes from (``cli:LOGIN@HOST``, an IP address, ``agent``)."""
    approver: Approver | None = None
    """Asked before a call that needs approval (see :mod:`masterai.registry.approval`).
    ``None`` refuses every such call; calls that need no approval run without asking."""
    approve_effects: frozenset[Effect] = frozenset()
    """Effects this face also asks its approver about, although the operation needs no
    approval itself (the MCP server asks a human before a call that spends money)."""


@dataclass(frozen=True, kw_only=True)
class ToolResult:
    """The outcome of one registry call, successful or not. Tool failures are data."""

    ok: bool
    tool: str
    operation: str | None
    status: str
    """Audit status: ``ok``, ``denied``, ``invalid``, ``not_found``, ``failed``, ``timeout``."""
    content: str = ""
    """Text the tool returned (what a model sees)."""
    data: Any = None
    """``content`` parsed as JSON when it is JSON, else None."""
    error: str | None = None
    error_path: str | None = None
    """The parameter an ``invalid`` result is about (``changes.temperature``), if known."""
    duration_ms: float = 0.0
    audit_id: int | None = None
    request_id: str | None = None
    call: PreparedCall | None = field(default=None, repr=False, compare=False)
    """The resolved call this result came from (``None`` when the call could not be
    resolved: unknown tool, malformed arguments)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary of every field."""
        return {
            "ok": self.ok,
            "tool": self.tool,
            "operation": self.operation,
            "status": self.status,
            "content": self.content,
            "data": self.data,
            "error": self.error,
            "error_path": self.error_path,
            "duration_ms": self.duration_ms,
            "audit_id": self.audit_id,
            "request_id": self.request_id,
        }


@dataclass(frozen=True, kw_only=True)
class OperationInfo:
    """One operation a principal may call."""

    name: str
    description: str
    read_only: bool
    destructive: bool


@dataclass(frozen=True, kw_only=True)
class ToolListing:
    """A tool as :meth:`ToolRegistry.list_tools` shows it: only the allowed operations."""

    name: str
    category: str
    description: str
    operations: list[OperationInfo]
    """Empty for a legacy tool (no operations)."""
    schema: dict[str, Any]
    """JSON Schema of the arguments, restricted to ``operations``."""
