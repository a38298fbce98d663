"""Argument checking compiled once per tool instance.

Each declared parameter becomes a small closure ``check(value, path)`` that raises
:class:`AIToolValidationError`; an operation keeps a dict from parameter name to closure.
Compiling up front keeps a checked dispatch within a microsecond or so of an unchecked one
(see ``benchmarks/ai_tool_dispatch.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ai_tool.ai_tool_exceptions import AIToolValidationError
from ai_tool.ai_tool_operation_definition import AIToolOperationDefinition
from ai_tool.ai_tool_parameter import AIToolParameter

Checker = Callable[[Any, str], None]

# Python type tuples and the seed helpers' wording for each JSON type.
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "string": ((str,), "a string"),
    "number": ((int, float), "a number"),
    "integer": ((int,), "an integer"),
    "boolean": ((bool,), "a boolean"),
    "array": ((list,), "a list"),
    "object": ((dict,), "an object"),
}


def _names(items: Iterable[Any]) -> str:
    return ", ".join(sorted(map(str, items)))


def _type_checker(type_name: str) -> Checker | None:
    spec = _TYPES.get(type_name)
    if spec is None:
        return None
    types, wording = spec
    # bool is a subclass of int, but a JSON true is not a number.
    rejects_bool = type_name in ("number", "integer")

    def check(value: Any, path: str) -> None:
        if not isinstance(value, types) or (rejects_bool and isinstance(value, bool)):
            raise AIToolValidationError(f"'{path}' must be {wording}", path)

    return check


def _enum_checker(enum: list[Any]) -> Checker:
    allowed = tuple(enum)
    shown = ", ".join(repr(v) for v in allowed)

    def check(value: Any, path: str) -> None:
        # True == 1 in Python; a boolean must never match a numeric entry (or vice versa).
        is_bool = isinstance(value, bool)
        for candidate in allowed:
            if candidate == value and isinstance(candidate, bool) is is_bool:
                return
        raise AIToolValidationError(f"'{path}' must be one of {shown}; got {value!r}", path)

    return check


def _array_checker(item_check: Checker) -> Checker:
    def check(value: list[Any], path: str) -> None:
        for index, item in enumerate(value):
            item_check(item, f"{path}[{index}]")

    return check


def _object_checker(fields: list[AIToolParameter]) -> Checker:
    checkers = {p.name: compile_parameter(p) for p in fields}
    required = tuple(p.name for p in fields if p.required)

    def check(value: dict[str, Any], path: str) -> None:
        unknown = value.keys() - checkers.keys()
        if unknown:
            first = min(map(str, unknown))
            raise AIToolValidationError(
                f"Parameter(s) {_names(f'{path}.{k}' for k in unknown)} not valid for "
                f"'{path}'; allowed: {_names(checkers) or '(none)'}",
                f"{path}.{first}",
            )
        missing = [name for name in required if value.get(name) is None]
        if missing:
            raise AIToolValidationError(
                f"Required parameter(s) {_names(f'{path}.{k}' for k in missing)} missing",
                f"{path}.{min(missing)}",
            )
        for name, item in value.items():
            # An optional field sent as null (OpenAI strict mode does this) counts as absent.
            if item is not None:
                checkers[name](item, f"{path}.{name}")

    return check


def _chain(checks: list[Checker]) -> Checker:
    if len(checks) == 1:
        return checks[0]

    def check(value: Any, path: str) -> None:
        for one in checks:
            one(value, path)

    return check


def _noop(value: Any, path: str) -> None:
    return None


def compile_parameter(param: AIToolParameter) -> Checker:
    """Return a checker for one parameter: type, then enum, then items or fields."""
    checks: list[Checker] = []
    type_check = _type_checker(param.type)
    if type_check is not None:
        checks.append(type_check)
    if param.enum is not None:
        checks.append(_enum_checker(param.enum))
    if param.type == "array" and param.items is not None:
        checks.append(_array_checker(compile_parameter(param.items)))
    if param.type == "object" and param.properties is not None:
        checks.append(_object_checker(param.property_list()))
    return _chain(checks) if checks else _noop


@dataclass(frozen=True, slots=True)
class CompiledOperation:
    """An operation definition with its precomputed parameter sets and checkers."""

    definition: AIToolOperationDefinition
    accepted: frozenset[str]
    """``allowed_parameters`` plus ``operation``."""
    required: frozenset[str]
    checkers: dict[str, Checker]

    def check_names(self, arguments: Mapping[str, Any]) -> None:
        """Reject parameters the operation does not allow and report missing ones."""
        keys = arguments.keys()
        op = self.definition.name
        if not keys <= self.accepted:
            invalid = keys - self.accepted
            raise AIToolValidationError(
                f"Parameter(s) {_names(invalid)} not valid for operation '{op}'",
                min(map(str, invalid)),
            )
        if not self.required <= keys:
            missing = self.required - keys
            raise AIToolValidationError(
                f"Required parameter(s) {_names(missing)} missing for operation '{op}'",
                min(missing),
            )

    def check_types(self, arguments: Mapping[str, Any]) -> None:
        """Run each provided parameter's checker."""
        checkers = self.checkers
        for name, value in arguments.items():
            check = checkers.get(name)
            if check is not None:
                check(value, name)


@dataclass(frozen=True, slots=True)
class CompiledTool:
    """Everything ``execute()`` needs, built once per tool instance."""

    operations: dict[str, CompiledOperation]
    available: str
    """Sorted, comma-separated operation names for error messages."""

    def route(self, arguments: Mapping[str, Any]) -> CompiledOperation:
        """Find the operation named by ``arguments['operation']`` (seed wording on failure)."""
        operation = arguments.get("operation")
        if not operation:
            raise AIToolValidationError("No 'operation' argument provided", "operation")
        if not isinstance(operation, str):
            raise AIToolValidationError("'operation' must be a string", "operation")
        compiled = self.operations.get(operation)
        if compiled is None:
            raise AIToolValidationError(
                f"Unsupported operation: {operation}. Available operations: {self.available}",
                "operation",
            )
        return compiled


def compile_tool(
    operations: Mapping[str, AIToolOperationDefinition], parameters: list[AIToolParameter]
) -> CompiledTool:
    """Precompile routing and checking for a tool's operations and declared parameters."""
    declared = {p.name: p for p in parameters}
    compiled: dict[str, CompiledOperation] = {}
    for name, op in operations.items():
        checkers = {
            p: compile_parameter(declared[p])
            for p in op.allowed_parameters
            if p in declared and p != "operation"  # already checked by route()
        }
        compiled[name] = CompiledOperation(
            definition=op,
            accepted=frozenset(op.allowed_parameters) | {"operation"},
            required=frozenset(op.required_parameters),
            checkers={k: v for k, v in checkers.items() if v is not _noop},
        )
    return CompiledTool(operations=compiled, available=", ".join(sorted(operations)))
