"""The ``aidev`` tool (category ``aidev``): seed 000's ``AIDevelopmentTools``.

Prompt engineering, training data, fine-tuning, model evaluation and retrieval (RAG).

The tool is composed of *parts* (:mod:`masterai.tools.composed`), each a module of this
package that contributes parameters and operations (:class:`AIDevPart`): ``prompts``
(optimize_prompt, generate_prompt_variations, evaluate_prompt), ``training``
(prepare_training_data, fine-tune jobs, evaluate_model) and ``rag`` (index_documents,
search_similar, update_embeddings). Parts hold no state of their own beyond the services they
are built with; the logic lives in ``masterai.services``.
"""

from __future__ import annotations

from typing import Protocol

from masterai.tools.composed import ComposedTool, ToolPart

NAME = "aidev"


class AIDevPart(ToolPart, Protocol):
    """A group of ``aidev`` operations and the parameters they take."""

    model_operations: frozenset[str]
    """Operations of this part that call a language model (they cost money)."""


class AIDevTool(ComposedTool):
    """The ``aidev`` tool: the operations of its parts, under one name.

    Args:
        parts: the parts; two parts may share a parameter only if they define it identically.

    Raises:
        ValueError: two parts define the same operation, or one parameter differently.
    """

    NAME = NAME
    DESCRIPTION = (
        "AI development: prompts, training data, fine-tuning, model "
        "evaluation and retrieval over a company's documents"
    )


__all__ = ["NAME", "AIDevPart", "AIDevTool"]
