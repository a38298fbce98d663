"""What one caller is offered over MCP: an MCP tool per permitted operation.

Each operation a principal may call is one MCP tool named ``<tool>_<operation>`` (a tool
without operations keeps its own name) with that operation's input schema, its declared
output schema, and annotations read from its declarations: ``readOnlyHint`` and
``destructiveHint`` from the operation, ``idempotentHint`` (read-only, or declared
``idempotent``), ``openWorldHint`` (it reaches outside Master AI: a declared URL, e-mail
address or external API parameter, or a language model).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ai_tool import AIToolOperationDefinition, tool_json_schema
from masterai.registry import Effect, RegisteredTool, ToolRegistry
from masterai.security import ParameterRole, Principal

OPEN_WORLD_ROLES = frozenset({ParameterRole.URL, ParameterRole.EMAIL, ParameterRole.API})
"""Declared parameter roles that make a call reach beyond Master AI."""

APPROVAL_EFFECTS = frozenset({Effect.CALLS_MODEL})
"""Effects an MCP caller approves although the operation itself needs no approval."""


@dataclass(frozen=True, kw_only=True)
class McpTool:
    """One permitted operation as an MCP tool."""

    name: str
    tool: str
    operation: str | None
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None
    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool
    needs_approval: bool
    """Destructive or model-calling: the human is asked first (MCP elicitation)."""

    def params(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The registry's ``params`` for a call with ``arguments``."""
        if self.operation is None:
            return dict(arguments)
        return {**arguments, "operation": self.operation}


def _input_schema(registered: RegisteredTool, operation: str | None) -> dict[str, Any]:
    schema = tool_json_schema(
        registered.tool, operations=[operation] if operation else None, mode="flat"
    )
    properties = dict(schema.get("properties", {}))
    properties.pop("operation", None)
    required = [r for r in schema.get("required", []) if r != "operation"]
    out: dict[str, Any] = {**schema, "type": "object", "properties": properties}
    if required:
        out["required"] = required
    else:
        out.pop("required", None)
    return out


def _description(
    registered: RegisteredTool, op: AIToolOperationDefinition | None, needs_approval: bool
) -> str:
    text = op.description if op else registered.tool.get_brief_description()
    text = text.rstrip()
    if text and not text.endswith((".", "!", "?")):
        text += "."
    notes = []
    if op is not None and op.destructive:
        notes.append(
            "Needs approval: the change is shown to you (a diff where there is one) and "
            "runs only when you accept."
        )
    elif needs_approval:
        notes.append("Needs approval: it calls a language model, which costs money.")
    return " ".join([f"[{registered.name}] {text}", *notes])


def tool_entry(registered: RegisteredTool, operation: str | None) -> McpTool:
    """The MCP tool for ``operation`` of ``registered`` (``None``: a legacy tool)."""
    op = registered.tool.get_operation_definitions().get(operation) if operation else None
    roles = {b.role for b in registered.roles_of(operation)}
    effects = registered.effects(operation)
    read_only = bool(op and op.read_only)
    destructive = not read_only and (op.destructive if op else True)
    needs_approval = destructive or bool(effects & APPROVAL_EFFECTS)
    return McpTool(
        name=f"{registered.name}_{operation}" if operation else registered.name,
        tool=registered.name,
        operation=operation,
        description=_description(registered, op, needs_approval),
        input_schema=_input_schema(registered, operation),
        output_schema=op.output_schema if op else None,
        read_only=read_only,
        destructive=destructive,
        idempotent=read_only or bool(op and op.idempotent),
        open_world=bool(roles & OPEN_WORLD_ROLES) or Effect.CALLS_MODEL in effects,
        needs_approval=needs_approval,
    )


def catalog(registry: ToolRegistry, principal: Principal) -> dict[str, McpTool]:
    """Every MCP tool ``principal`` may call, by MCP name, in registry order.

    A name two operations would share (``a_b`` + ``c`` and ``a`` + ``b_c``) goes to the
    first; the second is left out rather than made ambiguous.
    """
    tools: dict[str, McpTool] = {}
    for listing in registry.list_tools(principal):
        registered = registry.get(listing.name)
        if registered is None:  # unregistered meanwhile
            continue
        operations: list[str | None] = [op.name for op in listing.operations] or [None]
        for operation in operations:
            entry = tool_entry(registered, operation)
            tools.setdefault(entry.name, entry)
    return tools


def fingerprint(tools: dict[str, McpTool]) -> str:
    """A digest of what a caller is offered (changes when a tool, schema or flag does)."""
    body = json.dumps(
        [
            [t.name, t.description, t.input_schema, t.output_schema, t.needs_approval]
            for t in tools.values()
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()
