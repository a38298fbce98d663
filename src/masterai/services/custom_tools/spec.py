"""What a version of a custom tool is made of, checked once, and its content hash."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import jsonschema

from masterai.services.custom_tools.vocab import LANGUAGES, ToolTrigger
from masterai.services.errors import InvalidInputError
from masterai.services.scripts import check_cron, check_timezone

NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
"""Tool names: lower-case snake case (they become registry and MCP tool names)."""
MAX_CODE_CHARS = 100_000
MAX_TESTS = 100
_ENTRY = {
    "python": re.compile(r"^def\s+run\s*\(", re.MULTILINE),
    "javascript": re.compile(r"^(export\s+)?(async\s+)?function\s+run\s*\(", re.MULTILINE),
}


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """One version of a custom tool, as given (see :meth:`checked`)."""

    description: str
    code: str
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    """JSON Schema (2020-12) of the arguments object."""
    language: str = "python"
    output_schema: Mapping[str, Any] | None = None
    tests: Sequence[Mapping[str, Any]] = ()
    """Cases ``{"name"?, "arguments": {...}, "expected": ...}`` or ``{..., "assert": schema}``."""
    trigger: str = ToolTrigger.MANUAL.value
    schedule: str | None = None
    timezone: str = "UTC"
    companies: Sequence[str] = ()
    roles: Sequence[str] = ()

    def checked(self) -> ToolSpec:
        """This spec if every field is valid.

        Raises:
            InvalidInputError: naming the field and the offending value.
        """
        if not self.description.strip():
            raise InvalidInputError("description must not be empty")
        if self.language not in LANGUAGES:
            raise InvalidInputError(
                f"language {self.language!r} is not supported. Use: {', '.join(LANGUAGES)}"
            )
        if len(self.code) > MAX_CODE_CHARS:
            raise InvalidInputError(f"code is longer than {MAX_CODE_CHARS} characters")
        if not _ENTRY[self.language].search(self.code):
            entry = (
                "def run(args, ctx)"
                if self.language == "python"
                else "export function run(args, ctx)"
            )
            raise InvalidInputError(f"code must define {entry} at the top level")
        _check_schema("parameters", self.parameters)
        if self.parameters.get("type") != "object":
            raise InvalidInputError(
                f"parameters must be a JSON Schema of type 'object', got "
                f"type {self.parameters.get('type')!r}"
            )
        if self.output_schema is not None:
            _check_schema("output_schema", self.output_schema)
        self._check_tests()
        self._check_trigger()
        return self

    def _check_tests(self) -> None:
        if len(self.tests) > MAX_TESTS:
            raise InvalidInputError(f"at most {MAX_TESTS} tests, got {len(self.tests)}")
        for i, case in enumerate(self.tests):
            if not isinstance(case, Mapping) or not isinstance(case.get("arguments"), Mapping):
                raise InvalidInputError(f"tests[{i}] must be an object with 'arguments': {{...}}")
            if ("expected" in case) == ("assert" in case):
                raise InvalidInputError(f"tests[{i}] needs exactly one of 'expected' and 'assert'")
            extra = set(case) - {"name", "arguments", "expected", "assert"}
            if extra:
                raise InvalidInputError(
                    f"tests[{i}] has unknown keys {sorted(extra)}; "
                    "allowed: name, arguments, expected, assert"
                )
            if "assert" in case:
                _check_schema(f"tests[{i}].assert", case["assert"])
            try:
                jsonschema.validate(dict(case["arguments"]), dict(self.parameters))
            except jsonschema.ValidationError as e:
                raise InvalidInputError(
                    f"tests[{i}].arguments do not match parameters: {e.message}"
                ) from None

    def _check_trigger(self) -> None:
        try:
            trigger = ToolTrigger(self.trigger)
        except ValueError:
            allowed = ", ".join(t.value for t in ToolTrigger)
            raise InvalidInputError(f"trigger {self.trigger!r} is not one of: {allowed}") from None
        if trigger is ToolTrigger.SCHEDULE:
            if not self.schedule:
                raise InvalidInputError("trigger 'schedule' needs a cron 'schedule'")
            check_cron(self.schedule)
            check_timezone(self.timezone)
        elif self.schedule:
            raise InvalidInputError(
                f"a 'schedule' is only used with trigger 'schedule', not {self.trigger!r}"
            )
        if trigger is ToolTrigger.REALTIME and not self.companies:
            raise InvalidInputError("trigger 'realtime' needs the 'companies' it watches")

    def canonical(self) -> dict[str, Any]:
        """The definition as plain JSON data (what hashes and bundles cover)."""
        data = asdict(self)
        data["parameters"] = dict(self.parameters)
        data["output_schema"] = dict(self.output_schema) if self.output_schema else None
        data["tests"] = [dict(t) for t in self.tests]
        data["companies"] = sorted(self.companies)
        data["roles"] = sorted(self.roles)
        return data

    def content_hash(self, name: str) -> str:
        """SHA-256 (hex) of the canonical JSON of ``name`` and this definition."""
        return content_hash({"name": name, **self.canonical()})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ToolSpec:
        """A spec from JSON data (a bundle, a file); unknown keys are refused.

        Raises:
            InvalidInputError: a key is unknown or a value has the wrong type.
        """
        known = set(cls.__dataclass_fields__)
        extra = set(data) - known
        if extra:
            raise InvalidInputError(f"unknown fields {sorted(extra)}; allowed: {sorted(known)}")
        strings = ("description", "code", "language", "trigger", "timezone")
        for key in strings:
            if key in data and not isinstance(data[key], str):
                raise InvalidInputError(f"{key} must be a string, got {data[key]!r:.60}")
        for key in ("parameters", "output_schema"):
            if data.get(key) is not None and not isinstance(data[key], Mapping):
                raise InvalidInputError(f"{key} must be a JSON object")
        for key in ("tests", "companies", "roles"):
            if key in data and not isinstance(data[key], list | tuple):
                raise InvalidInputError(f"{key} must be a list")
        values = {k: v for k, v in data.items() if v is not None or k == "output_schema"}
        for key in ("tests", "companies", "roles"):
            if key in values:
                values[key] = tuple(values[key])
        return cls(**values)


def content_hash(data: Any) -> str:
    """SHA-256 (hex) of the canonical JSON of ``data`` (sorted keys, no spaces)."""
    return hashlib.sha256(canonical_json(data)).hexdigest()


def canonical_json(data: Any) -> bytes:
    """``data`` as canonical JSON bytes: sorted keys, compact separators, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check_name(name: Any) -> str:
    """``name`` if it is a valid tool name.

    Raises:
        InvalidInputError: it is not lower-case snake case of 2 to 64 characters.
    """
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidInputError(
            f"invalid tool name {name!r}: use 2-64 lower-case letters, digits and '_', "
            "starting with a letter"
        )
    return name


def _check_schema(key: str, schema: Any) -> None:
    if not isinstance(schema, Mapping):
        raise InvalidInputError(f"{key} must be a JSON Schema object")
    try:
        jsonschema.Draft202012Validator.check_schema(dict(schema))
    except jsonschema.SchemaError as e:
        raise InvalidInputError(f"{key} is not a valid JSON Schema: {e.message}") from None
