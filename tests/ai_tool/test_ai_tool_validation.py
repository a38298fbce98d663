"""Argument checking before handlers run: routing, names, types, nesting, enums."""

from __future__ import annotations

from typing import Any

import pytest
from ai_tool_helpers import OneParameterAITool, TypedAITool, call

from ai_tool import AIToolExecutionError, AIToolParameter, AIToolValidationError


async def rejects(tool: TypedAITool, **arguments: Any) -> AIToolValidationError:
    """Execute and return the validation error, checking that no handler ran."""
    before = list(tool.calls)
    with pytest.raises(AIToolValidationError) as caught:
        await tool.execute(call(**arguments), None, None)  # type: ignore[arg-type]
    assert tool.calls == before
    with pytest.raises(AIToolValidationError) as again:
        tool.validate_arguments(arguments)
    assert (str(again.value), again.value.path) == (str(caught.value), caught.value.path)
    return caught.value


@pytest.mark.parametrize(
    ("arguments", "message", "path"),
    [
        ({}, "No 'operation' argument provided", "operation"),
        ({"operation": ""}, "No 'operation' argument provided", "operation"),
        ({"operation": ["echo"]}, "'operation' must be a string", "operation"),
        (
            {"operation": "ech"},
            "Unsupported operation: ech. Available operations: "
            "echo, fail, hang, hang_forever, needs_path, wipe",
            "operation",
        ),
        (
            {"operation": "needs_path", "path": "a", "zeta": 1, "alpha": 2},
            "Parameter(s) alpha, zeta not valid for operation 'needs_path'",
            "alpha",
        ),
        (
            {"operation": "needs_path", "n": 1},
            "Required parameter(s) path missing for operation 'needs_path'",
            "path",
        ),
    ],
)
async def test_routing_and_name_errors_use_the_seed_wording(typed, arguments, message, path):
    error = await rejects(typed, **arguments)
    assert (str(error), error.path) == (message, path)
    assert isinstance(error, AIToolExecutionError)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("path", 3, "'path' must be a string"),
        ("n", "3", "'n' must be an integer"),
        ("n", 3.0, "'n' must be an integer"),
        ("n", True, "'n' must be an integer"),
        ("x", False, "'x' must be a number"),
        ("x", "1.5", "'x' must be a number"),
        ("flag", 1, "'flag' must be a boolean"),
        ("flag", "true", "'flag' must be a boolean"),
        ("items", "a,b", "'items' must be a list"),
        ("items", ("a",), "'items' must be a list"),
        ("loose", {"a": 1}, "'loose' must be a list"),
        ("filters", [], "'filters' must be an object"),
        ("blob", "{}", "'blob' must be an object"),
    ],
)
async def test_wrong_top_level_types_name_the_parameter(typed, name, value, message):
    error = await rejects(typed, operation="echo", **{name: value})
    assert (str(error), error.path) == (message, name)


async def test_valid_values_of_every_type_reach_the_handler_unchanged(typed):
    arguments = {
        "operation": "echo",
        "path": "a.txt",
        "n": 3,
        "x": 2.5,
        "flag": False,
        "items": ["a", "b"],
        "loose": [1, "two", None],
        "unit": "f",
        "level": 2,
        "filters": {
            "name": "n",
            "date_range": {"start": "2024-01-01", "end": "2024-02-01"},
            "ranges": [{"start": "a", "end": "b", "tz": "UTC"}],
        },
        "blob": {"anything": [1, {"goes": True}]},
    }
    tool_call = call(**arguments)
    result = await typed.execute(tool_call, None, None)  # type: ignore[arg-type]
    assert typed.calls == [arguments]
    assert typed.calls[0] is tool_call.arguments  # no copy on valid input
    assert result.content == repr(arguments)


async def test_an_integer_is_accepted_where_a_number_is_declared(typed):
    await typed.execute(call(operation="echo", x=2), None, None)  # type: ignore[arg-type]
    assert typed.calls == [{"operation": "echo", "x": 2}]


@pytest.mark.parametrize(
    ("filters", "message", "path"),
    [
        (
            {"date_range": {"start": 20240101, "end": "x"}},
            "'filters.date_range.start' must be a string",
            "filters.date_range.start",
        ),
        (
            {"date_range": {"start": "x"}},
            "Required parameter(s) filters.date_range.end missing",
            "filters.date_range.end",
        ),
        (
            {"date_range": {"start": "x", "end": "y", "until": "z"}},
            "Parameter(s) filters.date_range.until not valid for 'filters.date_range'; "
            "allowed: end, start, tz",
            "filters.date_range.until",
        ),
        (
            {"ranges": [{"start": "a", "end": "b"}, {"start": "a", "end": 5}]},
            "'filters.ranges[1].end' must be a string",
            "filters.ranges[1].end",
        ),
        ({"ranges": {"start": "a"}}, "'filters.ranges' must be a list", "filters.ranges"),
        ({"date_range": "2024"}, "'filters.date_range' must be an object", "filters.date_range"),
    ],
)
async def test_nested_errors_give_the_dotted_path(typed, filters, message, path):
    error = await rejects(typed, operation="echo", filters=filters)
    assert (str(error), error.path) == (message, path)


async def test_array_items_are_checked_with_their_index(typed):
    error = await rejects(typed, operation="echo", items=["a", "b", 3])
    assert (str(error), error.path) == ("'items[2]' must be a string", "items[2]")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("unit", "k", "'unit' must be one of 'c', 'f'; got 'k'"),
        ("level", 3, "'level' must be one of 1, 2; got 3"),
        ("level", True, "'level' must be an integer"),
    ],
)
async def test_enums_reject_values_outside_the_list(typed, name, value, message):
    error = await rejects(typed, operation="echo", **{name: value})
    assert str(error) == message


def test_an_enum_never_matches_true_against_an_entry_of_1():
    tool = OneParameterAITool(AIToolParameter("v", "unknown-type", "d", enum=[1, "a"]))
    assert tool.validate_arguments({"operation": "go", "v": 1}) is not None
    with pytest.raises(AIToolValidationError, match="must be one of 1, 'a'; got True"):
        tool.validate_arguments({"operation": "go", "v": True})


async def test_null_arguments_count_as_absent(typed):
    """OpenAI strict mode sends null for every optional parameter it does not use."""
    await typed.execute(
        call(operation="needs_path", path="p", n=None, flag=None),  # flag is not even allowed
        None,
        None,  # type: ignore[arg-type]
    )
    assert typed.calls == [{"operation": "needs_path", "path": "p"}]
    error = await rejects(typed, operation="needs_path", path=None)
    assert str(error) == "Required parameter(s) path missing for operation 'needs_path'"


async def test_optional_nested_fields_may_be_null(typed):
    filters = {"date_range": {"start": "a", "end": "b", "tz": None}}
    await typed.execute(call(operation="echo", filters=filters), None, None)  # type: ignore[arg-type]
    assert typed.calls == [{"operation": "echo", "filters": filters}]


async def test_a_tool_can_opt_out_of_type_checking_but_not_routing():
    class Unchecked(TypedAITool):
        type_check_arguments = False

    tool = Unchecked()
    await tool.execute(call(operation="echo", n="not a number"), None, None)  # type: ignore[arg-type]
    assert tool.calls == [{"operation": "echo", "n": "not a number"}]
    assert tool.validate_arguments({"operation": "echo", "n": "x"}) is not None
    error = await rejects(tool, operation="needs_path")
    assert str(error) == "Required parameter(s) path missing for operation 'needs_path'"


def test_validate_arguments_returns_the_selected_operation_without_running_it(typed):
    definition = typed.validate_arguments({"operation": "wipe", "path": "x"})
    assert definition is not None
    assert (definition.name, definition.destructive, definition.read_only) == ("wipe", True, False)
    assert typed.calls == []


def test_seed_style_dict_properties_are_checked_like_a_list():
    param = AIToolParameter(
        "point", "object", "A point", properties={"x": AIToolParameter("x", "integer", "X")}
    )
    tool = OneParameterAITool(param)
    assert tool.validate_arguments({"operation": "go", "point": {"x": 1}}) is not None
    with pytest.raises(AIToolValidationError, match=r"^'point.x' must be an integer$"):
        tool.validate_arguments({"operation": "go", "point": {"x": "1"}})
