"""Approval as a registry step: what a face is asked, and how the approved call runs.

A call that needs approval (by default: a destructive operation that is not a dry run) is
shown to the face's :class:`Approver` as one typed :class:`ApprovalRequest` — tool, operation,
checked arguments, the preview computed once, and what the call does. The face decides (the
CLI's prompt or ``--yes``, the agent's plan approval, HTTP and MCP later). An approved call runs
with its :class:`Approval`, so a tool that previewed a change applies exactly that change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from ai_tool import AIToolCall, AIToolCheckedCall


class Effect(StrEnum):
    """What a call does, as shown to whoever approves it (one vocabulary for every face)."""

    READS = "reads"
    CHANGES_DATA = "changes_data"
    CALLS_MODEL = "calls_model"
    SPENDS_MONEY = "spends_money"
    RUNS_CODE = "runs_code"


@dataclass(frozen=True, kw_only=True)
class Preview:
    """What a call would do, computed once before approval."""

    text: str
    """Shown to the human: a diff, a summary of the change."""
    payload: Any = None
    """The tool's own plan (for example a change set with the versions it was based on),
    handed back to the tool when the approved call runs."""


@dataclass(frozen=True, kw_only=True)
class ApprovalRequest:
    """One call waiting for a decision."""

    tool: str
    operation: str | None
    arguments: Mapping[str, Any]
    """The checked arguments: exactly what will run."""
    reason: str
    """One line: what the tool wants to do."""
    preview: str | None
    effects: frozenset[Effect]
    companies: tuple[str, ...] = ()
    destructive: bool = True


class Approver(Protocol):
    """Decides on an :class:`ApprovalRequest` (``True`` approves)."""

    async def __call__(self, request: ApprovalRequest) -> bool:
        """Approve (``True``) or refuse (``False``) ``request``."""
        ...


async def approve_all(request: ApprovalRequest) -> bool:
    """An approver that approves everything (``--yes``; a plan a human already approved)."""
    return True


@dataclass(frozen=True, kw_only=True)
class Approval:
    """A granted request and the preview it was granted on."""

    request: ApprovalRequest
    preview: Preview | None = None


@dataclass
class ApprovedToolCall(AIToolCall):
    """The tool call the registry hands to a tool, with the approval it runs under."""

    approval: Approval | None = field(default=None, kw_only=True)


@runtime_checkable
class PreviewingTool(Protocol):
    """A tool that computes what a call would change before it is approved."""

    async def preview_call(self, checked: AIToolCheckedCall, requester_ref: Any) -> Preview:
        """What ``checked`` would change, computed without changing anything.

        Raises:
            AIToolExecutionError: the call cannot be made (unknown company, ...); nobody is
                asked.
        """
        ...


def approved_preview(tool_call: AIToolCall) -> Preview | None:
    """The preview the running call was approved on, if the registry ran it after approval."""
    if isinstance(tool_call, ApprovedToolCall) and tool_call.approval is not None:
        return tool_call.approval.preview
    return None
