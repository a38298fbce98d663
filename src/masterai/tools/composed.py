"""Tools composed of *parts*: each part contributes parameters and operations.

The ``aidev`` and ``registry`` tools are built this way, so a part can live in its own module
(and be written by its own team) while the model sees one tool. Parts hold no state of their
own beyond the services they are built with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Protocol

from ai_tool import AITool, AIToolDefinition, AIToolOperationDefinition, AIToolParameter


class ToolPart(Protocol):
    """A group of operations and the parameters they take."""

    def parameters(self) -> list[AIToolParameter]:
        """The parameters the part's operations use (each declaring its role)."""
        ...

    def operations(self) -> dict[str, AIToolOperationDefinition]:
        """The part's operations by name."""
        ...


class ComposedTool(AITool):
    """The operations of its parts, under one name.

    Subclasses set :attr:`NAME` and :attr:`DESCRIPTION`.

    Args:
        parts: the parts; two parts may share a parameter only if they define it identically.

    Raises:
        ValueError: two parts define the same operation, or one parameter differently.
    """

    NAME: ClassVar[str]
    DESCRIPTION: ClassVar[str]

    def __init__(self, parts: Sequence[ToolPart]) -> None:
        super().__init__()
        self._parts = tuple(parts)
        self._parameters = _merged_parameters(self.NAME, (p.parameters() for p in self._parts))
        self._operations: dict[str, AIToolOperationDefinition] = {}
        for part in self._parts:
            for name, operation in part.operations().items():
                if name in self._operations:
                    raise ValueError(f"{self.NAME}: two parts define the operation {name!r}")
                self._operations[name] = operation
        self.model_operations: frozenset[str] = frozenset().union(
            *(getattr(p, "model_operations", frozenset()) for p in self._parts)
        )
        self.code_operations: frozenset[str] = frozenset().union(
            *(getattr(p, "code_operations", frozenset()) for p in self._parts)
        )
        self.internal_operations: frozenset[str] = frozenset().union(
            *(getattr(p, "internal_operations", frozenset()) for p in self._parts)
        )

    def get_definition(self) -> AIToolDefinition:
        """The tool's definition: every part's parameters."""
        return AIToolDefinition(
            name=self.NAME, description=self.DESCRIPTION, parameters=list(self._parameters)
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """Every part's operations."""
        return dict(self._operations)

    def part(self, kind: type[Any]) -> Any:
        """The first part that is an instance of ``kind`` (``None`` if none is)."""
        return next((p for p in self._parts if isinstance(p, kind)), None)

    def close(self) -> None:
        """Close the parts that hold resources (a ``close()`` method)."""
        for part in self._parts:
            close = getattr(part, "close", None)
            if callable(close):
                close()


def _merged_parameters(tool: str, groups: Iterable[list[AIToolParameter]]) -> list[AIToolParameter]:
    merged: dict[str, AIToolParameter] = {}
    for group in groups:
        for parameter in group:
            known = merged.get(parameter.name)
            if known is not None and _shape(known) != _shape(parameter):
                raise ValueError(
                    f"{tool}: two parts define the parameter {parameter.name!r} differently"
                )
            merged.setdefault(parameter.name, parameter)
    return list(merged.values())


def _shape(parameter: AIToolParameter) -> Any:
    return (parameter.type, parameter.role, parameter.enum, repr(parameter.items))
