"""The seed 003 README examples, copied unchanged (only reformatted), run here."""

# ruff: noqa: UP035, UP006, I001
from typing import Any, Dict

import pytest

from ai_tool import (
    AITool,
    AIToolDefinition,
    AIToolParameter,
    AIToolOperationDefinition,
    AIToolCall,
    AIToolResult,
    AIToolAuthorizationCallback,
    AIToolExecutionError,
)
from ai_tool import AIToolManager, AIToolValidationError


# --- begin seed example (verbatim) ----------------------------------------------------
class CalculatorAITool(AITool):
    """Calculator tool with multiple math operations."""

    def get_definition(self) -> AIToolDefinition:
        """Get the tool definition."""
        # Use helper method to build definition from operations
        return self._build_definition_from_operations(
            name="calculator",
            description_prefix=(
                "The calculator tool performs mathematical operations. "
                "It supports basic arithmetic and advanced functions."
            ),
            additional_parameters=[
                AIToolParameter(
                    name="x", type="number", description="First operand", required=False
                ),
                AIToolParameter(
                    name="y",
                    type="number",
                    description="Second operand (for binary operations)",
                    required=False,
                ),
            ],
        )

    def get_operation_definitions(self) -> Dict[str, AIToolOperationDefinition]:
        """Define the operations this tool supports."""
        return {
            "add": AIToolOperationDefinition(
                name="add",
                handler=self._add,
                extract_context=None,
                allowed_parameters={"x", "y"},
                required_parameters={"x", "y"},
                description="Add two numbers together",
            ),
            "square": AIToolOperationDefinition(
                name="square",
                handler=self._square,
                extract_context=None,
                allowed_parameters={"x"},
                required_parameters={"x"},
                description="Square a number",
            ),
        }

    async def _add(
        self,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
    ) -> AIToolResult:
        """Add operation handler."""
        arguments = tool_call.arguments

        # Use helper methods for parameter extraction
        x = arguments.get("x")
        y = arguments.get("y")

        if not isinstance(x, (int, float)) or not isinstance(y, (int, float)):
            raise AIToolExecutionError("Both x and y must be numbers")

        result = x + y

        return AIToolResult(id=tool_call.id, name="calculator", content=str(result))

    async def _square(
        self,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
    ) -> AIToolResult:
        """Square operation handler."""
        arguments = tool_call.arguments
        x = arguments.get("x")

        if not isinstance(x, (int, float)):
            raise AIToolExecutionError("x must be a number")

        result = x * x

        return AIToolResult(id=tool_call.id, name="calculator", content=str(result))


class SimpleTool(AITool):
    """Simple tool without operations."""

    def get_definition(self) -> AIToolDefinition:
        return AIToolDefinition(
            name="simple_tool",
            description="A simple tool",
            parameters=[
                AIToolParameter(
                    name="input", type="string", description="Input text", required=True
                )
            ],
        )

    async def execute(
        self,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
    ) -> AIToolResult:
        """Direct execution without operations."""
        arguments = tool_call.arguments
        input_text = arguments.get("input", "")

        # Process input...
        result = input_text.upper()

        return AIToolResult(id=tool_call.id, name="simple_tool", content=result)


# --- end seed example -----------------------------------------------------------------


async def never_called(*args: Any) -> bool:
    raise AssertionError("the seed examples never ask for authorization")


async def test_seed_calculator_adds_and_squares_through_the_manager(manager: AIToolManager):
    manager.register_tool(CalculatorAITool(), "Calculator")
    tool = manager.get_tool("calculator")
    assert tool is not None
    added = await tool.execute(
        AIToolCall(id="1", name="calculator", arguments={"operation": "add", "x": 2, "y": 3.5}),
        None,
        never_called,
    )
    squared = await tool.execute(
        AIToolCall(id="2", name="calculator", arguments={"operation": "square", "x": 7}),
        None,
        never_called,
    )
    assert (added.id, added.name, added.content, added.error) == ("1", "calculator", "5.5", None)
    assert squared.content == "49"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"x": 1}, "No 'operation' argument provided"),
        ({"operation": 5}, "'operation' must be a string"),
        (
            {"operation": "cube", "x": 1},
            "Unsupported operation: cube. Available operations: add, square",
        ),
        (
            {"operation": "square", "x": 1, "y": 2},
            "Parameter(s) y not valid for operation 'square'",
        ),
        ({"operation": "add"}, "Required parameter(s) x, y missing for operation 'add'"),
    ],
)  # fmt: skip
async def test_seed_calculator_rejects_bad_calls_with_the_seed_messages(arguments, message):
    with pytest.raises(AIToolExecutionError) as caught:
        await CalculatorAITool().execute(
            AIToolCall(id="1", name="calculator", arguments=arguments), None, never_called
        )
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"operation": "add", "x": "1", "y": 2}, "Both x and y must be numbers"),
        ({"operation": "add", "x": 1, "y": [2]}, "Both x and y must be numbers"),
        ({"operation": "square", "x": "3"}, "x must be a number"),
    ],
)
async def test_seed_calculator_handlers_keep_their_own_type_messages(arguments, message):
    with pytest.raises(AIToolExecutionError) as caught:
        await CalculatorAITool().execute(
            AIToolCall(id="1", name="calculator", arguments=arguments), None, never_called
        )
    assert str(caught.value) == message
    assert caught.value.__cause__ is None  # raised by the handler, passed through unwrapped


class StrictCalculatorAITool(CalculatorAITool):
    type_check_arguments = True


async def test_a_calculator_that_opts_in_gets_the_framework_type_messages():
    with pytest.raises(AIToolValidationError) as caught:
        await StrictCalculatorAITool().execute(
            AIToolCall(id="1", name="calculator", arguments={"operation": "add", "x": "1", "y": 2}),
            None,
            never_called,
        )
    assert (str(caught.value), caught.value.path) == ("'x' must be a number", "x")


def test_forcing_type_checks_on_the_seed_calculator_gives_the_framework_messages():
    with pytest.raises(AIToolValidationError, match=r"^'x' must be a number$"):
        CalculatorAITool().check_call({"operation": "square", "x": "3"}, check_types=True)


async def test_seed_simple_tool_runs_its_own_execute(manager: AIToolManager):
    manager.register_tool(SimpleTool(), "Simple")
    tool = manager.get_tool("simple_tool")
    assert tool is not None
    result = await tool.execute(
        AIToolCall(id="9", name="simple_tool", arguments={"input": "hello"}), None, never_called
    )
    assert result.to_dict() == {
        "id": "9",
        "name": "simple_tool",
        "content": "HELLO",
        "error": None,
    }
    assert tool.validate_arguments({"input": 3}) is None  # legacy tools check for themselves


def test_seed_calculator_definition_lists_operation_first_with_its_enum():
    definition = CalculatorAITool().get_definition()
    assert [p.name for p in definition.parameters] == ["operation", "x", "y"]
    assert definition.parameters[0].enum == ["add", "square"]
    assert definition.parameters[0].required is True
    assert "- add: Add two numbers together" in definition.description
    assert "- square: Square a number" in definition.description
    assert CalculatorAITool().get_tool_name() == "calculator"
    assert SimpleTool().get_tool_name() == "simpletool"


def test_seed_calculator_brief_description_and_summary_are_first_sentences():
    calc = CalculatorAITool()
    assert calc.get_brief_description() == ("The calculator tool performs mathematical operations.")
    assert calc.get_operation_summary() == {
        "add": "Add two numbers together.",
        "square": "Square a number.",
    }
    assert calc.get_detailed_help("square").startswith("### square\n\nSquare a number\n")
