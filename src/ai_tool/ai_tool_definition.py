"""The definition of a tool as offered to a model."""

from __future__ import annotations

from dataclasses import dataclass

from ai_tool.ai_tool_parameter import AIToolParameter


@dataclass
class AIToolDefinition:
    """A tool's name, description and parameters."""

    name: str
    description: str
    parameters: list[AIToolParameter]
