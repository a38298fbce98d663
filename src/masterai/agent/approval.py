"""How a human (or a policy) approves plans: the ``Approver`` protocol and two stock ones.

The CLI, tests and the HTTP API each plug in their own ``Approver``. The agent never
runs a mutating step without an approver's decision; only read-only steps that call no model
may be approved automatically, and only when ``MASTERAI_AGENT__AUTO_APPROVE_READ_ONLY`` is on.
(Operations such as ``test_configuration`` change nothing but spend money on model calls.)

An approver whose human answers later, in another request (the HTTP API), raises
:class:`DecisionDeferred`: the agent stores the plan as waiting and ends the turn, and
``MasterAI.resume`` carries on with the decision when it comes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from masterai.agent.plan import Plan, PlanStep


@dataclass(frozen=True, kw_only=True)
class PlanDecision:
    """The answer to a whole plan."""

    kind: Literal["approve_all", "step_by_step", "reject"]
    edits: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    """Replacement arguments by step position (validated again before anything runs)."""
    note: str | None = None

    @classmethod
    def approve_all(cls, edits: Mapping[int, Mapping[str, Any]] | None = None) -> PlanDecision:
        """Run every step (with ``edits`` applied)."""
        return cls(kind="approve_all", edits=dict(edits or {}))

    @classmethod
    def step_by_step(cls) -> PlanDecision:
        """Ask again before each step."""
        return cls(kind="step_by_step")

    @classmethod
    def reject(cls, note: str | None = None) -> PlanDecision:
        """Run nothing."""
        return cls(kind="reject", note=note)


@dataclass(frozen=True, kw_only=True)
class StepDecision:
    """The answer to one step (step-by-step mode)."""

    kind: Literal["approve", "skip", "reject", "edit"]
    arguments: Mapping[str, Any] | None = None
    """For ``edit``: the new arguments (``operation`` excluded)."""
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class Feedback:
    """Intermediate feedback after a step that asked for it."""

    proceed: bool = True
    note: str | None = None
    """Passed to the model for the remaining work and the final answer."""


class DecisionDeferred(Exception):
    """Raised by an approver method when the decision will come in a later request.

    The agent stores the plan as waiting — ``proposed`` when the plan itself awaits a
    decision, ``paused`` when a step or a step's feedback does — and ends the turn with
    status ``awaiting_approval`` or ``awaiting_feedback``. Nothing else is run or asked.
    """


class Approver(Protocol):
    """Decides on plans and steps, and gives intermediate feedback.

    Any method may raise :class:`DecisionDeferred` to leave the decision for later.
    """

    async def review_plan(self, plan: Plan) -> PlanDecision:
        """Approve all, go step by step, or reject ``plan`` (optionally editing arguments)."""
        ...

    async def review_step(self, plan: Plan, step: PlanStep) -> StepDecision:
        """Approve, skip, edit or reject one step before it runs (step-by-step mode)."""
        ...

    async def feedback(self, plan: Plan, step: PlanStep) -> Feedback:
        """React to the result of a step marked ``needs_feedback``."""
        ...


class ApproveAll:
    """Approves every plan and step: for scripts where the caller said ``--yes``."""

    async def review_plan(self, plan: Plan) -> PlanDecision:
        """Approve the whole plan."""
        return PlanDecision.approve_all()

    async def review_step(self, plan: Plan, step: PlanStep) -> StepDecision:
        """Approve the step."""
        return StepDecision(kind="approve")

    async def feedback(self, plan: Plan, step: PlanStep) -> Feedback:
        """Carry on."""
        return Feedback()


class ReadOnlyApprover(ApproveAll):
    """Approves plans that change nothing and call no model; rejects any other plan."""

    async def review_plan(self, plan: Plan) -> PlanDecision:
        """Approve read-only plans; reject the rest, naming the steps that need a human."""
        mutating = [s.label for s in plan.steps if not s.read_only]
        if mutating:
            return PlanDecision.reject(
                f"not approved: the plan changes things ({', '.join(mutating)}); "
                "run it interactively (masterai chat) to approve mutating steps"
            )
        costly = [s.label for s in plan.steps if s.calls_model]
        if costly:
            return PlanDecision.reject(
                f"not approved: the plan calls models, which costs money ({', '.join(costly)}); "
                "run it interactively (masterai chat) to approve it"
            )
        return PlanDecision.approve_all()

    async def review_step(self, plan: Plan, step: PlanStep) -> StepDecision:
        """Approve read-only steps that call no model only."""
        return StepDecision(kind="approve" if step.auto_approvable else "reject")
