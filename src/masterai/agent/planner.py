"""Turning the model's ``propose_plan`` call into checked plan steps.

A step survives only if its tool and operation are among those the principal may use and the
registry prepares it (the tool accepts the arguments, the policy allows them). Anything else is
sent back to the model and never shown to the user.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from masterai.agent.plan import PlanStep
from masterai.llm import ToolCall
from masterai.registry import (
    CallRequest,
    Effect,
    ExecutionContext,
    PermissionDenied,
    RegistryError,
    ToolListing,
    ToolRegistry,
)

REFERENCE = re.compile(r"\{\{\s*step(\d+)\.(content|data)((?:\.[A-Za-z0-9_\-]+)*)\s*\}\}")


@dataclass(frozen=True, kw_only=True)
class Catalog:
    """The tools one principal may use, as listed by the registry."""

    registry: ToolRegistry
    listings: Mapping[str, ToolListing]

    @classmethod
    def build(cls, registry: ToolRegistry, context: ExecutionContext) -> Catalog:
        """What ``context.principal`` may use."""
        listings = registry.list_tools(context.principal)
        return cls(registry=registry, listings={t.name: t for t in listings})


def check_step(catalog: Catalog, context: ExecutionContext, step: PlanStep) -> str | None:
    """Why ``step`` cannot be part of a plan (``None`` if it can).

    The step is prepared by the registry exactly as its call will be (one validation, one
    policy decision); arguments that still refer to earlier results are checked for names
    only, and in full when the step runs. Fills ``read_only`` and ``calls_model`` from the
    tool, so they never come from the model.
    """
    listing = catalog.listings.get(step.tool)
    where = f"step {step.position} ({step.label})"
    if listing is None:
        return f"{where}: tool {step.tool!r} is not available; use one of: " + ", ".join(
            sorted(catalog.listings)
        )
    operations = {op.name: op for op in listing.operations}
    if operations and step.operation not in operations:
        return (
            f"{where}: operation {step.operation!r} is not available for {step.tool!r}; "
            f"use one of: {', '.join(operations)}"
        )
    request = CallRequest(tool_name=step.tool, params=step.params(), context=context)
    try:
        call = catalog.registry.prepare(request, check_types=not _has_reference(step.arguments))
    except PermissionDenied as error:
        return f"{where}: not permitted: {str(error).removeprefix('Permission denied: ')}"
    except RegistryError as error:
        return f"{where}: invalid arguments: {error}"
    step.read_only = bool(call.operation and call.operation.read_only)
    step.calls_model = Effect.CALLS_MODEL in call.effects
    return None


def _has_reference(value: Any) -> bool:
    if isinstance(value, str):
        return REFERENCE.search(value) is not None
    if isinstance(value, Mapping):
        return any(_has_reference(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_reference(v) for v in value)
    return False


def _step_from(position: int, raw: Any) -> PlanStep | str:
    if not isinstance(raw, Mapping):
        return f"step {position}: must be an object, got {raw!r}"
    arguments = raw.get("arguments", {})
    if not isinstance(arguments, Mapping):
        return f"step {position}: arguments must be an object, got {arguments!r}"
    arguments = {k: v for k, v in arguments.items() if k != "operation"}
    operation = raw.get("operation") or raw.get("arguments", {}).get("operation")
    tool = raw.get("tool")
    if not isinstance(tool, str) or not tool:
        return f"step {position}: 'tool' must be a tool name, got {tool!r}"
    return PlanStep(
        position=position,
        tool=tool,
        operation=str(operation) if operation else None,
        arguments=dict(arguments),
        purpose=str(raw.get("purpose") or ""),
        needs_feedback=bool(raw.get("needs_feedback", False)),
    )


def steps_from_call(
    call: ToolCall, catalog: Catalog, context: ExecutionContext
) -> tuple[str, list[PlanStep], list[str]]:
    """``(summary, steps, problems)`` from a ``propose_plan`` call; valid only if no problems."""
    if call.arguments_error:
        return "", [], [f"propose_plan: {call.arguments_error}"]
    raw_steps = call.arguments.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        return "", [], [f"propose_plan: 'steps' must be a non-empty list, got {raw_steps!r}"]
    steps: list[PlanStep] = []
    problems: list[str] = []
    for position, raw in enumerate(raw_steps, start=1):
        built = _step_from(position, raw)
        if isinstance(built, str):
            problems.append(built)
            continue
        problem = check_step(catalog, context, built)
        if problem:
            problems.append(problem)
        steps.append(built)
    return str(call.arguments.get("summary") or ""), steps, problems


class ReferenceResolutionError(ValueError):
    """An argument refers to a step result that does not exist (yet)."""


def resolve_references(value: Any, results: Mapping[int, tuple[str, Any]]) -> Any:
    """``value`` with ``{{stepN.content}}`` / ``{{stepN.data.a.b}}`` replaced from ``results``.

    A string that is exactly one reference takes the referenced value as is (numbers stay
    numbers); references inside longer strings are formatted into them.
    """
    if isinstance(value, Mapping):
        return {k: resolve_references(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_references(v, results) for v in value]
    if not isinstance(value, str):
        return value
    whole = REFERENCE.fullmatch(value.strip())
    if whole:
        return _lookup(whole, results)
    return REFERENCE.sub(lambda m: _text(_lookup(m, results)), value)


def _text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


def _lookup(match: re.Match[str], results: Mapping[int, tuple[str, Any]]) -> Any:
    position, kind, path = int(match.group(1)), match.group(2), match.group(3)
    if position not in results:
        raise ReferenceResolutionError(
            f"{match.group(0)} refers to step {position}, which has no successful result"
        )
    content, data = results[position]
    value: Any = content if kind == "content" else data
    for key in filter(None, path.split(".")):
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            raise ReferenceResolutionError(
                f"{match.group(0)}: step {position}'s result has no field {key!r}"
            )
    return value
