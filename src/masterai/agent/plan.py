"""Plans, steps, step results and the agent's answer: the values the agent works on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from masterai.llm import Usage

StepStatus = Literal["pending", "approved", "skipped", "running", "succeeded", "failed"]
PlanStatus = Literal[
    "proposed",
    "approved",
    "running",
    "paused",
    "completed",
    "rejected",
    "failed",
    "stopped",
    "replanned",
    "budget",
]
"""Where a plan is. ``proposed``: waits for the plan decision; ``paused``: waits for a decision
on a step or for feedback after one (an approver deferred it); ``running`` also while a face
is handling a decision on it."""
ResponseStatus = Literal[
    "answered",
    "completed",
    "rejected",
    "failed",
    "stopped",
    "budget",
    "awaiting_approval",
    "awaiting_feedback",
]
"""How a turn ended; ``awaiting_*``: the plan is stored and waits (see ``DecisionDeferred``)."""


def new_id() -> str:
    """A fresh identifier (hex UUID4) for plans and conversations."""
    return uuid.uuid4().hex


@dataclass(frozen=True, kw_only=True)
class StepResult:
    """What the registry returned for one step."""

    ok: bool
    content: str = ""
    data: Any = None
    error: str | None = None
    status: str = "ok"
    """The registry's audit status (``ok``, ``denied``, ``invalid``, ``failed``, ...)."""
    audit_id: int | None = None
    duration_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the store keeps)."""
        return {
            "ok": self.ok,
            "content": self.content,
            "data": self.data,
            "error": self.error,
            "status": self.status,
        }


@dataclass(kw_only=True)
class PlanStep:
    """One step: which tool operation, with which arguments, and why."""

    position: int
    """1-based order in the plan."""
    tool: str
    operation: str | None
    arguments: dict[str, Any]
    """Arguments besides ``operation``; strings may reference earlier results as
    ``{{step1.content}}`` or ``{{step2.data.total}}``."""
    purpose: str
    needs_feedback: bool = False
    read_only: bool = False
    calls_model: bool = False
    """The operation calls a language model: it may change nothing yet still costs money."""
    status: StepStatus = "pending"
    result: StepResult | None = None

    @property
    def auto_approvable(self) -> bool:
        """Whether a policy may approve this step unasked.

        Only when it changes nothing and calls no model (model calls spend money).
        """
        return self.read_only and not self.calls_model

    @property
    def label(self) -> str:
        """``tool.operation`` (or just ``tool`` for a tool without operations)."""
        return f"{self.tool}.{self.operation}" if self.operation else self.tool

    def params(self, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """The registry's ``params``: ``operation`` plus the arguments."""
        values = dict(self.arguments if arguments is None else arguments)
        if self.operation:
            values["operation"] = self.operation
        return values


@dataclass(kw_only=True)
class Plan:
    """An ordered list of steps proposed for one request."""

    id: str = field(default_factory=new_id)
    conversation_id: str
    request: str
    principal: str
    company_id: str | None = None
    summary: str = ""
    steps: list[PlanStep] = field(default_factory=list)
    revision: int = 1
    parent_id: str | None = None
    status: PlanStatus = "proposed"

    @property
    def read_only(self) -> bool:
        """Whether no step changes anything."""
        return all(step.read_only for step in self.steps)

    @property
    def auto_approvable(self) -> bool:
        """Whether every step may be approved unasked (see :attr:`PlanStep.auto_approvable`)."""
        return all(step.auto_approvable for step in self.steps)

    def step(self, position: int) -> PlanStep:
        """The step at ``position`` (1-based)."""
        for step in self.steps:
            if step.position == position:
                return step
        raise KeyError(f"plan {self.id} has no step {position}")


@dataclass(frozen=True, kw_only=True)
class AgentResponse:
    """The outcome of one turn."""

    text: str
    """The answer shown to the user."""
    status: ResponseStatus
    conversation_id: str
    plans: tuple[Plan, ...] = ()
    """Every plan of the turn, re-plans included, in order."""
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    actions: tuple[str, ...] = ()
    """One line per executed step, e.g. ``[1] analytics.analyze_costs: ok`` (the citations)."""

    @property
    def plan(self) -> Plan | None:
        """The last plan of the turn, if tools were needed."""
        return self.plans[-1] if self.plans else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``masterai ask --json``)."""
        return {
            "text": self.text,
            "status": self.status,
            "conversation_id": self.conversation_id,
            "usage": {
                "input_tokens": self.usage.input_tokens,
                "output_tokens": self.usage.output_tokens,
            },
            "cost_usd": self.cost_usd,
            "actions": list(self.actions),
            "plans": [
                {
                    "id": plan.id,
                    "revision": plan.revision,
                    "status": plan.status,
                    "summary": plan.summary,
                    "steps": [
                        {
                            "position": s.position,
                            "tool": s.tool,
                            "operation": s.operation,
                            "arguments": s.arguments,
                            "purpose": s.purpose,
                            "read_only": s.read_only,
                            "calls_model": s.calls_model,
                            "status": s.status,
                            "result": s.result.to_dict() if s.result else None,
                        }
                        for s in plan.steps
                    ],
                }
                for plan in self.plans
            ],
        }
