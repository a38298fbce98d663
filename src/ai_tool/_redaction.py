"""Masking of ``sensitive`` parameter values for logs and audit trails."""

from __future__ import annotations

from typing import Any

from ai_tool.ai_tool_parameter import AIToolParameter

REDACTED = "[REDACTED]"


def _redact_value(param: AIToolParameter, value: Any, mask: str) -> Any:
    if param.sensitive:
        return mask
    if isinstance(value, dict) and param.properties is not None:
        return redact(param.property_list(), value, mask)
    if isinstance(value, list) and param.items is not None:
        return [_redact_value(param.items, item, mask) for item in value]
    return value


def redact(
    parameters: list[AIToolParameter], arguments: dict[str, Any], mask: str
) -> dict[str, Any]:
    """Return a copy of ``arguments`` with every sensitive value, at any depth, replaced."""
    declared = {p.name: p for p in parameters}
    return {
        key: _redact_value(declared[key], value, mask) if key in declared else value
        for key, value in arguments.items()
    }
