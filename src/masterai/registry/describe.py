"""What a tool's operations take and need, for ``masterai tool show`` (and other faces)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ai_tool import AIToolParameter
from masterai.registry.approval import Effect
from masterai.registry.registry import RegisteredTool
from masterai.security import COMPANY_ROLES, ParameterRole


@dataclass(frozen=True, kw_only=True)
class ParameterInfo:
    """One parameter of an operation."""

    name: str
    type: str
    required: bool
    description: str
    enum: list[Any] | None = None
    role: str | None = None
    """The declared :class:`~masterai.security.ParameterRole`, if any."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return self.__dict__.copy()


@dataclass(frozen=True, kw_only=True)
class OperationDescription:
    """One operation: its parameters and what a call of it needs."""

    name: str
    description: str
    read_only: bool
    destructive: bool
    parameters: list[ParameterInfo]
    needs_approval: bool
    """Destructive: a call is shown to an approver first (a dry run, where offered, is not)."""
    calls_model: bool
    """It calls a language model (costs money)."""
    names_company: bool
    """It takes a company (checked against the caller's company access)."""
    effects: list[str]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {**self.__dict__, "parameters": [p.to_dict() for p in self.parameters]}


def _role(
    parameter: AIToolParameter, registered: RegisteredTool, operation: str | None
) -> str | None:
    for binding in registered.roles_of(operation):
        if binding.path == (parameter.name,):
            return binding.role.value
    return parameter.role if parameter.role == ParameterRole.PLAIN else None


def describe_operations(
    registered: RegisteredTool, operations: list[str] | None = None
) -> list[OperationDescription]:
    """The operations of ``registered`` (all, or those named), in definition order."""
    definition = registered.tool.get_definition()
    described = []
    for name, op in registered.tool.get_operation_definitions().items():
        if operations is not None and name not in operations:
            continue
        parameters = [
            ParameterInfo(
                name=p.name,
                type=p.type,
                required=p.name in op.required_parameters,
                description=p.description,
                enum=p.enum,
                role=_role(p, registered, name),
            )
            for p in definition.parameters
            if p.name in op.allowed_parameters
        ]
        roles = registered.roles_of(name)
        effects = registered.effects(name)
        described.append(
            OperationDescription(
                name=name,
                description=op.description,
                read_only=op.read_only,
                destructive=op.destructive,
                parameters=parameters,
                needs_approval=op.destructive,
                calls_model=Effect.CALLS_MODEL in effects,
                names_company=any(b.role in COMPANY_ROLES for b in roles),
                effects=sorted(e.value for e in effects),
            )
        )
    return described
