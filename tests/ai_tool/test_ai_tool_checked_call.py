"""Checking a call once with ``check_call`` and running it with ``execute_checked``."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from ai_tool_helpers import AuthRecorder, TypedAITool, call
from test_ai_tool_seed_examples import SimpleTool

from ai_tool import (
    AIToolCall,
    AIToolCancelledError,
    AIToolCheckedCall,
    AIToolOperationDefinition,
    AIToolResult,
    AIToolTimeoutError,
    AIToolValidationError,
)


class CountingAITool(TypedAITool):
    """Counts calls of the ``check_operation_arguments`` hook."""

    def __init__(self) -> None:
        super().__init__()
        self.extra_checks = 0

    def check_operation_arguments(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> None:
        self.extra_checks += 1


class LooseAITool(TypedAITool):
    """The typed tool without type checking by default."""

    type_check_arguments = False


@pytest.fixture
def counting() -> CountingAITool:
    return CountingAITool()


def test_check_call_returns_the_operation_and_the_arguments_without_nulls(typed):
    checked = typed.check_call({"operation": "needs_path", "path": "p", "n": None})
    assert checked is not None
    assert (checked.operation.name, checked.operation.handler) == ("needs_path", typed._echo)
    assert checked.arguments == {"operation": "needs_path", "path": "p"}
    assert typed.calls == []


def test_check_call_keeps_the_callers_dict_when_nothing_was_removed(typed):
    arguments = {"operation": "echo", "path": "p"}
    checked = typed.check_call(arguments)
    assert checked is not None
    assert checked.arguments is arguments


def test_a_checked_call_cannot_be_changed(typed):
    checked = typed.check_call({"operation": "echo"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        checked.arguments = {"operation": "wipe"}


def test_check_call_returns_none_for_a_legacy_tool():
    assert SimpleTool().check_call({"input": 3}, check_types=True) is None


def test_check_call_raises_what_execute_raises(typed):
    with pytest.raises(AIToolValidationError) as caught:
        typed.check_call({"operation": "needs_path", "n": 1})
    assert (str(caught.value), caught.value.path) == (
        "Required parameter(s) path missing for operation 'needs_path'",
        "path",
    )


def test_check_call_follows_the_class_setting_by_default():
    assert LooseAITool().check_call({"operation": "echo", "n": "three"}) is not None
    with pytest.raises(AIToolValidationError, match=r"^'n' must be an integer$"):
        TypedAITool().check_call({"operation": "echo", "n": "three"})


def test_check_call_can_force_type_checking_on():
    with pytest.raises(AIToolValidationError, match=r"^'n' must be an integer$"):
        LooseAITool().check_call({"operation": "echo", "n": "three"}, check_types=True)


def test_check_call_can_force_type_checking_off_but_not_routing(typed):
    assert typed.check_call({"operation": "echo", "n": "three"}, check_types=False) is not None
    with pytest.raises(AIToolValidationError, match="Parameter"):
        typed.check_call({"operation": "echo", "zzz": 1}, check_types=False)


async def test_execute_runs_the_extra_checks_hook_exactly_once(counting):
    await counting.execute(call(operation="echo", path="p"), None, AuthRecorder())
    assert counting.extra_checks == 1


async def test_check_call_and_execute_checked_run_the_extra_checks_hook_once_in_total(counting):
    checked = counting.check_call({"operation": "echo", "path": "p"})
    assert checked is not None
    tool_call = AIToolCall("c", "typed", checked.arguments)
    result = await counting.execute_checked(tool_call, checked, None, AuthRecorder())
    assert counting.extra_checks == 1
    assert result.content == repr({"operation": "echo", "path": "p"})


async def test_execute_checked_trusts_the_checked_arguments(typed):
    """A hand-made checked call with a wrong type reaches the handler: nothing re-checks it."""
    operation = typed.get_operation_definitions()["echo"]
    unchecked = {"operation": "echo", "n": "not an integer"}
    checked = AIToolCheckedCall(operation=operation, arguments=unchecked)
    await typed.execute_checked(AIToolCall("c", "typed", unchecked), checked, None, AuthRecorder())
    assert typed.calls == [unchecked]


async def test_execute_checked_gives_the_handler_the_checked_arguments(typed):
    checked = typed.check_call({"operation": "echo", "path": "p", "n": None})
    assert checked is not None
    raw = call(operation="echo", path="p", n=None)
    result = await typed.execute_checked(raw, checked, None, AuthRecorder())
    assert typed.calls == [{"operation": "echo", "path": "p"}]
    assert (result.id, result.name) == ("call-1", "typed")


async def test_execute_checked_with_authorized_skips_the_callback_of_a_destructive_operation(
    typed, deny: AuthRecorder
):
    checked = typed.check_call({"operation": "wipe", "path": "x"})
    assert checked is not None
    tool_call = AIToolCall("c", "typed", checked.arguments)
    await typed.execute_checked(tool_call, checked, None, deny, authorized=True)
    assert deny.requests == []
    assert typed.calls == [{"operation": "wipe", "path": "x"}]


async def test_execute_checked_without_authorized_asks_the_callback_of_a_destructive_operation(
    typed, allow: AuthRecorder
):
    checked = typed.check_call({"operation": "wipe", "path": "x"})
    assert checked is not None
    tool_call = AIToolCall("c", "typed", checked.arguments)
    await typed.execute_checked(tool_call, checked, None, allow)
    assert [request[4] for request in allow.requests] == [True]
    assert typed.calls == [{"operation": "wipe", "path": "x"}]


async def test_execute_checked_keeps_the_operation_timeout(typed):
    checked = typed.check_call({"operation": "hang"})
    assert checked is not None
    async with asyncio.timeout(5):
        with pytest.raises(AIToolTimeoutError) as caught:
            await typed.execute_checked(call(operation="hang"), checked, None, AuthRecorder())
    assert caught.value.timeout_duration == 0.05


async def test_tool_cancel_reaches_an_execute_checked_call(typed):
    checked = typed.check_call({"operation": "hang_forever"})
    assert checked is not None
    task = asyncio.create_task(
        typed.execute_checked(call(operation="hang_forever"), checked, None, AuthRecorder())
    )
    async with asyncio.timeout(5):
        await typed.started.wait()
    typed.cancel()
    with pytest.raises(AIToolCancelledError, match="operation 'hang_forever' was cancelled"):
        async with asyncio.timeout(5):
            await task


async def test_execute_checked_runs_the_execute_of_a_tool_that_overrides_it():
    class Wrapping(TypedAITool):
        async def execute(
            self, tool_call: AIToolCall, requester_ref: Any, request_authorization: Any
        ) -> AIToolResult:
            result = await super().execute(tool_call, requester_ref, request_authorization)
            return AIToolResult(id=result.id, name=result.name, content=f"wrapped {result.content}")

    tool = Wrapping()
    checked = tool.check_call({"operation": "echo", "path": "p", "n": None})
    assert checked is not None
    result = await tool.execute_checked(
        call(operation="echo", path="p", n=None), checked, None, AuthRecorder()
    )
    assert result.content == "wrapped " + repr({"operation": "echo", "path": "p"})
    assert tool.calls == [{"operation": "echo", "path": "p"}]
