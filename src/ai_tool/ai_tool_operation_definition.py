"""One operation of an operation-based tool."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ai_tool.ai_tool_call import AIToolCall
from ai_tool.ai_tool_result import AIToolResult

#: ``await request_authorization(tool_name, arguments, reason, context, destructive)``.
#: Call it positionally: callbacks written for the seed name the parameters differently.
#: ``reason`` says what the tool wants to do, ``context`` adds detail (or ``None``), and
#: ``destructive`` asks for explicit approval even where approvals are otherwise automatic.
AIToolAuthorizationCallback = Callable[
    [str, dict[str, Any], str, str | None, bool], Awaitable[bool]
]

#: An operation handler: ``await handler(tool_call, requester_ref, request_authorization)``.
AIToolOperationHandler = Callable[
    [AIToolCall, Any, AIToolAuthorizationCallback], Awaitable[AIToolResult]
]


@dataclass
class AIToolOperationDefinition:
    """An operation: its handler and which parameters it takes.

    Seed 003 fields first, positional; the rest keyword-only with defaults.
    """

    name: str
    handler: AIToolOperationHandler
    extract_context: Callable[[dict[str, Any]], str | None] | None
    """Returns a short text describing the call (for logs and authorization prompts)."""
    allowed_parameters: set[str]
    """Parameters (besides ``operation``) this operation accepts."""
    required_parameters: set[str]
    """Subset of ``allowed_parameters`` that must be present."""
    description: str
    timeout: float | None = field(default=None, kw_only=True)
    """Seconds the handler may run before ``AIToolTimeoutError``; ``None`` for no limit."""
    read_only: bool = field(default=False, kw_only=True)
    """The operation changes nothing (MCP ``readOnlyHint``)."""
    destructive: bool = field(default=False, kw_only=True)
    """The operation may destroy data: ``execute()`` asks the authorization callback first."""
    idempotent: bool = field(default=False, kw_only=True)
    """Calling it again with the same arguments changes nothing more (MCP ``idempotentHint``;
    a read-only operation is idempotent whatever this says)."""
    output_schema: dict[str, Any] | None = field(default=None, kw_only=True)
    """JSON Schema (2020-12) of the JSON object a successful call returns, if the operation
    promises one (MCP ``outputSchema``)."""
