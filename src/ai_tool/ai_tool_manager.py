"""The process-wide registry of tools (seed 003's singleton)."""

from __future__ import annotations

import logging
from typing import Any

from ai_tool.ai_tool import AITool
from ai_tool.ai_tool_call import AIToolCall
from ai_tool.ai_tool_config import AIToolConfig
from ai_tool.ai_tool_definition import AIToolDefinition
from ai_tool.ai_tool_exceptions import AIToolAuthorizationDenied, AIToolError
from ai_tool.ai_tool_operation_definition import AIToolAuthorizationCallback
from ai_tool.ai_tool_registered import AIToolRegistered
from ai_tool.ai_tool_result import AIToolResult


class AIToolManager:
    """Singleton holding registered tools and whether each is enabled.

    ``AIToolManager() is AIToolManager()``. Tests get a clean one with
    :meth:`reset_instance`; ``masterai`` itself uses an explicit ``ToolRegistry`` instead.
    """

    _instance: AIToolManager | None = None
    _initialized: bool

    def __new__(cls) -> AIToolManager:
        """Return the one instance, creating it on first use."""
        if cls._instance is None:
            instance = super().__new__(cls)
            instance._initialized = False
            cls._instance = instance
        return cls._instance

    def __init__(self) -> None:
        if self._initialized:
            return
        self._registered_tools: dict[str, AIToolRegistered] = {}
        self._enabled_tools: dict[str, bool] = {}
        self._logger = logging.getLogger("AIToolManager")
        self._initialized = True

    @classmethod
    def reset_instance(cls) -> AIToolManager:
        """Drop the singleton and return a fresh, empty one (for tests)."""
        cls._instance = None
        return cls()

    def register_tool(
        self, tool: AITool, display_name: str, enabled_by_default: bool = True
    ) -> None:
        """Register ``tool`` under its definition's name.

        Raises:
            ValueError: A tool with that name is already registered.
        """
        name = tool.get_definition().name
        if name in self._registered_tools:
            raise ValueError(
                f"Tool {name!r} is already registered; unregister it first or pick another name"
            )
        self._registered_tools[name] = AIToolRegistered(
            tool=tool, display_name=display_name, enabled_by_default=enabled_by_default
        )
        self._enabled_tools.setdefault(name, enabled_by_default)
        self._logger.info("Registered tool: %s (display: %s)", name, display_name)

    def unregister_tool(self, name: str) -> None:
        """Remove a tool and its enabled state; unknown names are ignored."""
        if self._registered_tools.pop(name, None) is not None:
            self._enabled_tools.pop(name, None)
            self._logger.info("Unregistered tool: %s", name)

    def update_tool_display_name(self, tool: AITool, new_display_name: str) -> None:
        """Change the display name of a registered tool instance.

        Raises:
            ValueError: The instance is not registered.
        """
        for registered in self._registered_tools.values():
            if registered.tool is tool:
                registered.display_name = new_display_name
                return
        raise ValueError(f"Tool instance {tool.get_tool_name()!r} is not registered")

    def get_tool(self, name: str) -> AITool | None:
        """Return the registered tool called ``name``, or ``None``."""
        registered = self._registered_tools.get(name)
        return registered.tool if registered is not None else None

    def set_tool_enabled(self, tool_name: str, enabled: bool) -> None:
        """Enable or disable a tool by name."""
        self._enabled_tools[tool_name] = enabled

    def is_tool_enabled(self, tool_name: str) -> bool:
        """Return whether a tool is enabled (names never configured count as enabled)."""
        return self._enabled_tools.get(tool_name, True)

    def set_tool_enabled_states(self, enabled_states: dict[str, bool]) -> None:
        """Set several enabled states at once."""
        for name, enabled in enabled_states.items():
            self.set_tool_enabled(name, enabled)

    def get_tool_enabled_states(self) -> dict[str, bool]:
        """Return a copy of the enabled state of every configured tool."""
        return dict(self._enabled_tools)

    def get_default_enabled_tools(self) -> dict[str, bool]:
        """Return each registered tool's enabled-by-default flag."""
        return {n: r.enabled_by_default for n, r in self._registered_tools.items()}

    def get_tool_definitions(self) -> list[AIToolDefinition]:
        """Return the definitions of the registered tools that are enabled."""
        return [
            r.tool.get_definition()
            for n, r in self._registered_tools.items()
            if self.is_tool_enabled(n)
        ]

    def get_tool_names(self) -> list[str]:
        """Return the names of all registered tools, in registration order."""
        return list(self._registered_tools)

    def get_enabled_tool_names(self) -> list[str]:
        """Return the names of the registered tools that are enabled."""
        return [n for n in self._registered_tools if self.is_tool_enabled(n)]

    def get_all_tool_configs(self) -> list[AIToolConfig]:
        """Return a configuration record for every registered tool."""
        return [
            AIToolConfig(
                name=n,
                display_name=r.display_name,
                description=r.tool.get_definition().description,
                enabled_by_default=r.enabled_by_default,
            )
            for n, r in self._registered_tools.items()
        ]

    async def execute_tool(
        self,
        tool_call: AIToolCall,
        request_authorization: AIToolAuthorizationCallback,
        requester_ref: Any = None,
    ) -> AIToolResult:
        """Run a call on the registered, enabled tool it names; failures become results.

        Unknown or disabled tools, refused authorization and every ``AIToolError`` come back
        as an ``AIToolResult`` whose ``error`` the model can read; programming errors
        propagate.
        """
        registered = self._registered_tools.get(tool_call.name)
        if registered is None:
            available = ", ".join(self._registered_tools) or "(none)"
            return self._error(tool_call, f"Unknown tool: {tool_call.name}. Available: {available}")
        if not self.is_tool_enabled(tool_call.name):
            return self._error(tool_call, f"Tool is disabled: {tool_call.name}")
        try:
            return await registered.tool.execute(tool_call, requester_ref, request_authorization)
        except AIToolAuthorizationDenied as e:
            return self._error(tool_call, f"Tool authorization denied: {e}")
        except AIToolError as e:
            return self._error(tool_call, f"Tool execution failed: {e}")

    def _error(self, tool_call: AIToolCall, message: str) -> AIToolResult:
        self._logger.info("Tool call %s (%s) failed: %s", tool_call.id, tool_call.name, message)
        return AIToolResult(id=tool_call.id, name=tool_call.name, content="", error=message)
