"""A tool as held by the manager."""

from __future__ import annotations

from dataclasses import dataclass

from ai_tool.ai_tool import AITool


@dataclass
class AIToolRegistered:
    """A registered tool with its presentation settings."""

    tool: AITool
    display_name: str
    enabled_by_default: bool
