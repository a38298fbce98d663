"""Plans, steps and the agent's answers as the HTTP API shows them (``/chat``, ``/plans``)."""

from __future__ import annotations

from typing import Literal

from masterai.agent import AgentRepository, AgentResponse, ApprovalRecord, Plan, PlanStep
from masterai.api.models import (
    AgentAnswer,
    DecisionModel,
    PlanModel,
    PlanStepModel,
    StepResultModel,
    UsageModel,
)
from masterai.registry import ToolRegistry


def step_model(step: PlanStep, registry: ToolRegistry) -> PlanStepModel:
    """One step; whether it calls a model comes from the registry, not from the plan."""
    registered = registry.get(step.tool)
    result = step.result
    return PlanStepModel(
        position=step.position,
        tool=step.tool,
        operation=step.operation,
        arguments=step.arguments,
        purpose=step.purpose,
        read_only=step.read_only,
        calls_model=bool(registered and registered.calls_model(step.operation)),
        needs_feedback=step.needs_feedback,
        status=step.status,
        result=(
            StepResultModel(
                ok=result.ok,
                status=result.status,
                content=result.content,
                data=result.data,
                error=result.error,
                audit_id=result.audit_id,
                duration_ms=result.duration_ms,
            )
            if result is not None
            else None
        ),
    )


def plan_model(
    plan: Plan,
    registry: ToolRegistry,
    repository: AgentRepository,
    *,
    decisions: list[ApprovalRecord] | None = None,
) -> PlanModel:
    """A plan with what it waits for (and its decisions, when given)."""
    feedback_step = repository.feedback_due(plan) if plan.status == "paused" else None
    waiting_for: Literal["approval", "feedback"] | None = None
    if feedback_step is not None:
        waiting_for = "feedback"
    elif plan.status in ("proposed", "paused"):
        waiting_for = "approval"
    return PlanModel(
        id=plan.id,
        conversation_id=plan.conversation_id,
        request=plan.request,
        summary=plan.summary,
        revision=plan.revision,
        parent_id=plan.parent_id,
        company_id=plan.company_id,
        status=plan.status,
        waiting_for=waiting_for,
        feedback_step=feedback_step,
        steps=[step_model(s, registry) for s in plan.steps],
        decisions=[
            DecisionModel(
                step_position=d.step_position, decision=d.decision, actor=d.actor, note=d.note
            )
            for d in decisions or []
        ],
    )


def answer_model(
    response: AgentResponse, registry: ToolRegistry, repository: AgentRepository
) -> AgentAnswer:
    """How a turn ended: the ``done`` event."""
    return AgentAnswer(
        text=response.text,
        status=response.status,
        conversation_id=response.conversation_id,
        usage=UsageModel(
            input_tokens=response.usage.input_tokens, output_tokens=response.usage.output_tokens
        ),
        cost_usd=response.cost_usd,
        actions=list(response.actions),
        plans=[plan_model(p, registry, repository) for p in response.plans],
    )
