"""A typed face for the seed's positional authorization callback.

The seed fixes ``await request_authorization(tool_name, arguments, reason, context,
destructive)``. Code that prefers named fields writes a function taking one
:class:`AIToolAuthorizationRequest` and wraps it with :func:`authorization_callback`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ai_tool.ai_tool_operation_definition import AIToolAuthorizationCallback


@dataclass(frozen=True, kw_only=True)
class AIToolAuthorizationRequest:
    """One request for approval, as the callback receives it."""

    tool_name: str
    arguments: dict[str, Any]
    reason: str
    """What the tool wants to do, in a sentence."""
    context: str | None
    """Extra detail (for example the operation's extracted context)."""
    destructive: bool
    """Ask a human even where approvals are otherwise automatic."""


def authorization_callback(
    decide: Callable[[AIToolAuthorizationRequest], Awaitable[bool]],
) -> AIToolAuthorizationCallback:
    """Adapt ``decide(request)`` to the seed's positional callback signature."""

    async def callback(
        tool_name: str,
        arguments: dict[str, Any],
        reason: str,
        context: str | None,
        destructive: bool,
    ) -> bool:
        return await decide(
            AIToolAuthorizationRequest(
                tool_name=tool_name,
                arguments=arguments,
                reason=reason,
                context=context,
                destructive=destructive,
            )
        )

    return callback
