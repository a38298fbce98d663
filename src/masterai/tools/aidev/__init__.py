"""The ``aidev`` tool (category ``aidev``): seed 000's ``AIDevelopmentTools``.

Prompt engineering, training data, fine-tuning, model evaluation and retrieval (RAG).

The tool is composed of *parts*, each a module of this package that contributes parameters
and operations (:class:`AIDevPart`): ``prompts`` (optimize_prompt, generate_prompt_variations,
evaluate_prompt), ``training`` (prepare_training_data, fine-tune jobs, evaluate_model) and
``rag`` (index_documents, search_similar, update_embeddings). Parts hold no state of their
own beyond the services they are built with; the logic lives in ``masterai.services``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from ai_tool import AITool, AIToolDefinition, AIToolOperationDefinition, AIToolParameter

NAME = "aidev"


class AIDevPart(Protocol):
    """A group of ``aidev`` operations and the parameters they take."""

    model_operations: frozenset[str]
    """Operations of this part that call a language model (they cost money)."""

    def parameters(self) -> list[AIToolParameter]:
        """The parameters the part's operations use (each declaring its role)."""
        ...

    def operations(self) -> dict[str, AIToolOperationDefinition]:
        """The part's operations by name."""
        ...


class AIDevTool(AITool):
    """The ``aidev`` tool: the operations of its parts, under one name.

    Args:
        parts: the parts; two parts may share a parameter only if they define it identically.

    Raises:
        ValueError: two parts define the same operation, or one parameter differently.
    """

    def __init__(self, parts: Sequence[AIDevPart]) -> None:
        super().__init__()
        self._parts = tuple(parts)
        self._parameters = _merged_parameters(p.parameters() for p in self._parts)
        self._operations: dict[str, AIToolOperationDefinition] = {}
        for part in self._parts:
            for name, operation in part.operations().items():
                if name in self._operations:
                    raise ValueError(f"aidev: two parts define the operation {name!r}")
                self._operations[name] = operation
        self.model_operations = frozenset().union(*(p.model_operations for p in self._parts))

    def get_definition(self) -> AIToolDefinition:
        """The tool's definition: every part's parameters."""
        return AIToolDefinition(
            name=NAME,
            description="AI development: prompts, training data, fine-tuning, model "
            "evaluation and retrieval over a company's documents",
            parameters=list(self._parameters),
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """Every part's operations."""
        return dict(self._operations)

    def close(self) -> None:
        """Close the parts that hold resources (a ``close()`` method)."""
        for part in self._parts:
            close = getattr(part, "close", None)
            if callable(close):
                close()


def _merged_parameters(groups: Iterable[list[AIToolParameter]]) -> list[AIToolParameter]:
    merged: dict[str, AIToolParameter] = {}
    for group in groups:
        for parameter in group:
            known = merged.get(parameter.name)
            if known is not None and _shape(known) != _shape(parameter):
                raise ValueError(
                    f"aidev: two parts define the parameter {parameter.name!r} differently"
                )
            merged.setdefault(parameter.name, parameter)
    return list(merged.values())


def _shape(parameter: AIToolParameter) -> Any:
    return (parameter.type, parameter.role, parameter.enum, repr(parameter.items))


__all__ = ["NAME", "AIDevPart", "AIDevTool"]
