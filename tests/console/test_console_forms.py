"""Forms from JSON Schema, and the posted form read back as arguments."""

from __future__ import annotations

from typing import Any

import pytest

from masterai.api.console.forms import arguments_from, fields_for, operation_schemas

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"operation": {"type": "string", "enum": ["go"]}},
    "oneOf": [
        {
            "title": "go",
            "type": "object",
            "properties": {
                "operation": {"const": "go"},
                "period": {"type": "string", "enum": ["day", "week"], "default": "day"},
                "rebuild": {"type": "boolean"},
                "limit": {"type": "integer"},
                "interval": {"type": "number"},
                "metrics": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
                "changes": {"type": "object"},
                "prompt": {"type": "string"},
                "name": {"type": "string"},
            },
            "required": ["operation", "name"],
        }
    ],
}


def go() -> dict[str, Any]:
    return operation_schemas(SCHEMA)["go"]


def test_each_property_becomes_the_field_of_its_kind() -> None:
    kinds = {f.name: f.kind for f in fields_for(go())}
    assert kinds == {
        "period": "select",
        "rebuild": "boolean",
        "limit": "integer",
        "interval": "number",
        "metrics": "json",
        "changes": "json",
        "prompt": "textarea",
        "name": "text",
    }
    period = next(f for f in fields_for(go()) if f.name == "period")
    assert (period.options, period.value) == (("day", "week"), "day")


def test_a_posted_form_gives_typed_arguments_and_leaves_empty_fields_out() -> None:
    form = {
        "name": "x",
        "period": "week",
        "rebuild": "false",
        "limit": "5",
        "interval": "0.9",
        "metrics": '["a"]',
        "changes": '{"temperature": 0.2}',
        "prompt": "",
    }
    assert arguments_from(go(), form) == (
        {
            "name": "x",
            "period": "week",
            "rebuild": False,
            "limit": 5,
            "interval": 0.9,
            "metrics": ["a"],
            "changes": {"temperature": 0.2},
        },
        {},
    )


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("name", "", "required"),
        ("period", "month", "choose one of: day, week"),
        ("limit", "1.5", "must be a whole number, got '1.5'"),
        ("interval", "nan", "must be a finite number"),
        ("metrics", '{"a": 1}', "must be a JSON array, got dict"),
        ("changes", '{"a": 1, "a": 2}', "the key 'a' is given twice"),
        ("changes", '{"a": NaN}', "NaN is not a JSON number; use a finite number"),
        ("changes", "{", "not valid JSON"),
    ],
)
def test_a_value_that_does_not_fit_its_field_is_an_error_of_that_field(
    field: str, value: str, error: str
) -> None:
    form = {"name": "x", field: value}
    arguments, errors = arguments_from(go(), form)
    assert field not in arguments
    assert errors[field].startswith(error)
