"""Property test: the exported JSON Schema accepts exactly what ``validate_arguments`` accepts."""

from __future__ import annotations

from typing import Any

import jsonschema
from ai_tool_helpers import TypedAITool
from hypothesis import given, settings
from hypothesis import strategies as st

from ai_tool import AIToolValidationError, tool_json_schema

TOOL = TypedAITool()
VALIDATOR = jsonschema.Draft202012Validator(tool_json_schema(TOOL))

# No nulls (the framework reads null as "absent", JSON Schema as a value) and no integral
# floats (JSON Schema calls 3.0 an integer; the seed helpers and this framework do not).
scalars = st.one_of(
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    st.sampled_from(["", "a", "c", "f", "2024-01-01"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["start", "end", "tz", "name", "x"]), inner, max_size=3),
    ),
    max_leaves=6,
)
date_range = st.fixed_dictionaries(
    {"start": st.sampled_from(["a", "a", 1])},
    optional={"end": st.sampled_from(["b", "b", 2]), "tz": st.just("UTC"), "x": st.just(1)},
)
floats = st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer())
VALID = {
    "path": st.sampled_from(["", "p", "a/b"]),
    "n": st.integers(),
    "x": st.one_of(st.integers(), floats),
    "flag": st.booleans(),
    "items": st.lists(st.sampled_from(["", "t"]), max_size=3),
    "loose": st.lists(scalars, max_size=3),
    "unit": st.sampled_from(["c", "f"]),
    "level": st.sampled_from([1, 2]),
    "filters": st.fixed_dictionaries(
        {},
        optional={
            "name": st.sampled_from(["", "t"]),
            "date_range": date_range,
            "ranges": st.lists(date_range, max_size=2),
        },
    ),
    "blob": st.dictionaries(st.sampled_from(["", "t"]), scalars, max_size=2),
}
# Mostly well-typed values, so that both outcomes are common.
arguments = st.fixed_dictionaries(
    {"operation": st.sampled_from(["echo"] * 6 + ["needs_path", "wipe", "nope", ""])},
    optional={
        **{name: st.one_of(*[ok] * 9, json_values) for name, ok in VALID.items()},
        "zzz": st.one_of(*[st.nothing()] * 4, scalars),
    },
)


@settings(max_examples=200, deadline=None)
@given(arguments)
def test_schema_and_runtime_validation_agree(args: dict[str, Any]):
    try:
        TOOL.validate_arguments(args)
        accepted = True
    except AIToolValidationError:
        accepted = False
    assert VALIDATOR.is_valid(args) is accepted, args
