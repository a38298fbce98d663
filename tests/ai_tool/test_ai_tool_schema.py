"""Schema export: JSON Schema (per operation and flat) and the provider tool formats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ai_tool_helpers import OneParameterAITool, TypedAITool
from test_ai_tool_seed_examples import CalculatorAITool, SimpleTool

from ai_tool import (
    AITool,
    AIToolParameter,
    AIToolValidationError,
    to_anthropic_tool,
    to_gemini_tool,
    to_mcp_tool,
    to_openai_tool,
    tool_json_schema,
)
from ai_tool.clock import ClockAITool
from ai_tool.filesystem import FilesystemAITool

Validator = jsonschema.Draft202012Validator


def all_tools() -> list[AITool]:
    return [
        CalculatorAITool(),
        SimpleTool(),
        TypedAITool(),
        ClockAITool(),
        FilesystemAITool(Path("/nonexistent-root")),
    ]


def every_export(tool: AITool) -> list[dict[str, Any]]:
    return [
        tool_json_schema(tool),
        tool_json_schema(tool, mode="flat"),
        to_openai_tool(tool)["function"]["parameters"],
        to_openai_tool(tool, strict=False)["function"]["parameters"],
        to_anthropic_tool(tool)["input_schema"],
        to_gemini_tool(tool)["parameters"],
        to_mcp_tool(tool)["inputSchema"],
    ]


def objects(schema: Any) -> list[dict[str, Any]]:
    """Every sub-schema that declares properties."""
    found = []
    if isinstance(schema, dict):
        if "properties" in schema:
            found.append(schema)
        for value in schema.values():
            found += objects(value)
    elif isinstance(schema, list):
        for value in schema:
            found += objects(value)
    return found


@pytest.mark.parametrize("tool", all_tools(), ids=lambda t: t.get_tool_name())
def test_every_exported_schema_is_valid_json_schema(tool: AITool):
    for schema in every_export(tool):
        Validator.check_schema(schema)
        assert schema["type"] == "object"


@pytest.mark.parametrize("tool", all_tools(), ids=lambda t: t.get_tool_name())
def test_strict_openai_exports_follow_strict_mode_rules(tool: AITool):
    exported = to_openai_tool(tool)["function"]
    if not exported["strict"]:
        assert isinstance(tool, TypedAITool)  # it has a free-form object on purpose
        return
    for obj in objects(exported["parameters"]):
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    assert "oneOf" not in str(exported)


def test_strict_mode_makes_optional_parameters_nullable():
    parameters = to_openai_tool(ClockAITool())["function"]["parameters"]
    assert parameters["properties"]["operation"]["type"] == "string"  # required: not nullable
    assert parameters["properties"]["timezone"]["type"] == ["string", "null"]
    assert parameters["properties"]["format"]["enum"] == ["iso", "timestamp", None]
    Validator(parameters).validate({"operation": "get_time", "format": None, "timezone": None,
                                    "duration": None, "time": None, "message": None})  # fmt: skip


def test_a_tool_that_cannot_be_strict_is_exported_non_strict():
    exported = to_openai_tool(TypedAITool())["function"]
    assert exported["strict"] is False
    assert exported["parameters"]["properties"]["blob"] == {
        "type": "object",
        "description": "Free-form. Used by: echo.",
    }
    assert (
        to_openai_tool(OneParameterAITool(AIToolParameter("a", "array", "x")))["function"]["strict"]
        is False
    )


def test_the_operations_schema_has_one_branch_per_operation_with_its_required_parameters():
    schema = tool_json_schema(CalculatorAITool())
    assert schema["required"] == ["operation"]
    assert [b["title"] for b in schema["oneOf"]] == ["add", "square"]
    square = schema["oneOf"][1]
    assert square["properties"]["operation"] == {"const": "square"}
    assert list(square["properties"]) == ["operation", "x"]
    assert square["required"] == ["operation", "x"]
    validator = Validator(schema)
    assert validator.is_valid({"operation": "square", "x": 2})
    assert not validator.is_valid({"operation": "square", "x": 2, "y": 1})
    assert not validator.is_valid({"operation": "add", "x": 2})


CASES = [
    {"operation": "echo", "filters": {"date_range": {"start": "a", "end": "b"}}},
    {"operation": "echo", "filters": {"date_range": {"start": "a"}}},
    {"operation": "echo", "items": ["a", 1]},
    {"operation": "echo", "n": True},
    {"operation": "echo", "unit": "k"},
    {"operation": "needs_path"},
    {"operation": "needs_path", "path": "p", "x": 1},
    {"operation": "wipe", "path": "p"},
    {"operation": "nope"},
]


@pytest.mark.parametrize("arguments", CASES)
def test_the_operations_schema_agrees_with_validate_arguments(arguments):
    tool = TypedAITool()
    try:
        tool.validate_arguments(arguments)
        valid = True
    except AIToolValidationError:
        valid = False
    assert Validator(tool_json_schema(tool)).is_valid(arguments) is valid


def test_flat_schema_merges_operations_and_requires_only_what_all_of_them_require():
    schema = tool_json_schema(CalculatorAITool(), mode="flat")
    assert list(schema["properties"]) == ["operation", "x", "y"]
    assert schema["required"] == ["operation", "x"]
    assert schema["properties"]["y"]["description"] == (
        "Second operand (for binary operations). Used by: add (required)."
    )


def test_exports_can_be_limited_to_some_operations():
    fs = FilesystemAITool(Path("/nonexistent-root"))
    read_only = ["read_file", "list_directory", "get_info", "search"]
    flat = tool_json_schema(fs, operations=read_only, mode="flat")
    assert flat["properties"]["operation"]["enum"] == read_only
    assert "source" not in flat["properties"] and "recursive" not in flat["properties"]
    description = to_anthropic_tool(fs, operations=read_only)["description"]
    assert "- read_file:" in description and "delete" not in description
    assert [b["title"] for b in tool_json_schema(fs, operations={"delete"})["oneOf"]] == ["delete"]
    with pytest.raises(ValueError, match=r"Cannot export operation\(s\) \['rm'\]"):
        tool_json_schema(fs, operations=["read_file", "rm"])
    with pytest.raises(ValueError, match="Available operations: append_to_file, copy_file"):
        to_openai_tool(fs, operations=[])
    with pytest.raises(TypeError, match="not the string 'read_file'"):
        to_mcp_tool(fs, operations="read_file")
    with pytest.raises(ValueError, match="mode must be 'operations' or 'flat', not 'tree'"):
        tool_json_schema(fs, mode="tree")  # type: ignore[arg-type]


def test_mcp_annotations_appear_only_when_the_exported_operations_agree():
    fs = FilesystemAITool(Path("/nonexistent-root"))
    assert to_mcp_tool(fs, operations=["read_file", "search"])["annotations"] == {
        "readOnlyHint": True,
        "destructiveHint": False,
        "idempotentHint": True,  # read-only operations are idempotent
    }
    assert to_mcp_tool(fs, operations=["delete", "move"])["annotations"] == {
        "readOnlyHint": False,
        "destructiveHint": True,
        "idempotentHint": False,
    }
    assert "annotations" not in to_mcp_tool(fs)  # mixed flags: no claim
    assert to_mcp_tool(ClockAITool())["annotations"]["readOnlyHint"] is True
    assert "annotations" not in to_mcp_tool(SimpleTool())


def test_provider_formats_have_the_expected_envelopes():
    calc = CalculatorAITool()
    openai = to_openai_tool(calc)
    assert openai["type"] == "function"
    assert set(openai["function"]) == {"name", "description", "parameters", "strict"}
    assert openai["function"]["strict"] is True
    assert set(to_anthropic_tool(calc)) == {"name", "description", "input_schema"}
    assert set(to_gemini_tool(calc)) == {"name", "description", "parameters"}
    assert to_mcp_tool(calc)["name"] == "calculator"


def test_gemini_export_uses_the_openapi_subset():
    parameters = to_gemini_tool(TypedAITool())["parameters"]
    text = repr(parameters)
    assert "additionalProperties" not in text and "const" not in text
    assert "'default'" not in text
    level = parameters["properties"]["level"]
    assert "enum" not in level  # Gemini enums are strings only
    assert parameters["properties"]["unit"]["format"] == "enum"
    strict_like = to_gemini_tool(ClockAITool())["parameters"]
    assert all(isinstance(p["type"], str) for p in strict_like["properties"].values())


def test_legacy_tools_export_their_parameters_as_declared():
    schema = tool_json_schema(SimpleTool())
    assert schema == {
        "type": "object",
        "properties": {"input": {"type": "string", "description": "Input text"}},
        "required": ["input"],
        "additionalProperties": False,
    }
    assert to_openai_tool(SimpleTool())["function"]["parameters"] == schema


def test_array_items_and_defaults_are_exported():
    schema = tool_json_schema(TypedAITool(), mode="flat")
    assert schema["properties"]["items"]["items"] == {"type": "string", "description": "A tag"}
    assert schema["properties"]["unit"]["default"] == "c"
    ranges = schema["properties"]["filters"]["properties"]["ranges"]
    assert ranges["items"]["required"] == ["start", "end"]


def test_a_parameter_stores_its_role():
    parameter = AIToolParameter("company", "string", "Company id", role="company")
    assert parameter.role == "company"
    assert AIToolParameter("note", "string", "A note").role is None


def test_role_leaves_the_seed_positional_fields_where_they_were():
    nested = [AIToolParameter("id", "string", "Id")]
    parameter = AIToolParameter("target", "object", "Target", False, ["a"], nested, role="url")
    assert (parameter.required, parameter.enum, parameter.properties) == (False, ["a"], nested)
    seven: tuple[Any, ...] = ("target", "object", "Target", False, None, None, "url")
    with pytest.raises(TypeError):
        AIToolParameter(*seven)


def test_role_does_not_change_any_schema_export():
    def tool(role: str | None) -> OneParameterAITool:
        return OneParameterAITool(
            AIToolParameter(
                "site",
                "object",
                "Site",
                properties=[AIToolParameter("url", "string", "Address", role=role)],
                role=role,
            )
        )

    assert every_export(tool("url")) == every_export(tool(None))
    assert tool("url").get_detailed_help() == tool(None).get_detailed_help()
