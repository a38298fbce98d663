"""Persistence of conversations, plans, steps and approvals (tables of migration 0002)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from masterai.agent.errors import AgentNotFoundError, PlanStateError
from masterai.agent.plan import Plan, PlanStatus, PlanStep, StepResult, new_id
from masterai.llm import Usage
from masterai.store import Database
from masterai.store.models import utcnow
from masterai.store.models.agent import (
    AgentApproval,
    AgentConversation,
    AgentMessage,
    AgentPlan,
    AgentStep,
)

RESUMABLE: tuple[PlanStatus, ...] = ("proposed", "approved", "running", "paused")
WAITING: tuple[PlanStatus, ...] = ("proposed", "paused")
"""Plans that wait for a human: their pending steps may still be skipped."""


@dataclass(frozen=True, kw_only=True)
class ApprovalRecord:
    """One stored approval decision."""

    step_position: int | None
    decision: str
    actor: str
    arguments: dict[str, Any] | None
    note: str | None


class AgentRepository:
    """Reads and writes the agent's state; every method is one short transaction.

    A method that reads and then writes takes the write lock first (``immediate``): on SQLite
    a read transaction cannot become a write one while another connection writes, so
    concurrent requests (several HTTP workers) would fail instead of waiting.
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    def ensure_conversation(self, conversation_id: str | None, principal: str, model: str) -> str:
        """The id of an existing conversation of ``principal``, or of a new one.

        Raises:
            AgentNotFoundError: ``conversation_id`` is another principal's conversation.
        """
        with self.database.session(immediate=True) as session:
            if conversation_id is not None:
                row = session.get(AgentConversation, conversation_id)
                if row is not None:
                    if row.principal != principal:
                        raise AgentNotFoundError(
                            f"no conversation {conversation_id!r} of {principal!r}"
                        )
                    return row.id
            row = AgentConversation(
                id=conversation_id or new_id(), principal=principal, model=model
            )
            session.add(row)
            return row.id

    def conversation_principal(self, conversation_id: str) -> str | None:
        """Whose conversation ``conversation_id`` is (``None``: no such conversation)."""
        with self.database.session() as session:
            row = session.get(AgentConversation, conversation_id)
            return row.principal if row is not None else None

    def history(self, conversation_id: str, *, limit: int = 20) -> list[tuple[str, str]]:
        """The last ``limit`` ``(role, content)`` turns, oldest first."""
        with self.database.session() as session:
            rows = session.scalars(
                select(AgentMessage)
                .where(AgentMessage.conversation_id == conversation_id)
                .order_by(AgentMessage.seq.desc())
                .limit(limit)
            ).all()
            return [(r.role, r.content) for r in reversed(rows)]

    def add_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        *,
        plan_id: str | None = None,
        usage: Usage | None = None,
        cost_usd: float = 0.0,
    ) -> None:
        """Append one turn to a conversation."""
        usage = usage or Usage()
        with self.database.session(immediate=True) as session:
            last = session.scalar(
                select(func.max(AgentMessage.seq)).where(
                    AgentMessage.conversation_id == conversation_id
                )
            )
            session.add(
                AgentMessage(
                    conversation_id=conversation_id,
                    seq=0 if last is None else last + 1,
                    role=role,
                    content=content,
                    plan_id=plan_id,
                    input_tokens=usage.input_tokens,
                    output_tokens=usage.output_tokens,
                    cost_usd=cost_usd,
                )
            )
            conversation = session.get(AgentConversation, conversation_id)
            if conversation is not None:
                conversation.updated_at = utcnow()
                if conversation.title is None and role == "user":
                    conversation.title = content[:120]

    def save_plan(self, plan: Plan, *, answer: str | None = None, error: str | None = None) -> None:
        """Insert or update ``plan`` and all its steps."""
        with self.database.session(immediate=True) as session:
            row = session.get(AgentPlan, plan.id)
            if row is None:
                row = AgentPlan(
                    id=plan.id,
                    conversation_id=plan.conversation_id,
                    request=plan.request,
                    principal=plan.principal,
                    company_id=plan.company_id,
                    revision=plan.revision,
                    parent_id=plan.parent_id,
                    status=plan.status,
                    summary=plan.summary,
                )
                session.add(row)
                session.flush()
            row.status = plan.status
            row.updated_at = utcnow()
            if answer is not None:
                row.answer = answer
            if error is not None:
                row.error = error
            existing = {s.position: s for s in row.steps}
            for step in plan.steps:
                self._write_step(session, plan.id, existing.get(step.position), step)

    def save_step(self, plan_id: str, step: PlanStep) -> None:
        """Update one step of a stored plan (cheaper than :meth:`save_plan` per step)."""
        with self.database.session(immediate=True) as session:
            row = session.scalars(
                select(AgentStep).where(
                    AgentStep.plan_id == plan_id, AgentStep.position == step.position
                )
            ).one_or_none()
            self._write_step(session, plan_id, row, step)

    @staticmethod
    def _write_step(session: Any, plan_id: str, row: AgentStep | None, step: PlanStep) -> None:
        if row is None:
            row = AgentStep(plan_id=plan_id, position=step.position)
            session.add(row)
        row.tool = step.tool
        row.operation = step.operation
        row.arguments = dict(step.arguments)
        row.purpose = step.purpose
        row.needs_feedback = step.needs_feedback
        row.read_only = step.read_only
        row.status = step.status
        if step.result is not None:
            row.result = step.result.to_dict()
            row.audit_id = step.result.audit_id
            row.duration_ms = step.result.duration_ms
            row.finished_at = utcnow()

    def charge_plan(self, plan_id: str, usage: Usage, cost_usd: float) -> None:
        """Add model usage spent on ``plan_id``."""
        with self.database.session(immediate=True) as session:
            row = session.get(AgentPlan, plan_id)
            if row is not None:
                row.input_tokens += usage.input_tokens
                row.output_tokens += usage.output_tokens
                row.cost_usd += cost_usd

    def record_approval(
        self,
        plan_id: str,
        decision: str,
        *,
        actor: str,
        step_position: int | None = None,
        arguments: dict[str, Any] | None = None,
        note: str | None = None,
    ) -> None:
        """Store one approval decision."""
        with self.database.session() as session:
            session.add(
                AgentApproval(
                    plan_id=plan_id,
                    step_position=step_position,
                    decision=decision,
                    actor=actor,
                    arguments=arguments,
                    note=note,
                )
            )

    def claim(self, plan_id: str, status: str) -> bool:
        """Mark ``plan_id`` running if it is still ``status``; whether this call did.

        One conditional update, so of several requests (or workers) deciding on the same
        waiting plan at once, exactly one goes on.
        """
        with self.database.session() as session:
            result = session.execute(
                update(AgentPlan)
                .where(AgentPlan.id == plan_id, AgentPlan.status == status)
                .values(status="running", updated_at=utcnow())
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def skip_step(self, plan_id: str, position: int, *, principal: str, actor: str) -> Plan:
        """Skip step ``position`` of ``principal``'s waiting plan before it runs; the plan.

        Raises:
            AgentNotFoundError: no such plan of ``principal``, or no such step.
            PlanStateError: the plan does not wait for a decision (running, finished), or the
                step already ran or was skipped.
        """
        with self.database.session(immediate=True) as session:
            row = session.get(AgentPlan, plan_id, with_for_update=True)
            if row is None or row.principal != principal:
                raise AgentNotFoundError(f"no plan {plan_id!r} of {principal!r}")
            if row.status not in WAITING:
                raise PlanStateError(
                    f"plan {plan_id!r} is {row.status}; steps are skipped only while it waits "
                    f"for a decision ({', '.join(WAITING)})"
                )
            step = next((s for s in row.steps if s.position == position), None)
            if step is None:
                raise AgentNotFoundError(
                    f"plan {plan_id!r} has no step {position}; steps: 1-{len(row.steps)}"
                )
            if step.status not in ("pending", "approved"):
                raise PlanStateError(
                    f"step {position} of plan {plan_id!r} is {step.status}; only pending or "
                    "approved steps can be skipped"
                )
            step.status = "skipped"
            row.updated_at = utcnow()
            session.add(
                AgentApproval(plan_id=plan_id, step_position=position, decision="skip", actor=actor)
            )
        plan = self.load_plan(plan_id)
        assert plan is not None
        return plan

    def approvals(self, plan_id: str) -> list[ApprovalRecord]:
        """Every decision on ``plan_id``, in order."""
        with self.database.session() as session:
            rows = session.scalars(
                select(AgentApproval)
                .where(AgentApproval.plan_id == plan_id)
                .order_by(AgentApproval.id)
            ).all()
            return [
                ApprovalRecord(
                    step_position=r.step_position,
                    decision=r.decision,
                    actor=r.actor,
                    arguments=r.arguments,
                    note=r.note,
                )
                for r in rows
            ]

    def feedback_due(self, plan: Plan) -> int | None:
        """The step of ``plan`` waiting for feedback (``None`` if none).

        The last finished step that asked for feedback and has none recorded.
        """
        given = {r.step_position for r in self.approvals(plan.id) if r.decision == "feedback"}
        due = [
            s.position
            for s in plan.steps
            if s.needs_feedback and s.status == "succeeded" and s.position not in given
        ]
        return due[-1] if due else None

    def load_plan(self, plan_id: str) -> Plan | None:
        """The stored plan ``plan_id`` with its steps, or ``None``."""
        with self.database.session() as session:
            row = session.get(AgentPlan, plan_id)
            if row is None:
                return None
            return Plan(
                id=row.id,
                conversation_id=row.conversation_id,
                request=row.request,
                principal=row.principal,
                company_id=row.company_id,
                summary=row.summary or "",
                revision=row.revision,
                parent_id=row.parent_id,
                status=row.status,  # type: ignore[arg-type]
                steps=[_step_from_row(s) for s in row.steps],
            )

    def resumable(self, principal: str) -> list[str]:
        """Ids of ``principal``'s plans that were interrupted before finishing, newest first."""
        with self.database.session() as session:
            return list(
                session.scalars(
                    select(AgentPlan.id)
                    .where(AgentPlan.principal == principal, AgentPlan.status.in_(RESUMABLE))
                    .order_by(AgentPlan.updated_at.desc())
                ).all()
            )


def _step_from_row(row: AgentStep) -> PlanStep:
    result = None
    if row.result is not None:
        result = StepResult(
            ok=bool(row.result.get("ok")),
            content=str(row.result.get("content") or ""),
            data=row.result.get("data"),
            error=row.result.get("error"),
            status=str(row.result.get("status") or ""),
            audit_id=row.audit_id,
            duration_ms=row.duration_ms or 0.0,
        )
    return PlanStep(
        position=row.position,
        tool=row.tool,
        operation=row.operation,
        arguments=dict(row.arguments),
        purpose=row.purpose,
        needs_feedback=row.needs_feedback,
        read_only=row.read_only,
        status=row.status,  # type: ignore[arg-type]
        result=result,
    )
