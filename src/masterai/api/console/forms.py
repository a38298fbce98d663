"""Forms generated from a tool's JSON Schema, and the posted form read back as arguments.

Each operation's schema (one ``oneOf`` branch of the tool's exported schema) becomes one
field per property: an enum is a select, a boolean a yes/no select (empty: not given), a
number an input of that type, an array or object a JSON text field (checked as you type by
``console.js`` and again here), anything else text. Empty optional fields are left out, so
the tool's defaults apply.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

FieldKind = Literal["text", "textarea", "number", "integer", "select", "boolean", "json"]

_LONG_TEXT = frozenset(
    {"prompt", "content", "code", "system_prompt", "message", "text", "query", "description"}
)
"""String parameters shown as a text area (presentation only; the policy never reads it)."""


@dataclass(frozen=True, kw_only=True)
class Field:
    """One input of a generated form."""

    name: str
    kind: FieldKind
    description: str
    required: bool
    options: tuple[str, ...] = ()
    """Choices of a select (enum values as text)."""
    json_type: str | None = None
    """``array`` or ``object`` for a JSON field."""
    placeholder: str = ""
    value: str = ""
    """What the field shows (the posted value after an error, else the default)."""
    error: str | None = None


def operation_schemas(schema: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each operation's own schema, by operation name (``""`` for a tool without any)."""
    branches = schema.get("oneOf")
    if not isinstance(branches, list):
        return {"": dict(schema)}
    found: dict[str, dict[str, Any]] = {}
    for branch in branches:
        name = branch.get("properties", {}).get("operation", {}).get("const", branch.get("title"))
        if isinstance(name, str):
            found[name] = branch
    return found


def _properties(schema: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    props = schema.get("properties", {})
    return {k: v for k, v in props.items() if k != "operation" and isinstance(v, dict)}


def _kind(name: str, prop: Mapping[str, Any]) -> FieldKind:
    kind = prop.get("type")
    if "enum" in prop:
        return "select"
    if kind == "boolean":
        return "boolean"
    if kind == "integer":
        return "integer"
    if kind == "number":
        return "number"
    if kind in ("array", "object"):
        return "json"
    return "textarea" if name in _LONG_TEXT else "text"


def _placeholder(prop: Mapping[str, Any]) -> str:
    if prop.get("type") == "array":
        items = prop.get("items", {})
        if "enum" in items:
            return json.dumps(list(items["enum"])[:3])
        return '["…"]' if items.get("type") != "object" else '[{"…": "…"}]'
    if prop.get("type") == "object":
        return '{"key": "value"}'
    return ""


def fields_for(
    schema: Mapping[str, Any],
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[Field]:
    """The form of one operation; ``values`` and ``errors`` from a refused submission."""
    required = set(schema.get("required", ()))
    values = values or {}
    errors = errors or {}
    fields = []
    for name, prop in _properties(schema).items():
        kind = _kind(name, prop)
        default = prop.get("default")
        shown = values.get(name)
        if shown is None:
            shown = "" if default is None else _text(default)
        fields.append(
            Field(
                name=name,
                kind=kind,
                description=str(prop.get("description", "")),
                required=name in required,
                options=tuple(_text(v) for v in prop.get("enum", ())),
                json_type=prop.get("type") if kind == "json" else None,
                placeholder=_placeholder(prop),
                value=shown,
                error=errors.get(name),
            )
        )
    return fields


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


class FieldError(ValueError):
    """A posted value that does not fit its field."""


def _no_constants(name: str) -> Any:
    raise FieldError(f"{name} is not a JSON number; use a finite number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise FieldError(f"the key {key!r} is given twice")
        seen[key] = value
    return seen


def parse_json(text: str, json_type: str | None) -> Any:
    """A JSON field's value: an array or object as declared (duplicate keys, NaN refused)."""
    try:
        value = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as e:
        raise FieldError(f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from e
    expected = {"array": list, "object": dict}.get(json_type or "")
    if expected is not None and not isinstance(value, expected):
        raise FieldError(f"must be a JSON {json_type}, got {type(value).__name__}")
    return value


def _convert(kind: FieldKind, prop: Mapping[str, Any], raw: str) -> Any:
    if kind == "select":
        for option in prop.get("enum", ()):
            if _text(option) == raw:
                return option
        raise FieldError(f"choose one of: {', '.join(_text(o) for o in prop['enum'])}")
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise FieldError("choose yes or no")
        return raw == "true"
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            raise FieldError(f"must be a whole number, got {raw!r}") from None
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            raise FieldError(f"must be a number, got {raw!r}") from None
        if not math.isfinite(number):
            raise FieldError("must be a finite number")
        return int(number) if number.is_integer() and "." not in raw else number
    if kind == "json":
        return parse_json(raw, prop.get("type"))
    return raw


def arguments_from(
    schema: Mapping[str, Any], form: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The arguments a posted form gives (``operation`` excluded), and errors by field."""
    required = set(schema.get("required", ()))
    arguments: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, prop in _properties(schema).items():
        raw = form.get(name)
        text = raw.strip() if isinstance(raw, str) else ""
        kind = _kind(name, prop)
        if kind in ("text", "textarea") and isinstance(raw, str) and raw.strip():
            text = raw  # keep the user's spacing inside text
        if not text:
            if name in required:
                errors[name] = "required"
            continue
        try:
            arguments[name] = _convert(kind, prop, text)
        except FieldError as e:
            errors[name] = str(e)
    return arguments, errors


def posted_values(form: Mapping[str, Any]) -> dict[str, str]:
    """The text of every posted field (to show a refused form again as it was)."""
    return {k: v for k, v in form.items() if isinstance(v, str)}
