"""Export tools as JSON Schema and as the tool formats of OpenAI, Anthropic, Gemini and MCP.

Two shapes of argument schema:

- ``mode="operations"``: an object whose ``oneOf`` has one branch per operation, each fixing
  ``operation`` with ``const`` and listing that operation's parameters and required ones;
- ``mode="flat"``: one object with every parameter of the exported operations, ``operation``
  required and an enum. Provider formats use this shape because their APIs refuse
  ``oneOf`` at the top level of a tool schema.

Every export takes ``operations``: only those operations (and their parameters) are shown,
so a model never sees what its user may not call.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ai_tool.ai_tool import OPERATIONS_HEADING, AITool
from ai_tool.ai_tool_definition import AIToolDefinition
from ai_tool.ai_tool_operation_definition import AIToolOperationDefinition
from ai_tool.ai_tool_parameter import PARAMETER_TYPES, AIToolParameter

__all__ = [
    "to_anthropic_tool",
    "to_gemini_tool",
    "to_mcp_tool",
    "to_openai_tool",
    "tool_json_schema",
]

Schema = dict[str, Any]


@dataclass
class _Style:
    """How to render parameter schemas for one target."""

    strict: bool = False
    """OpenAI strict mode: every property required, optional ones nullable."""
    gemini: bool = False
    """Gemini's OpenAPI subset: ``nullable`` keyword, string-only enums, no
    ``additionalProperties``, ``const`` or ``default``."""
    strict_ok: bool = True
    """Cleared when something cannot be expressed in strict mode (free-form objects, arrays
    without item types, undeclared parameters)."""


def _nullable(schema: Schema, style: _Style) -> Schema:
    if style.gemini:
        return {**schema, "nullable": True}
    if "type" in schema:
        schema = {**schema, "type": [schema["type"], "null"]}
    if "enum" in schema:
        schema = {**schema, "enum": [*schema["enum"], None]}
    return schema


def _object_schema(
    fields: list[AIToolParameter], required: Collection[str], style: _Style
) -> Schema:
    properties = {}
    for p in fields:
        schema = _param_schema(p, style)
        if style.strict and p.name not in required:
            schema = _nullable(schema, style)
        properties[p.name] = schema
    needed = [p.name for p in fields if style.strict or p.name in required]
    out: Schema = {"type": "object", "properties": properties, "required": needed}
    if not style.gemini:
        out["additionalProperties"] = False
    return out


def _param_schema(p: AIToolParameter, style: _Style) -> Schema:
    if p.type not in PARAMETER_TYPES:
        style.strict_ok = False
        return {"description": p.description}
    if p.type == "object" and p.properties is not None:
        nested = p.property_list()
        schema = _object_schema(nested, {q.name for q in nested if q.required}, style)
    else:
        schema = {"type": p.type}
        if p.type == "object":
            style.strict_ok = False  # free-form objects have no strict-mode form
    schema["description"] = p.description
    if p.type == "array":
        if p.items is not None:
            schema["items"] = _param_schema(p.items, style)
        else:
            style.strict_ok = False
    if p.enum is not None and (not style.gemini or p.type == "string"):
        schema["enum"] = list(p.enum)
        if style.gemini:
            schema["format"] = "enum"
    if p.default is not None and not (style.strict or style.gemini):
        schema["default"] = p.default
    return schema


def _select(
    tool: AITool, operations: Collection[str] | None
) -> tuple[AIToolDefinition, dict[str, AIToolOperationDefinition]]:
    definition = tool.get_definition()
    available = tool.get_operation_definitions()
    if operations is None:
        return definition, dict(available)
    if isinstance(operations, str):
        raise TypeError(f"operations must be a collection of names, not the string {operations!r}")
    unknown = sorted(set(operations) - available.keys())
    if unknown or not operations:
        raise ValueError(
            f"Cannot export operation(s) {unknown!r} of tool {definition.name!r}. "
            f"Available operations: {', '.join(sorted(available)) or '(none)'}"
        )
    return definition, {n: op for n, op in available.items() if n in operations}


def _parameters_for(
    definition: AIToolDefinition, allowed: Collection[str]
) -> list[AIToolParameter]:
    declared = [p for p in definition.parameters if p.name in allowed and p.name != "operation"]
    names = {p.name for p in declared}
    declared += [AIToolParameter(n, "any", n) for n in sorted(set(allowed) - names)]
    return declared


def _operation_parameter(
    definition: AIToolDefinition, ops: Mapping[str, AIToolOperationDefinition]
) -> Schema:
    declared = next((p for p in definition.parameters if p.name == "operation"), None)
    description = declared.description if declared is not None else "Operation to perform"
    return {"type": "string", "enum": list(ops), "description": description}


def _description(definition: AIToolDefinition, ops: Mapping[str, Any]) -> str:
    """Return the tool description listing only the exported operations."""
    prefix, sep, _ = definition.description.partition(OPERATIONS_HEADING)
    if not sep or not ops:
        return definition.description
    lines = "\n".join(f"- {n}: {op.description}" for n, op in ops.items())
    return f"{prefix}{OPERATIONS_HEADING}{lines}"


def _flat_schema(
    definition: AIToolDefinition, ops: Mapping[str, AIToolOperationDefinition], style: _Style
) -> Schema:
    if not ops:  # legacy tool: the definition's parameters as they are
        required = {p.name for p in definition.parameters if p.required}
        return _object_schema(definition.parameters, required, style)
    allowed = set().union(*(op.allowed_parameters for op in ops.values()))
    always = set.intersection(*(set(op.required_parameters) for op in ops.values()))
    fields = []
    for p in _parameters_for(definition, allowed):
        users = ", ".join(
            f"{n} (required)" if p.name in op.required_parameters else n
            for n, op in ops.items()
            if p.name in op.allowed_parameters
        )
        text = p.description.rstrip()
        if text and not text.endswith((".", "!", "?")):
            text += "."
        fields.append(
            AIToolParameter(
                p.name,
                p.type,
                f"{text} Used by: {users}.".lstrip(),
                p.required,
                p.enum,
                p.properties,
                items=p.items,
                default=p.default,
            )
        )
    schema = _object_schema(fields, always, style)
    schema["properties"] = {
        "operation": _operation_parameter(definition, ops),
        **schema["properties"],
    }
    schema["required"] = ["operation", *schema["required"]]
    return schema


def _operations_schema(
    definition: AIToolDefinition, ops: Mapping[str, AIToolOperationDefinition]
) -> Schema:
    style = _Style()
    branches = []
    for name, op in ops.items():
        branch = _object_schema(
            _parameters_for(definition, op.allowed_parameters), op.required_parameters, style
        )
        branch["properties"] = {"operation": {"const": name}, **branch["properties"]}
        branch["required"] = ["operation", *branch["required"]]
        branches.append({"title": name, "description": op.description, **branch})
    return {
        "type": "object",
        "properties": {"operation": _operation_parameter(definition, ops)},
        "required": ["operation"],
        "oneOf": branches,
    }


def tool_json_schema(
    tool: AITool,
    *,
    operations: Collection[str] | None = None,
    mode: Literal["operations", "flat"] = "operations",
) -> Schema:
    """Return the JSON Schema (draft 2020-12) of a tool's arguments.

    Args:
        tool: The tool.
        operations: Export only these operations (default: all).
        mode: ``"operations"`` for a ``oneOf`` with one branch per operation, ``"flat"`` for
            one object. A legacy tool (no operations) gives the flat form either way.

    Raises:
        ValueError: ``operations`` names an operation the tool lacks, or ``mode`` is unknown.
    """
    if mode not in ("operations", "flat"):
        raise ValueError(f"mode must be 'operations' or 'flat', not {mode!r}")
    definition, ops = _select(tool, operations)
    if mode == "operations" and ops:
        return _operations_schema(definition, ops)
    return _flat_schema(definition, ops, _Style())


def to_openai_tool(
    tool: AITool, *, operations: Collection[str] | None = None, strict: bool = True
) -> Schema:
    """Return the tool in OpenAI's Chat Completions ``tools`` format.

    With ``strict=True`` the parameters follow strict mode (every property required,
    optional ones nullable, ``additionalProperties: false`` on every object). A tool whose
    parameters cannot be expressed that way (a free-form object, an array without ``items``)
    is exported with ``"strict": false`` instead.
    """
    definition, ops = _select(tool, operations)
    style = _Style(strict=strict)
    parameters = _flat_schema(definition, ops, style)
    if strict and not style.strict_ok:
        parameters = _flat_schema(definition, ops, _Style())
    return {
        "type": "function",
        "function": {
            "name": definition.name,
            "description": _description(definition, ops),
            "parameters": parameters,
            "strict": strict and style.strict_ok,
        },
    }


def to_anthropic_tool(tool: AITool, *, operations: Collection[str] | None = None) -> Schema:
    """Return the tool in Anthropic's Messages API ``tools`` format."""
    definition, ops = _select(tool, operations)
    return {
        "name": definition.name,
        "description": _description(definition, ops),
        "input_schema": _flat_schema(definition, ops, _Style()),
    }


def to_gemini_tool(tool: AITool, *, operations: Collection[str] | None = None) -> Schema:
    """Return the tool as a Gemini ``functionDeclarations`` entry (OpenAPI schema subset)."""
    definition, ops = _select(tool, operations)
    return {
        "name": definition.name,
        "description": _description(definition, ops),
        "parameters": _flat_schema(definition, ops, _Style(gemini=True)),
    }


def to_mcp_tool(tool: AITool, *, operations: Collection[str] | None = None) -> Schema:
    """Return the tool as an MCP ``Tool`` (for ``tools/list``).

    ``annotations.readOnlyHint``, ``destructiveHint`` and ``idempotentHint`` are set from the
    operations' ``read_only``, ``destructive`` and ``idempotent`` flags when all exported
    operations agree.
    """
    definition, ops = _select(tool, operations)
    out: Schema = {
        "name": definition.name,
        "description": _description(definition, ops),
        "inputSchema": _flat_schema(definition, ops, _Style()),
    }
    annotations = {}
    for hint, values in (
        ("readOnlyHint", {op.read_only for op in ops.values()}),
        ("destructiveHint", {op.destructive for op in ops.values()}),
        ("idempotentHint", {op.read_only or op.idempotent for op in ops.values()}),
    ):
        if len(values) == 1:
            annotations[hint] = values.pop()
    if annotations:
        out["annotations"] = annotations
    return out
