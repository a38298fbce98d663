"""``ToolSpec`` values from ``ai_tool`` tools, with the schemas the framework exports.

Provider APIs refuse ``oneOf`` at the top of a tool schema, so the flat form is used: one
object with ``operation`` as an enum and every parameter of the exported operations.
"""

from __future__ import annotations

from collections.abc import Collection

from ai_tool import AITool
from ai_tool.schema import tool_json_schema
from masterai.llm.types import ToolSpec


def tool_spec(tool: AITool, *, operations: Collection[str] | None = None) -> ToolSpec:
    """The model-facing description of ``tool``, restricted to ``operations`` if given."""
    definition = tool.get_definition()
    return ToolSpec(
        name=definition.name,
        description=definition.description,
        input_schema=tool_json_schema(tool, operations=operations, mode="flat"),
    )
