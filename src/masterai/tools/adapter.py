"""Helpers shared by the tools that adapt services: run, translate errors, shape results."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from ai_tool import (
    AIToolAuthorizationDenied,
    AIToolCall,
    AIToolExecutionError,
    AIToolNotFoundError,
    AIToolResult,
    AIToolValidationError,
)
from masterai.services.errors import InvalidInputError, NotFoundError, ServiceError

T = TypeVar("T")


async def call_service(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a (blocking) service call in a worker thread; service errors become tool errors.

    The message of a :class:`ServiceError` already names the offending value, so the model
    sees it unchanged.
    """
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except ServiceError as e:
        raise AIToolExecutionError(str(e)) from e


def tool_error(error: ServiceError) -> Exception:
    """The tool error for a service error, by family: denied, invalid, not found, failed."""
    if isinstance(error, PermissionError):
        return AIToolAuthorizationDenied(str(error))
    if isinstance(error, InvalidInputError):
        return AIToolValidationError(str(error))
    if isinstance(error, NotFoundError):
        return AIToolNotFoundError(str(error))
    return AIToolExecutionError(str(error))


async def service_call(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Like :func:`call_service`, but each service error family keeps its tool error kind.

    A refusal stays a denial and bad input a validation error (see :func:`tool_error`).
    """
    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except ServiceError as error:
        raise tool_error(error) from error


def author_of(requester_ref: Any) -> str:
    """The name recorded as author of a change: the principal's name, else its text."""
    name = getattr(requester_ref, "name", None)
    if isinstance(name, str) and name:
        return name
    return str(requester_ref) if requester_ref is not None else "unknown"


def tool_result(
    tool_call: AIToolCall, summary: str, data: Any, *, cost_usd: float | None = None
) -> AIToolResult:
    """A result whose content is JSON: a readable ``summary`` plus the structured ``result``.

    Operations that call models pass ``cost_usd``, what the call spent (known prices only);
    it is the top-level ``cost_usd`` of the content, which the agent charges to the turn.
    """
    body: dict[str, Any] = {"summary": summary, "result": data}
    if cost_usd is not None:
        body["cost_usd"] = round(cost_usd, 6)
    content = json.dumps(body, default=str, ensure_ascii=False)
    return AIToolResult(id=tool_call.id, name=tool_call.name, content=content)


def reported_cost(data: Any) -> float:
    """The ``cost_usd`` a model-calling operation reported in its result (0.0 if none)."""
    cost = data.get("cost_usd") if isinstance(data, dict) else None
    if isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0:
        return float(cost)
    return 0.0
