"""Markdown help generated from tool and operation definitions."""

from __future__ import annotations

from collections.abc import Mapping

from ai_tool.ai_tool_definition import AIToolDefinition
from ai_tool.ai_tool_operation_definition import AIToolOperationDefinition
from ai_tool.ai_tool_parameter import AIToolParameter


def first_sentence(text: str) -> str:
    """Return the first sentence of the first line, ending with a full stop (seed 003)."""
    sentence = text.strip().split("\n")[0].split(". ")[0].strip().rstrip(".")
    return f"{sentence}." if sentence else ""


def operation_summary(operations: Mapping[str, AIToolOperationDefinition]) -> dict[str, str]:
    """Return each operation's first sentence, by name."""
    return {name: first_sentence(op.description) for name, op in operations.items()}


def _type_text(param: AIToolParameter) -> str:
    text = param.type
    if param.type == "array" and param.items is not None:
        text = f"array of {_type_text(param.items)}"
    if param.enum is not None:
        text += ", one of " + ", ".join(f"`{v}`" for v in param.enum)
    return text


def _param_lines(params: list[AIToolParameter], required: set[str], indent: str = "") -> list[str]:
    lines = []
    for p in params:
        flag = "required" if p.name in required else "optional"
        extra = f"; default `{p.default!r}`" if p.default is not None else ""
        lines.append(f"{indent}- `{p.name}` ({_type_text(p)}, {flag}{extra}): {p.description}")
        nested = p.property_list()
        if nested:
            lines.extend(
                _param_lines(nested, {q.name for q in nested if q.required}, indent + "  ")
            )
    return lines


def _operation_section(
    op: AIToolOperationDefinition, declared: dict[str, AIToolParameter]
) -> list[str]:
    lines = [f"### {op.name}", "", op.description, ""]
    flags = [
        text for text, on in (("read-only", op.read_only), ("destructive", op.destructive)) if on
    ]
    if op.timeout is not None:
        flags.append(f"timeout {op.timeout:g}s")
    if flags:
        lines += [f"*{', '.join(flags)}*", ""]
    params = [declared[n] for n in declared if n in op.allowed_parameters]
    params += [
        AIToolParameter(n, "any", "(undeclared)")
        for n in sorted(set(op.allowed_parameters) - declared.keys() - {"operation"})
    ]
    if params:
        lines += ["Parameters:", "", *_param_lines(params, op.required_parameters), ""]
    else:
        lines += ["No parameters besides `operation`.", ""]
    return lines


def detailed_help(
    definition: AIToolDefinition,
    operations: Mapping[str, AIToolOperationDefinition],
    operation: str | None,
    prefix: str,
) -> str:
    """Return markdown help for a tool, or for one of its operations.

    An unknown ``operation`` gets a one-line answer naming the available ones (as in seed
    003, help never raises).
    """
    declared = {p.name: p for p in definition.parameters if p.name != "operation"}
    if operation is not None:
        if operation not in operations:
            available = ", ".join(sorted(operations))
            return f"Unknown operation {operation!r}. Available operations: {available}"
        return "\n".join(_operation_section(operations[operation], declared)).rstrip() + "\n"
    lines = [f"# {definition.name}", "", prefix.strip(), ""]
    if operations:
        lines += ["## Operations", ""]
        for op in operations.values():
            lines += _operation_section(op, declared)
    elif definition.parameters:
        required = {p.name for p in definition.parameters if p.required}
        lines += ["## Parameters", "", *_param_lines(definition.parameters, required), ""]
    return "\n".join(lines).rstrip() + "\n"
