"""``ToolRegistry``: the one way tools are called (permission, validation, limits, audit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ai_tool import AITool, AIToolParameter
from ai_tool.schema import tool_json_schema
from masterai.audit import AuditLog
from masterai.registry import pipeline
from masterai.registry.context import ExecutionContext, OperationInfo, ToolListing, ToolResult
from masterai.registry.errors import DuplicateToolError
from masterai.registry.monitor import ToolMonitor
from masterai.security import Principal, ToolAction, decide
from masterai.settings import RegistrySettings
from masterai.store import Database


def _sensitive_names(parameters: Sequence[AIToolParameter]) -> set[str]:
    names: set[str] = set()
    for p in parameters:
        if p.sensitive:
            names.add(p.name)
        names |= _sensitive_names(p.property_list())
        if p.items is not None:
            names |= _sensitive_names([p.items])
    return names


@dataclass(frozen=True, kw_only=True)
class RegisteredTool:
    """A tool in the registry with what the registry needs to know about it."""

    tool: AITool
    name: str
    category: str
    """Role access category (``configuration``, ``analytics``, ``code``, ``clock``, ...)."""
    timeout: float | None = None
    """Limit for every call of this tool (an operation's own ``timeout`` wins)."""
    sensitive_parameters: frozenset[str] = frozenset()


class ToolRegistry:
    """Registered ``ai_tool`` tools and the audited pipeline every call goes through.

    Args:
        database: where the audit trail is written.
        settings: limits (``RegistrySettings``); defaults apply when omitted.
        steps: the wrappers around the final execute step, outermost first
            (default :attr:`STEPS`); pass a different sequence to add or reorder steps.
    """

    STEPS: ClassVar[tuple[pipeline.Wrapper, ...]] = (
        pipeline.audit,
        pipeline.monitor,
        pipeline.structured_errors,
        pipeline.protect_sensitive,
        pipeline.lookup,
        pipeline.authorize,
        pipeline.validate,
        pipeline.time_limit,
    )

    def __init__(
        self,
        database: Database,
        *,
        settings: RegistrySettings | None = None,
        steps: Sequence[pipeline.Wrapper] | None = None,
    ) -> None:
        self.database = database
        self.settings = settings or RegistrySettings()
        self.audit_log = AuditLog(database, max_params_bytes=self.settings.audit_params_bytes)
        self.monitor = ToolMonitor()
        self._tools: dict[str, RegisteredTool] = {}
        self._run = pipeline.compose(self.STEPS if steps is None else steps, pipeline.execute)

    def register(
        self, tool: AITool, *, category: str | None = None, timeout: float | None = None
    ) -> RegisteredTool:
        """Add ``tool``; its category defaults to its name.

        Raises:
            DuplicateToolError: a tool with the same name is registered already.
        """
        definition = tool.get_definition()
        name = definition.name
        if name in self._tools:
            raise DuplicateToolError(f"Tool {name!r} is already registered")
        registered = RegisteredTool(
            tool=tool,
            name=name,
            category=category or name,
            timeout=timeout,
            sensitive_parameters=frozenset(_sensitive_names(definition.parameters)),
        )
        self._tools[name] = registered
        return registered

    def unregister(self, name: str) -> None:
        """Remove a tool (no-op if absent)."""
        self._tools.pop(name, None)

    def get(self, name: str) -> RegisteredTool | None:
        """The registered tool called ``name``, or None."""
        return self._tools.get(name)

    def names(self) -> list[str]:
        """Registered tool names, sorted."""
        return sorted(self._tools)

    async def execute_tool(
        self, tool_name: str, params: dict[str, Any], context: ExecutionContext
    ) -> ToolResult:
        """Run one tool call through the pipeline; every outcome is audited.

        Failures (unknown tool, denied, invalid arguments, tool error, timeout) come back as a
        result with ``ok=False``, ``status`` and ``error``; only programming errors raise.
        """
        return await self._run(
            pipeline.Call(registry=self, tool_name=tool_name, params=params, context=context)
        )

    def allowed_operations(self, principal: Principal, registered: RegisteredTool) -> list[str]:
        """Operations of ``registered`` that ``principal`` may call (arguments aside)."""
        return [
            name
            for name, op in registered.tool.get_operation_definitions().items()
            if decide(
                principal,
                ToolAction(
                    tool=registered.name,
                    category=registered.category,
                    operation=name,
                    read_only=op.read_only,
                ),
            )
        ]

    def list_tools(self, principal: Principal) -> list[ToolListing]:
        """The tools and operations ``principal`` may call, with their exported schemas.

        This is what a model is shown: a tool with no allowed operation is left out.
        """
        listings = []
        for name in self.names():
            registered = self._tools[name]
            operations = registered.tool.get_operation_definitions()
            if operations:
                allowed = self.allowed_operations(principal, registered)
                if not allowed:
                    continue
            else:
                allowed = []
                legacy = ToolAction(
                    tool=name, category=registered.category, operation=None, read_only=False
                )
                if not decide(principal, legacy):
                    continue
            listings.append(
                ToolListing(
                    name=name,
                    category=registered.category,
                    description=registered.tool.get_brief_description(),
                    operations=[
                        OperationInfo(
                            name=op,
                            description=operations[op].description,
                            read_only=operations[op].read_only,
                            destructive=operations[op].destructive,
                        )
                        for op in allowed
                    ],
                    schema=tool_json_schema(registered.tool, operations=allowed or None),
                )
            )
        return listings
