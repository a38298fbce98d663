"""The AIToolManager singleton."""

from __future__ import annotations

import pytest
from ai_tool_helpers import TypedAITool

from ai_tool import AIToolCall, AIToolConfig, AIToolManager
from ai_tool.clock import ClockAITool


def test_the_manager_is_a_singleton_until_reset(manager: AIToolManager):
    assert AIToolManager() is manager
    manager.register_tool(ClockAITool(), "Clock")
    assert AIToolManager().get_tool_names() == ["clock"]  # __init__ does not wipe state
    fresh = AIToolManager.reset_instance()
    assert fresh is not manager
    assert fresh is AIToolManager()
    assert fresh.get_tool_names() == []


def test_registering_a_second_tool_with_the_same_name_is_rejected(manager: AIToolManager):
    first = ClockAITool()
    manager.register_tool(first, "Clock")
    with pytest.raises(ValueError, match="Tool 'clock' is already registered"):
        manager.register_tool(ClockAITool(), "Another clock")
    assert manager.get_tool("clock") is first


def test_enabled_states_default_from_registration_and_can_change(manager: AIToolManager):
    manager.register_tool(ClockAITool(), "Clock")
    manager.register_tool(TypedAITool(), "Typed", enabled_by_default=False)
    assert manager.get_default_enabled_tools() == {"clock": True, "typed": False}
    assert manager.get_enabled_tool_names() == ["clock"]
    assert [d.name for d in manager.get_tool_definitions()] == ["clock"]
    manager.set_tool_enabled_states({"typed": True, "clock": False})
    assert manager.get_tool_enabled_states() == {"clock": False, "typed": True}
    assert manager.is_tool_enabled("typed") and not manager.is_tool_enabled("clock")
    assert [d.name for d in manager.get_tool_definitions()] == ["typed"]
    assert manager.get_default_enabled_tools() == {"clock": True, "typed": False}


def test_unregistering_removes_the_tool_and_its_state(manager: AIToolManager):
    manager.register_tool(ClockAITool(), "Clock")
    manager.set_tool_enabled("clock", False)
    manager.unregister_tool("clock")
    manager.unregister_tool("never-registered")
    assert manager.get_tool("clock") is None
    assert manager.get_tool_enabled_states() == {}
    manager.register_tool(ClockAITool(), "Clock again")  # the name is free again
    assert manager.is_tool_enabled("clock")


def test_display_names_update_and_show_in_configs(manager: AIToolManager):
    clock = ClockAITool()
    manager.register_tool(clock, "Clock")
    manager.update_tool_display_name(clock, "Wall clock")
    [config] = manager.get_all_tool_configs()
    assert config == AIToolConfig(
        name="clock",
        display_name="Wall clock",
        description=clock.get_definition().description,
        enabled_by_default=True,
    )
    with pytest.raises(ValueError, match="'clock' is not registered"):
        manager.update_tool_display_name(ClockAITool(), "Other")


async def test_execute_tool_runs_enabled_tools_and_returns_failures_as_results(
    manager: AIToolManager, deny
):
    manager.register_tool(TypedAITool(), "Typed")
    ok = await manager.execute_tool(AIToolCall("1", "typed", {"operation": "echo"}), deny)
    assert (ok.content, ok.error) == ("{'operation': 'echo'}", None)

    async def error_of(name: str, arguments: dict) -> str | None:
        return (await manager.execute_tool(AIToolCall("2", name, arguments), deny)).error

    assert await error_of("nope", {}) == "Unknown tool: nope. Available: typed"
    assert await error_of("typed", {"operation": "wipe"}) == (
        "Tool authorization denied: Authorization denied for typed operation 'wipe'"
    )
    assert await error_of("typed", {"operation": "echo", "n": "1"}) == (
        "Tool execution failed: 'n' must be an integer"
    )
    manager.set_tool_enabled("typed", False)
    assert await error_of("typed", {"operation": "echo"}) == "Tool is disabled: typed"
