"""A call before and after :meth:`ToolRegistry.prepare`: ``CallRequest``, ``PreparedCall``.

Preparation checks a request once — the tool exists, the arguments are well-formed and of the
declared types, the policy allows them — and produces a :class:`PreparedCall`. Later steps
(approval, time limit, execution) take the prepared call as a typed parameter and trust it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ai_tool import AIToolCheckedCall, AIToolOperationDefinition
from masterai.registry.approval import Approval, Effect
from masterai.registry.context import ExecutionContext
from masterai.security import Decision, ParameterRole, RoleBinding

if TYPE_CHECKING:
    from masterai.registry.registry import RegisteredTool


@dataclass(frozen=True, kw_only=True)
class CallRequest:
    """A call as it arrives: nothing about it is trusted yet."""

    tool_name: Any
    params: Any
    context: ExecutionContext
    started: float = field(default_factory=time.perf_counter)

    @property
    def tool_label(self) -> str:
        """The tool name as text (for results and audit, even when it was not a string)."""
        return self.tool_name if isinstance(self.tool_name, str) else repr(self.tool_name)

    @property
    def operation_label(self) -> str | None:
        """The requested operation, if the arguments carry a string one."""
        if isinstance(self.params, dict) and isinstance(self.params.get("operation"), str):
            return str(self.params["operation"])
        return None


@dataclass(frozen=True, kw_only=True)
class PreparedCall:
    """A call that passed lookup and validation, with the policy's decision on it."""

    request: CallRequest
    tool: RegisteredTool
    operation: AIToolOperationDefinition | None
    """``None`` for a legacy tool (one without operations)."""
    checked: AIToolCheckedCall | None
    """The framework's checked call; ``None`` for a legacy tool."""
    arguments: dict[str, Any]
    """The arguments after checking (``None`` values removed)."""
    roles: tuple[RoleBinding, ...]
    """The roles the operation declares."""
    decision: Decision
    companies: tuple[str, ...]
    """Every company the call names (its scope included), sorted."""
    effects: frozenset[Effect]
    needs_approval: bool
    approval: Approval | None = None
    """Set by the approval step when someone approved the call."""

    @property
    def operation_name(self) -> str | None:
        """The operation's name (``None`` for a legacy tool)."""
        return self.operation.name if self.operation else None

    @property
    def context(self) -> ExecutionContext:
        """Who calls, for which company, from where."""
        return self.request.context

    def values(self, role: ParameterRole) -> list[Any]:
        """Every argument value of ``role``."""
        return [v for b in self.roles if b.role is role for v in b.values(self.arguments)]

    @property
    def secret_keys(self) -> frozenset[str]:
        """Names of the parameters declared secret (redacted in results and audit)."""
        return self.tool.secret_keys
