"""A tool call requested by an AI model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class AIToolCall:
    """One request from a model to run a tool."""

    id: str
    """Identifier the model gave the call; the result carries it back."""
    name: str
    """Name of the tool to run."""
    arguments: dict[str, Any]
    """Decoded JSON arguments."""

    def to_dict(self) -> dict[str, Any]:
        """Return the call as a JSON-ready dictionary."""
        return {"id": self.id, "name": self.name, "arguments": self.arguments}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AIToolCall:
        """Build a call from :meth:`to_dict` output.

        Raises:
            KeyError: When ``id``, ``name`` or ``arguments`` is missing.
        """
        return cls(id=data["id"], name=data["name"], arguments=data["arguments"])
