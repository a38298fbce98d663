"""Helpers for the ai_tool tests: an authorization recorder and a tool with typed parameters."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ai_tool import (
    AITool,
    AIToolAuthorizationDenied,
    AIToolCall,
    AIToolDefinition,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
    AIToolTimeoutError,
)


@dataclass
class AuthRecorder:
    """An authorization callback that records each request and answers ``answer``."""

    answer: bool = True
    requests: list[tuple[str, dict[str, Any], str, str | None, bool]] = field(default_factory=list)

    async def __call__(
        self,
        tool_name: str,
        arguments: dict[str, Any],
        reason: str,
        context: str | None,
        destructive: bool,
    ) -> bool:
        self.requests.append((tool_name, arguments, reason, context, destructive))
        return self.answer


def call(**arguments: Any) -> AIToolCall:
    """An ``AIToolCall`` with the given arguments."""
    return AIToolCall(id="call-1", name="typed", arguments=arguments)


DATE_RANGE = AIToolParameter(
    "date_range",
    "object",
    "Inclusive range",
    required=False,
    properties=[
        AIToolParameter("start", "string", "Start date"),
        AIToolParameter("end", "string", "End date"),
        AIToolParameter("tz", "string", "Timezone", required=False),
    ],
)


#: What the ``fail`` operation raises for each ``path`` (otherwise ``ValueError("bad thing")``).
RAISED: dict[str, Exception] = {
    "timeout": TimeoutError("upstream took too long"),
    "tool-timeout": AIToolTimeoutError("quota clock ran out", 7.0),
    "execution": AIToolExecutionError("disk full"),
    "denied": AIToolAuthorizationDenied("the handler asked and was refused"),
}


class TypedAITool(AITool):
    """A tool exercising every parameter type; handlers echo what they received.

    It opts in to the framework's type checking, which these tests are mostly about.
    """

    type_check_arguments = True

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.started = asyncio.Event()

    def get_definition(self) -> AIToolDefinition:
        return self._build_definition_from_operations(
            name="typed",
            description_prefix="A test tool.",
            additional_parameters=[
                AIToolParameter("path", "string", "A path", required=False),
                AIToolParameter("n", "integer", "A count", required=False),
                AIToolParameter("x", "number", "A number", required=False),
                AIToolParameter("flag", "boolean", "A flag", required=False),
                AIToolParameter(
                    "items",
                    "array",
                    "Tags",
                    required=False,
                    items=AIToolParameter("item", "string", "A tag"),
                ),
                AIToolParameter("loose", "array", "Anything", required=False),
                AIToolParameter(
                    "unit", "string", "Unit", required=False, enum=["c", "f"], default="c"
                ),
                AIToolParameter("level", "integer", "Level", required=False, enum=[1, 2]),
                AIToolParameter(
                    "filters",
                    "object",
                    "Filters",
                    required=False,
                    properties=[
                        AIToolParameter("name", "string", "Name", required=False),
                        DATE_RANGE,
                        AIToolParameter(
                            "ranges",
                            "array",
                            "Several ranges",
                            required=False,
                            items=DATE_RANGE,
                        ),
                    ],
                ),
                AIToolParameter("blob", "object", "Free-form", required=False),
                AIToolParameter("token", "string", "Secret", required=False, sensitive=True),
            ],
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        everything = {
            "path",
            "n",
            "x",
            "flag",
            "items",
            "loose",
            "unit",
            "level",
            "filters",
            "blob",
        }
        return {
            "echo": AIToolOperationDefinition(
                "echo", self._echo, lambda a: f"echo {a.get('path')}", everything, set(), "Echo"
            ),
            "needs_path": AIToolOperationDefinition(
                "needs_path",
                self._echo,
                None,
                {"path", "n"},
                {"path"},
                "Needs a path",
                read_only=True,
            ),
            "wipe": AIToolOperationDefinition(
                "wipe",
                self._echo,
                lambda a: "wiping everything",
                {"path"},
                set(),
                "Wipe",
                destructive=True,
            ),
            "hang": AIToolOperationDefinition(
                "hang", self._hang, None, set(), set(), "Wait forever", timeout=0.05
            ),
            "hang_forever": AIToolOperationDefinition(
                "hang_forever", self._hang, None, set(), set(), "Wait forever, no limit"
            ),
            "fail": AIToolOperationDefinition(
                "fail", self._fail, None, {"path"}, set(), "Raise an exception"
            ),
        }

    async def _echo(self, tool_call: AIToolCall, requester_ref: Any, auth: Any) -> AIToolResult:
        self.calls.append(tool_call.arguments)
        return AIToolResult(id=tool_call.id, name="typed", content=repr(tool_call.arguments))

    async def _hang(self, tool_call: AIToolCall, requester_ref: Any, auth: Any) -> AIToolResult:
        self.started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def _fail(self, tool_call: AIToolCall, requester_ref: Any, auth: Any) -> AIToolResult:
        kind = tool_call.arguments.get("path", "value")
        if kind in RAISED:
            raise RAISED[kind]
        raise ValueError("bad thing")


class OneParameterAITool(AITool):
    """A tool with one operation, ``go``, taking the single given parameter (type-checked)."""

    type_check_arguments = True

    def __init__(self, parameter: AIToolParameter) -> None:
        self.parameter = parameter

    def get_definition(self) -> AIToolDefinition:
        return self._build_definition_from_operations("one", "One parameter.", [self.parameter])

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        return {
            "go": AIToolOperationDefinition(
                "go", self._go, None, {self.parameter.name}, set(), "Go"
            )
        }

    async def _go(self, tool_call: AIToolCall, requester_ref: Any, auth: Any) -> AIToolResult:
        return AIToolResult(id=tool_call.id, name="one", content="ok")


async def run_tool(tool: AITool, auth: Any = None, **arguments: Any) -> str:
    """Execute ``tool`` with ``arguments`` and return the result content."""
    if auth is None:
        auth = AuthRecorder(answer=True)
    result = await tool.execute(AIToolCall("t1", tool.get_tool_name(), arguments), None, auth)
    return result.content
