"""The result of checking a call once, carried to its execution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ai_tool.ai_tool_operation_definition import AIToolOperationDefinition


@dataclass(frozen=True, kw_only=True, slots=True)
class AIToolCheckedCall:
    """Arguments that passed :meth:`AITool.check_call`, with the operation they select.

    Hand it to :meth:`AITool.execute_checked` to run the operation without checking the
    arguments again.
    """

    operation: AIToolOperationDefinition
    """The operation the ``operation`` argument selects."""
    arguments: dict[str, Any]
    """The checked arguments, ``None`` values removed (the caller's dict when it had none)."""
