"""Running handlers: error wrapping, authorization, timeouts, cancellation, helpers, help."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from ai_tool_helpers import RAISED, AuthRecorder, OneParameterAITool, TypedAITool, call

from ai_tool import (
    AITool,
    AIToolAuthorizationDenied,
    AIToolCall,
    AIToolCancelledError,
    AIToolDefinition,
    AIToolExecutionError,
    AIToolParameter,
    AIToolResult,
    AIToolTimeoutError,
    AIToolValidationError,
)


async def test_unexpected_handler_exceptions_are_wrapped_with_the_tool_name(typed):
    with pytest.raises(AIToolExecutionError) as caught:
        await typed.execute(call(operation="fail"), None, None)  # type: ignore[arg-type]
    assert str(caught.value) == "typed operation failed: bad thing"
    assert isinstance(caught.value.__cause__, ValueError)


async def test_a_handlers_own_timeout_error_is_wrapped_not_reported_as_a_tool_timeout(typed):
    with pytest.raises(AIToolExecutionError, match="operation failed: upstream took too long"):
        await typed.execute(call(operation="fail", path="timeout"), None, None)  # type: ignore[arg-type]


async def test_a_handlers_own_ai_tool_timeout_error_is_wrapped_with_the_original_as_cause(typed):
    with pytest.raises(AIToolExecutionError) as caught:
        await typed.execute(call(operation="fail", path="tool-timeout"), None, None)  # type: ignore[arg-type]
    assert not isinstance(caught.value, AIToolTimeoutError)
    assert str(caught.value) == "typed operation failed: quota clock ran out"
    assert caught.value.__cause__ is RAISED["tool-timeout"]


async def test_a_handlers_ai_tool_timeout_error_in_a_time_limited_operation_is_wrapped_too():
    class Limited(TypedAITool):
        def get_operation_definitions(self) -> dict[str, Any]:
            ops = super().get_operation_definitions()
            ops["fail"].timeout = 30
            return ops

    with pytest.raises(AIToolExecutionError) as caught:
        await Limited().execute(call(operation="fail", path="tool-timeout"), None, None)  # type: ignore[arg-type]
    assert str(caught.value) == "typed operation failed: quota clock ran out"
    assert caught.value.__cause__ is RAISED["tool-timeout"]


@pytest.mark.parametrize("kind", ["execution", "denied"])
async def test_execution_errors_and_denials_from_a_handler_pass_through_unchanged(typed, kind):
    with pytest.raises(type(RAISED[kind])) as caught:
        await typed.execute(call(operation="fail", path=kind), None, None)  # type: ignore[arg-type]
    assert caught.value is RAISED[kind]


async def test_messages_and_prompts_use_the_defined_tool_name_not_the_class_name(
    deny: AuthRecorder,
):
    class ExampleWidgetTool(TypedAITool):  # a masterai-style class name
        pass

    tool = ExampleWidgetTool()
    assert tool.get_tool_name() == "examplewidgettool"
    with pytest.raises(AIToolExecutionError, match=r"^typed operation failed: bad thing$"):
        await tool.execute(call(operation="fail"), None, deny)
    with pytest.raises(AIToolAuthorizationDenied, match=r"^Authorization denied for typed "):
        await tool.execute(call(operation="wipe"), None, deny)
    assert deny.requests[0][:3] == (
        "typed",
        {"operation": "wipe"},
        "The typed tool wants to run the destructive operation 'wipe'",
    )


async def test_destructive_operations_ask_for_authorization_first(typed, allow: AuthRecorder):
    result = await typed.execute(call(operation="wipe", path="x"), None, allow)
    assert result.content == repr({"operation": "wipe", "path": "x"})
    assert allow.requests == [
        (
            "typed",
            {"operation": "wipe", "path": "x"},
            "The typed tool wants to run the destructive operation 'wipe'",
            "wiping everything",
            True,
        )
    ]


async def test_refused_destructive_operations_raise_and_never_run(typed, deny: AuthRecorder):
    with pytest.raises(AIToolAuthorizationDenied, match="denied for typed operation 'wipe'"):
        await typed.execute(call(operation="wipe"), None, deny)
    assert typed.calls == []
    assert len(deny.requests) == 1


async def test_non_destructive_operations_do_not_ask(typed, deny: AuthRecorder):
    await typed.execute(call(operation="echo"), None, deny)
    assert deny.requests == []


class PreviewingAITool(TypedAITool):
    """Approval per call: ``wipe`` with ``flag=True`` is a preview; ``n=2`` makes ``echo`` risky."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[str, dict[str, Any]]] = []

    def get_operation_definitions(self) -> dict[str, Any]:
        ops = super().get_operation_definitions()
        ops["wipe"].allowed_parameters = {"path", "flag"}
        return ops

    def requires_authorization(self, operation: Any, arguments: dict[str, Any]) -> bool:
        self.asked.append((operation.name, arguments))
        if operation.name == "wipe":
            return not arguments.get("flag", False)
        return arguments.get("n") == 2


def test_by_default_only_destructive_operations_require_authorization(typed):
    ops = typed.get_operation_definitions()
    assert typed.requires_authorization(ops["wipe"], {"operation": "wipe"}) is True
    assert typed.requires_authorization(ops["echo"], {"operation": "echo"}) is False


async def test_a_tool_can_let_a_preview_of_a_destructive_operation_run_unasked(
    deny: AuthRecorder,
):
    tool = PreviewingAITool()
    await tool.execute(call(operation="wipe", path="x", flag=True), None, deny)
    assert deny.requests == []
    assert tool.calls == [{"operation": "wipe", "path": "x", "flag": True}]
    # The same operation without the preview flag is still asked for, and refused.
    with pytest.raises(AIToolAuthorizationDenied, match="typed operation 'wipe'"):
        await tool.execute(call(operation="wipe", path="x"), None, deny)
    assert len(deny.requests) == 1
    assert len(tool.calls) == 1


async def test_a_tool_can_require_approval_of_a_non_destructive_call(
    allow: AuthRecorder, deny: AuthRecorder
):
    tool = PreviewingAITool()
    with pytest.raises(AIToolAuthorizationDenied):
        await tool.execute(call(operation="echo", n=2), None, deny)
    assert tool.calls == []
    await tool.execute(call(operation="echo", n=2, path="p"), None, allow)
    # Asked explicitly (destructive=True), so an auto-approving policy cannot wave it through.
    assert allow.requests == [
        (
            "typed",
            {"operation": "echo", "n": 2, "path": "p"},
            "The typed tool wants to run the operation 'echo'",
            "echo p",
            True,
        )
    ]
    await tool.execute(call(operation="echo", n=1), None, deny)
    assert len(deny.requests) == 1


async def test_the_authorization_hook_sees_only_checked_arguments(deny: AuthRecorder):
    tool = PreviewingAITool()
    with pytest.raises(AIToolValidationError, match="'flag' must be a boolean"):
        await tool.execute(call(operation="wipe", flag="yes"), None, deny)
    await tool.execute(call(operation="wipe", flag=True, path=None), None, deny)
    assert tool.asked == [("wipe", {"operation": "wipe", "flag": True})]


async def test_an_operation_timeout_cancels_the_handler_and_reports_the_duration(typed):
    async with asyncio.timeout(5):
        with pytest.raises(AIToolTimeoutError) as caught:
            await typed.execute(call(operation="hang"), None, None)  # type: ignore[arg-type]
    assert caught.value.timeout_duration == 0.05
    assert str(caught.value) == "typed operation 'hang' timed out after 0.05s"


async def test_cancelling_the_calling_task_cancels_the_handler(typed):
    task = asyncio.create_task(typed.execute(call(operation="hang_forever"), None, None))  # type: ignore[arg-type]
    async with asyncio.timeout(5):
        await typed.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_tool_cancel_stops_every_running_execution_of_that_instance(typed):
    other = TypedAITool()
    tasks = [
        asyncio.create_task(t.execute(call(operation="hang_forever"), None, None))  # type: ignore[arg-type]
        for t in (typed, typed, other)
    ]
    async with asyncio.timeout(5):
        await typed.started.wait()
        await other.started.wait()
        await asyncio.sleep(0)  # let the second execution of `typed` reach its handler too
    typed.cancel()
    async with asyncio.timeout(5):
        results = await asyncio.gather(*tasks[:2], return_exceptions=True)
    assert [str(r) for r in results] == ["typed operation 'hang_forever' was cancelled"] * 2
    assert all(isinstance(r, AIToolCancelledError) for r in results)
    assert not tasks[2].done()  # another instance is untouched
    other.cancel()
    with pytest.raises(AIToolCancelledError):
        await tasks[2]


async def test_cancel_with_nothing_running_is_harmless(typed):
    typed.cancel()
    await typed.execute(call(operation="echo"), None, None)  # type: ignore[arg-type]
    typed.cancel()
    assert len(typed.calls) == 1


async def test_a_tool_with_neither_operations_nor_execute_says_so():
    class Empty(AITool):
        def get_definition(self) -> AIToolDefinition:
            return AIToolDefinition("empty", "Nothing", [])

    with pytest.raises(NotImplementedError, match="Empty must either define operations"):
        await Empty().execute(AIToolCall("1", "empty", {}), None, None)  # type: ignore[arg-type]


def test_extract_context_uses_the_operations_extractor(typed):
    assert typed.extract_context(call(operation="echo", path="p")) == "echo p"
    assert typed.extract_context(call(operation="fail")) is None
    assert typed.extract_context(call(operation="nope")) is None
    assert typed.extract_context(call()) is None


def test_definitions_are_read_once_and_can_be_refreshed():
    class Counting(TypedAITool):
        reads = 0

        def get_operation_definitions(self) -> dict[str, Any]:
            Counting.reads += 1
            return super().get_operation_definitions()

    tool = Counting()
    for _ in range(3):
        tool.validate_arguments({"operation": "echo"})
    first = Counting.reads
    tool.clear_definition_cache()
    tool.validate_arguments({"operation": "echo"})
    assert Counting.reads > first
    tool.validate_arguments({"operation": "echo"})
    assert Counting.reads == first * 2


@pytest.mark.parametrize(
    ("method", "arguments", "expected"),
    [
        ("_get_required_str_value", {"k": "v"}, "v"),
        ("_get_optional_str_value", {}, None),
        ("_get_optional_int_value", {"k": 4}, 4),
        ("_get_optional_bool_value", {}, False),
        ("_get_optional_list_value", {"k": [1]}, [1]),
    ],
)
def test_seed_helpers_return_values(typed, method, arguments, expected):
    assert getattr(typed, method)("k", arguments) == expected


@pytest.mark.parametrize(
    ("method", "value", "message"),
    [
        ("_get_required_str_value", 1, "'k' must be a string"),
        ("_get_optional_str_value", 1, "'k' must be a string"),
        ("_get_optional_int_value", "1", "'k' must be an integer"),
        ("_get_optional_int_value", True, "'k' must be an integer"),
        ("_get_optional_bool_value", 0, "'k' must be a boolean"),
        ("_get_optional_list_value", "x", "'k' must be a list"),
    ],
)
def test_seed_helpers_reject_wrong_types_with_the_seed_messages(typed, method, value, message):
    with pytest.raises(AIToolExecutionError) as caught:
        getattr(typed, method)("k", {"k": value})
    assert str(caught.value) == message


def test_seed_helpers_use_defaults_and_report_missing_required_values(typed):
    assert typed._get_optional_str_value("k", {}, default="utf-8") == "utf-8"
    assert typed._get_optional_int_value("k", {}, default=1) == 1
    assert typed._get_optional_bool_value("k", {}, default=True) is True
    assert typed._get_optional_list_value("k", {}, default=[]) == []
    with pytest.raises(AIToolExecutionError, match=r"^No 'k' argument provided$"):
        typed._get_required_str_value("k", {})


def test_help_is_generated_from_the_definitions(typed):
    assert typed.get_brief_description() == "A test tool."
    assert list(typed.get_operation_summary().items())[:2] == [
        ("echo", "Echo."),
        ("needs_path", "Needs a path."),
    ]
    full = typed.get_detailed_help()
    assert full.startswith("# typed\n\nA test tool.\n\n## Operations\n")
    assert "- `items` (array of string, optional): Tags" in full
    assert "- `unit` (string, one of `c`, `f`, optional; default `'c'`): Unit" in full
    assert "  - `start` (string, required): Start date" in full
    one = typed.get_detailed_help("wipe")
    assert (
        one == "### wipe\n\nWipe\n\n*destructive*\n\n"
        "Parameters:\n\n- `path` (string, optional): A path\n"
    )
    assert "*timeout 0.05s*" in typed.get_detailed_help("hang")
    assert "No parameters besides `operation`." in typed.get_detailed_help("hang")
    assert typed.get_detailed_help("nope") == (
        "Unknown operation 'nope'. Available operations: "
        "echo, fail, hang, hang_forever, needs_path, wipe"
    )


@pytest.mark.parametrize("arguments", [None, ["operation", "echo"], "echo"])
async def test_arguments_that_are_not_an_object_are_rejected_clearly(typed, arguments):
    with pytest.raises(AIToolValidationError, match=r"^Arguments must be a JSON object; got "):
        await typed.execute(AIToolCall("1", "typed", arguments), None, None)  # type: ignore[arg-type]


def test_calls_and_results_round_trip_through_dicts():
    tool_call = AIToolCall("id-1", "clock", {"operation": "get_time"})
    assert AIToolCall.from_dict(tool_call.to_dict()) == tool_call
    result = AIToolResult(id="id-1", name="clock", content="now", context="ctx")
    assert result.to_dict() == {
        "id": "id-1",
        "name": "clock",
        "content": "now",
        "error": None,
        "context": "ctx",
    }


def test_sensitive_values_are_redacted_at_any_depth():
    secret = AIToolParameter("token", "string", "Secret", sensitive=True)
    tool = OneParameterAITool(
        AIToolParameter(
            "auth",
            "object",
            "Credentials",
            properties=[AIToolParameter("user", "string", "User"), secret],
        )
    )
    arguments = {"operation": "go", "auth": {"user": "ann", "token": "s3cret"}, "extra": 1}
    assert tool.redact_arguments(arguments) == {
        "operation": "go",
        "auth": {"user": "ann", "token": "[REDACTED]"},
        "extra": 1,
    }
    assert arguments["auth"]["token"] == "s3cret"  # the original is untouched
    listed = OneParameterAITool(AIToolParameter("keys", "array", "Keys", items=secret))
    assert listed.redact_arguments({"keys": ["a", "b"]}, mask="***") == {"keys": ["***", "***"]}
    assert TypedAITool().redact_arguments({"token": "t", "path": "p"}) == {
        "token": "[REDACTED]",
        "path": "p",
    }


async def test_operation_sets_given_as_lists_and_naming_operation_still_work():
    class Listy(TypedAITool):
        def get_operation_definitions(self) -> dict[str, Any]:
            ops = super().get_operation_definitions()
            echo = ops["needs_path"]
            echo.allowed_parameters = ["operation", "path", "n"]  # type: ignore[assignment]
            echo.required_parameters = ["path"]  # type: ignore[assignment]
            return {"needs_path": echo}

    tool = Listy()
    await tool.execute(call(operation="needs_path", path="p", n=1), None, None)  # type: ignore[arg-type]
    assert tool.calls == [{"operation": "needs_path", "path": "p", "n": 1}]
    assert "`operation`" not in tool.get_detailed_help("needs_path")
    with pytest.raises(AIToolValidationError, match="Required parameter"):
        tool.validate_arguments({"operation": "needs_path"})


async def test_a_typed_request_function_can_serve_as_the_authorization_callback(typed):
    from ai_tool import AIToolAuthorizationRequest, authorization_callback

    seen: list[AIToolAuthorizationRequest] = []

    async def decide(request: AIToolAuthorizationRequest) -> bool:
        seen.append(request)
        return request.tool_name == "typed"

    await typed.execute(call(operation="wipe", path="p"), None, authorization_callback(decide))
    assert seen == [
        AIToolAuthorizationRequest(
            tool_name="typed",
            arguments={"operation": "wipe", "path": "p"},
            reason="The typed tool wants to run the destructive operation 'wipe'",
            context="wiping everything",
            destructive=True,
        )
    ]


async def test_a_handler_that_swallows_cancellation_leaves_the_task_usable():
    class Stubborn(TypedAITool):
        async def _hang(self, tool_call: AIToolCall, requester_ref: Any, auth: Any) -> AIToolResult:
            self.started.set()
            with contextlib.suppress(asyncio.CancelledError):  # a badly behaved handler
                await asyncio.Event().wait()
            return AIToolResult(id=tool_call.id, name="typed", content="finished anyway")

    tool = Stubborn()

    async def run_then_wait() -> str:
        result = await tool.execute(call(operation="hang_forever"), None, None)  # type: ignore[arg-type]
        async with asyncio.timeout(5):  # would misfire if the task stayed "cancelling"
            await asyncio.sleep(0)
        assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]
        return result.content

    task = asyncio.create_task(run_then_wait())
    async with asyncio.timeout(5):
        await tool.started.wait()
    tool.cancel()
    assert await task == "finished anyway"


async def test_a_handlers_own_timeout_inside_a_time_limited_operation_is_not_the_limit():
    class Limited(TypedAITool):
        def get_operation_definitions(self) -> dict[str, Any]:
            ops = super().get_operation_definitions()
            ops["fail"].timeout = 30
            return ops

    with pytest.raises(AIToolExecutionError, match="operation failed: upstream took too long"):
        await Limited().execute(call(operation="fail", path="timeout"), None, None)  # type: ignore[arg-type]


async def test_cancel_still_reaches_executions_started_before_a_cache_reset(typed):
    task = asyncio.create_task(typed.execute(call(operation="hang_forever"), None, None))  # type: ignore[arg-type]
    async with asyncio.timeout(5):
        await typed.started.wait()
    typed.clear_definition_cache()
    typed.cancel()
    with pytest.raises(AIToolCancelledError):
        async with asyncio.timeout(5):
            await task
