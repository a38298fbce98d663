"""The result of one tool execution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class AIToolResult:
    """What a tool returns to the model."""

    id: str
    """The ``AIToolCall.id`` this answers."""
    name: str
    """Tool name."""
    content: str
    """Text the model sees."""
    error: str | None = None
    """Set when the call failed; the model sees it instead of content."""
    context: str | None = None
    """Optional extra context for logs and user interfaces."""
    continuation: Any = None
    """Optional ``asyncio.Task`` that keeps working after the result is returned."""

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready fields (the continuation is not serialisable).

        ``context`` is included only when set, so results without one serialise exactly as
        in seed 003.
        """
        data: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "content": self.content,
            "error": self.error,
        }
        if self.context is not None:
            data["context"] = self.context
        return data
