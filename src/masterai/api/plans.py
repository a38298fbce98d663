"""Deciding on the agent's waiting plans over HTTP: approve, reject, skip a step, feedback.

Each decision is a later request than the one that proposed the plan, possibly in another
worker: the plan is read from the store and carried on with ``MasterAI.resume``, which claims
it first, so two decisions on one plan never both run it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import Request

from masterai.agent import (
    AgentError,
    AgentNotFoundError,
    DecisionDeferred,
    Feedback,
    Plan,
    PlanDecision,
    PlanStep,
    StepDecision,
)
from masterai.api.common import ApiError
from masterai.api.models import AgentAnswer, PlanModel
from masterai.api.plan_views import plan_model
from masterai.llm import LLMError
from masterai.security import Principal

if TYPE_CHECKING:
    from masterai.api.chat import Chat, EventStream

APPROVABLE = ("proposed", "paused")
"""Plans ``/approve`` and ``/reject`` decide: proposed, or paused before a step."""


class DeferringApprover:
    """The HTTP API's plan approver: answers only what this request decided, defers the rest.

    Args:
        plan_id: the plan the request decides on (``None``: a chat turn decides nothing).
        decision: the decision on that plan (approve all or reject).
        feedback: the feedback the request gives on that plan's waiting step (once).
    """

    def __init__(
        self,
        *,
        plan_id: str | None = None,
        decision: PlanDecision | None = None,
        feedback: Feedback | None = None,
    ) -> None:
        self.plan_id = plan_id
        self.decision = decision
        self._feedback = feedback

    async def review_plan(self, plan: Plan) -> PlanDecision:
        """The request's decision on its plan; any other plan (a re-plan) waits."""
        if plan.id != self.plan_id or self.decision is None:
            raise DecisionDeferred
        return self.decision

    async def review_step(self, plan: Plan, step: PlanStep) -> StepDecision:
        """A step of the request's plan runs unless the request rejects the plan."""
        if plan.id != self.plan_id:
            raise DecisionDeferred
        if self.decision is not None and self.decision.kind == "reject":
            return StepDecision(kind="reject", note=self.decision.note)
        return StepDecision(kind="approve")

    async def feedback(self, plan: Plan, step: PlanStep) -> Feedback:
        """The request's feedback, once; later steps that ask wait for another request."""
        if plan.id == self.plan_id and self.decision is not None and self.decision.kind == "reject":
            return Feedback(proceed=False, note=self.decision.note)
        if plan.id != self.plan_id or self._feedback is None:
            raise DecisionDeferred
        given, self._feedback = self._feedback, None
        return given


class Plans:
    """The caller's plans: look at them, and decide on the waiting ones."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat

    def own(self, principal: Principal, plan_id: str) -> Plan:
        """``principal``'s plan ``plan_id``, or a 404."""
        plan = self.chat.repository.load_plan(plan_id)
        if plan is None or plan.principal != principal.name:
            raise ApiError("not_found", f"No plan {plan_id!r} of {principal.name!r}", 404)
        return plan

    def view(self, plan: Plan, *, decisions: bool = False) -> PlanModel:
        """``plan`` as the API shows it."""
        repository = self.chat.repository
        return plan_model(
            plan,
            self.chat.api.platform.registry,
            repository,
            decisions=repository.approvals(plan.id) if decisions else None,
        )

    def show(self, principal: Principal, plan_id: str) -> PlanModel:
        """One plan with its decisions."""
        return self.view(self.own(principal, plan_id), decisions=True)

    def waiting(self, principal: Principal) -> list[PlanModel]:
        """``principal``'s plans that wait or were interrupted, newest first."""
        repository = self.chat.repository
        plans = (repository.load_plan(i) for i in repository.resumable(principal.name))
        return [self.view(p) for p in plans if p is not None]

    def expect(self, plan: Plan, *, feedback: bool) -> None:
        """409 unless ``plan`` waits for a plan decision (or, ``feedback``, for feedback)."""
        due = self.chat.repository.feedback_due(plan) if plan.status == "paused" else None
        if feedback and due is None:
            expected = "only a plan paused for feedback on a step takes feedback"
        elif not feedback and plan.status not in APPROVABLE:
            expected = "only a proposed or paused plan is approved or rejected"
        elif not feedback and due is not None:
            expected = f"step {due} waits for feedback first (POST .../feedback)"
        else:
            return
        raise ApiError("conflict", f"Plan {plan.id!r} is {plan.status}: {expected}", 409)

    async def waiting_plan(self, principal: Principal, plan_id: str, *, feedback: bool) -> Plan:
        """The caller's plan, waiting for what the request decides (404, 409 otherwise)."""

        def check() -> Plan:
            plan = self.own(principal, plan_id)
            self.expect(plan, feedback=feedback)
            return plan

        plan = await asyncio.to_thread(check)
        self.chat.available_model()  # 503 before anything is claimed
        return plan

    async def approve(self, request: Request, principal: Principal, plan_id: str) -> EventStream:
        """Approve every remaining step and run the plan, streamed."""
        plan = await self.waiting_plan(principal, plan_id, feedback=False)
        context = self.chat.api.context(request, principal, company_id=plan.company_id)
        approver = DeferringApprover(plan_id=plan.id, decision=PlanDecision.approve_all())
        return self.chat.stream(
            approver, lambda agent: agent.resume(plan.id, context, statuses=APPROVABLE)
        )

    async def feedback(
        self, request: Request, principal: Principal, plan_id: str, feedback: Feedback
    ) -> EventStream:
        """Give the feedback a paused plan waits for, and go on (or stop), streamed."""
        plan = await self.waiting_plan(principal, plan_id, feedback=True)
        context = self.chat.api.context(request, principal, company_id=plan.company_id)
        approver = DeferringApprover(plan_id=plan.id, feedback=feedback)
        return self.chat.stream(
            approver, lambda agent: agent.resume(plan.id, context, statuses=("paused",))
        )

    async def reject(
        self, request: Request, principal: Principal, plan_id: str, note: str | None
    ) -> AgentAnswer:
        """Reject a waiting plan; the turn's answer."""
        plan = await self.waiting_plan(principal, plan_id, feedback=False)
        decision = PlanDecision.reject(note or f"rejected by {principal.name}")
        approver = DeferringApprover(plan_id=plan.id, decision=decision)
        agent = self.chat.api.platform.agent(model=self.chat.available_model(), approver=approver)
        context = self.chat.api.context(request, principal, company_id=plan.company_id)
        try:
            response = await agent.resume(plan.id, context, statuses=APPROVABLE)
        except AgentError as e:
            raise ApiError("conflict", str(e), 409) from e
        except LLMError as e:
            raise ApiError("unavailable", f"The model could not answer: {e}", 503) from e
        return await asyncio.to_thread(self.chat.answer, response)

    def skip(self, principal: Principal, plan_id: str, position: int) -> PlanModel:
        """Skip step ``position`` of a waiting plan; the plan."""
        try:
            plan = self.chat.repository.skip_step(
                plan_id, position, principal=principal.name, actor=principal.name
            )
        except AgentNotFoundError as e:
            raise ApiError("not_found", str(e), 404) from e
        except AgentError as e:
            raise ApiError("conflict", str(e), 409) from e
        return self.view(plan, decisions=True)
