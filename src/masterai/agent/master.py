"""``MasterAI``: analyse a request, plan, get approval, execute through the registry, answer.

```
process_request(message, context)
  -> plan call (model sees only the principal's tools)   -- no plan: direct answer
  -> checked plan -> approval (Approver) -> steps via ToolRegistry.execute_tool
  -> failed step: re-plan (max_replans) or stop -> intermediate feedback -> synthesis
```
Every plan, step result and approval is stored as it happens, so ``resume(plan_id)`` can
carry on after a restart, or when a decision an approver deferred (``DecisionDeferred``:
the HTTP API's approver answers in a later request) arrives.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal

from masterai.agent.approval import Approver, DecisionDeferred
from masterai.agent.budget import Budget
from masterai.agent.errors import AgentError, AgentNotFoundError, PlanStateError
from masterai.agent.plan import AgentResponse, Plan, PlanStep, ResponseStatus, StepResult
from masterai.agent.planner import (
    Catalog,
    ReferenceResolutionError,
    check_step,
    resolve_references,
    steps_from_call,
)
from masterai.agent.prompts import (
    PLAN_TOOL,
    PLANNER_INSTRUCTIONS,
    SYNTHESIS_INSTRUCTIONS,
    render_catalog,
    report,
    step_lines,
)
from masterai.agent.repository import RESUMABLE, AgentRepository
from masterai.llm import (
    LLMProviderError,
    Message,
    Model,
    ModelRequest,
    ModelResponse,
    ResponseComplete,
    TextDelta,
)
from masterai.registry import ExecutionContext, ToolRegistry, approve_all
from masterai.settings import AgentSettings
from masterai.store import Database
from masterai.tools.adapter import reported_cost

EventKind = Literal["text", "plan", "step_started", "step_finished", "notice"]


@dataclass(frozen=True, kw_only=True)
class AgentEvent:
    """Progress of a turn, for live rendering (CLI, HTTP stream)."""

    kind: EventKind
    text: str = ""
    plan: Plan | None = None
    step: PlanStep | None = None


EventSink = Callable[[AgentEvent], None]


@dataclass(kw_only=True)
class _Turn:
    context: ExecutionContext
    conversation_id: str
    request: str
    budget: Budget
    catalog: Catalog
    history: list[Message] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    replans: int = 0
    feedback_due: int | None = None
    """A step whose feedback was deferred: asked first when the plan resumes."""
    waiting: tuple[ResponseStatus, str] | None = None
    """Why the turn ends waiting (set where an approver deferred its decision)."""


@dataclass(frozen=True, kw_only=True)
class _Outcome:
    kind: Literal["done", "failed", "stopped", "budget"]
    reason: str = ""


class MasterAI:
    """The Master AI agent.

    Args:
        model: the language model (see :func:`masterai.llm.build_model`).
        registry: every tool call goes through it (permissions, validation, audit).
        approver: decides on plans and steps (CLI prompt, tests, HTTP).
        database: where conversations, plans, steps and approvals are stored.
        settings: budgets and the read-only auto-approval switch.
        on_event: receives streamed text and progress.
        history_limit: earlier turns of the conversation sent to the model.
        clock: monotonic seconds, for the wall-time budget (tests pass a fake one).
    """

    def __init__(
        self,
        *,
        model: Model,
        registry: ToolRegistry,
        approver: Approver,
        database: Database,
        settings: AgentSettings | None = None,
        on_event: EventSink | None = None,
        history_limit: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model = model
        self.registry = registry
        self.approver = approver
        self.repository = AgentRepository(database)
        self.settings = settings or AgentSettings()
        self.on_event = on_event
        self.history_limit = history_limit
        self.clock = clock

    def _emit(self, kind: EventKind, **values: object) -> None:
        if self.on_event is not None:
            self.on_event(AgentEvent(kind=kind, **values))  # type: ignore[arg-type]

    def _new_turn(
        self, context: ExecutionContext, conversation_id: str | None, request: str
    ) -> _Turn:
        conversation = self.repository.ensure_conversation(
            conversation_id, context.principal.name, self.model.name
        )
        history = [
            Message(role="assistant" if role == "assistant" else "user", content=content)
            for role, content in self.repository.history(conversation, limit=self.history_limit)
        ]
        return _Turn(
            context=context,
            conversation_id=conversation,
            request=request,
            budget=Budget(self.settings, clock=self.clock),
            catalog=Catalog.build(self.registry, context),
            history=history,
        )

    async def process_request(
        self, message: str, context: ExecutionContext, *, conversation_id: str | None = None
    ) -> AgentResponse:
        """Answer ``message`` for ``context.principal``, using tools through an approved plan.

        Raises:
            AgentError: the message is empty.
            masterai.llm.LLMError: the model could not be called (planning).
        """
        if not message.strip():
            raise AgentError("empty request: say what you want Master AI to do")
        turn = self._new_turn(context, conversation_id, message)
        self.repository.add_message(turn.conversation_id, "user", message)
        proposal = await self._propose(turn, self._planning_messages(turn))
        if isinstance(proposal, str):
            return self._answer(turn, proposal, "answered", plan=None)
        return await self._run(turn, proposal, needs_approval=True)

    async def resume(
        self,
        plan_id: str,
        context: ExecutionContext,
        *,
        statuses: Collection[str] = RESUMABLE,
    ) -> AgentResponse:
        """Carry on with a waiting or interrupted plan; approved steps are not re-asked.

        A ``proposed`` plan is reviewed by the approver; a ``paused`` one first asks the
        feedback it was waiting for (if any), then goes on. The plan is claimed first (one
        conditional update), so two requests deciding on the same plan never both run it.

        Args:
            plan_id: the plan.
            context: the plan's principal (only its owner may resume it).
            statuses: the statuses the caller expects the plan in (default: any resumable).

        Raises:
            AgentNotFoundError: no such plan, or another principal's plan.
            PlanStateError: the plan is finished, not in ``statuses``, or being handled by
                another request.
        """
        plan = self.repository.load_plan(plan_id)
        if plan is None or plan.principal != context.principal.name:
            raise AgentNotFoundError(f"no plan {plan_id!r} of {context.principal.name!r} to resume")
        allowed = [s for s in RESUMABLE if s in statuses]
        if plan.status not in allowed:
            raise PlanStateError(
                f"plan {plan_id!r} is {plan.status}; only {', '.join(allowed)} plans resume here"
            )
        waiting = plan.status
        if not self.repository.claim(plan_id, waiting):
            raise PlanStateError(
                f"plan {plan_id!r} is being handled by another request; see its status first"
            )
        # Read again as claimed: a step skipped while the plan waited is skipped.
        plan = self.repository.load_plan(plan_id)
        assert plan is not None
        turn = self._new_turn(context, plan.conversation_id, plan.request)
        turn.feedback_due = self.repository.feedback_due(plan)
        for step in plan.steps:
            # Re-checking also restores calls_model, which the store does not keep.
            problem = (
                check_step(turn.catalog, context, step)
                if step.status in ("pending", "approved")
                else None
            )
            if problem and step.status == "approved":
                step.status = "pending"  # permissions changed since approval: ask again
        return await self._run(turn, plan, needs_approval=waiting == "proposed")

    # --- model calls ------------------------------------------------------------------

    def _planning_messages(self, turn: _Turn) -> list[Message]:
        system = PLANNER_INSTRUCTIONS + render_catalog(list(turn.catalog.listings.values()))
        return [Message.system(system), *turn.history, Message.user(turn.request)]

    async def _call(self, turn: _Turn, request: ModelRequest) -> ModelResponse:
        response: ModelResponse | None = None
        async for event in self.model.stream(request):
            if isinstance(event, TextDelta):
                self._emit("text", text=event.text)
            elif isinstance(event, ResponseComplete):
                response = event.response
        assert response is not None, "a model stream must end with ResponseComplete"
        turn.budget.charge(response)
        return response

    async def _propose(self, turn: _Turn, messages: list[Message]) -> Plan | str:
        """A checked plan, or the model's direct answer; invalid plans go back to the model."""
        problems: list[str] = []
        for _attempt in range(3):
            exhausted = turn.budget.exhausted()
            if exhausted:
                return f"Stopped before planning: {exhausted}."
            if not turn.catalog.listings:
                return (await self._call(turn, ModelRequest(messages=tuple(messages)))).text
            response = await self._call(
                turn, ModelRequest(messages=tuple(messages), tools=(PLAN_TOOL,))
            )
            call = next((c for c in response.tool_calls if c.name == PLAN_TOOL.name), None)
            if call is None:
                return response.text
            summary, steps, problems = steps_from_call(call, turn.catalog, turn.context)
            room = self.settings.max_steps - turn.budget.steps
            if len(steps) > room:
                problems.append(f"the plan has {len(steps)} steps; at most {room} may run")
            if not problems:
                return self._new_plan(turn, summary, steps)
            feedback = "The plan was not accepted:\n- " + "\n- ".join(problems)
            messages = [
                *messages,
                response.as_message(),
                *(Message.tool(c.id, feedback, is_error=True) for c in response.tool_calls),
            ]
        return "I could not build a plan I am allowed to run:\n- " + "\n- ".join(problems)

    def _new_plan(self, turn: _Turn, summary: str, steps: list[PlanStep]) -> Plan:
        parent = turn.plans[-1] if turn.plans else None
        return Plan(
            conversation_id=turn.conversation_id,
            request=turn.request,
            principal=turn.context.principal.name,
            company_id=turn.context.company_id,
            summary=summary,
            steps=steps,
            revision=parent.revision + 1 if parent else 1,
            parent_id=parent.id if parent else None,
        )

    # --- plan lifecycle ---------------------------------------------------------------

    async def _run(self, turn: _Turn, plan: Plan, *, needs_approval: bool) -> AgentResponse:
        while True:
            turn.plans.append(plan)
            self.repository.save_plan(plan)
            self._emit("plan", plan=plan)
            try:
                if needs_approval and not await self._approve(turn, plan):
                    return self._rejected(turn, plan)
                outcome = await self._execute(turn, plan)
            except DecisionDeferred:
                return self._waiting(turn, plan)
            if outcome.kind != "failed" or turn.replans >= self.settings.max_replans:
                return await self._finish(turn, plan, outcome)
            if turn.budget.exhausted():
                return await self._finish(turn, plan, outcome)
            turn.replans += 1
            plan.status = "replanned"
            self.repository.save_plan(plan, error=outcome.reason)
            self._emit("notice", text=f"{outcome.reason}; re-planning")
            replacement = await self._propose(turn, self._replan_messages(turn, plan, outcome))
            if isinstance(replacement, str):
                turn.notes.append(f"No new plan after the failure: {replacement}")
                return await self._finish(turn, plan, outcome)
            plan, needs_approval = replacement, True

    def _replan_messages(self, turn: _Turn, plan: Plan, outcome: _Outcome) -> list[Message]:
        situation = (
            report(plan, turn.notes)
            + f"\n\n{outcome.reason}. Propose a new plan with propose_plan for what remains "
            "(steps already done must not be repeated), or answer in plain text if the "
            "request cannot be completed."
        )
        return [*self._planning_messages(turn), Message.user(situation)]

    async def _approve(self, turn: _Turn, plan: Plan) -> bool:
        actor = turn.context.principal.name
        if plan.auto_approvable and self.settings.auto_approve_read_only:
            self._approve_steps(plan)
            self.repository.record_approval(plan.id, "auto", actor="policy:read_only")
            self.repository.save_plan(plan)
            return True
        try:
            decision = await self.approver.review_plan(plan)
        except DecisionDeferred:
            plan.status = "proposed"
            turn.waiting = ("awaiting_approval", "The plan waits for approval.")
            raise
        if decision.kind == "reject":
            self.repository.record_approval(plan.id, "reject", actor=actor, note=decision.note)
            turn.notes.append(decision.note or "The user rejected the plan.")
            return False
        for position, arguments in sorted(decision.edits.items()):
            problem = self._edit(turn, plan, plan.step(position), dict(arguments))
            if problem:
                turn.notes.append(f"Edited arguments refused: {problem}")
                self.repository.record_approval(plan.id, "reject", actor=actor, note=problem)
                return False
        if decision.kind == "approve_all":
            self._approve_steps(plan)
        self.repository.record_approval(plan.id, decision.kind, actor=actor, note=decision.note)
        plan.status = "approved"
        self.repository.save_plan(plan)
        return True

    @staticmethod
    def _approve_steps(plan: Plan) -> None:
        plan.status = "approved"
        for step in plan.steps:
            if step.status == "pending":
                step.status = "approved"

    def _edit(
        self, turn: _Turn, plan: Plan, step: PlanStep, arguments: dict[str, object]
    ) -> str | None:
        arguments.pop("operation", None)
        candidate = dataclasses.replace(step, arguments=arguments)
        problem = check_step(turn.catalog, turn.context, candidate)
        if problem is None:
            step.arguments = arguments
            self.repository.record_approval(
                plan.id,
                "edit",
                actor=turn.context.principal.name,
                step_position=step.position,
                arguments=arguments,
            )
        return problem

    def _waiting(self, turn: _Turn, plan: Plan) -> AgentResponse:
        """End the turn with the plan stored as waiting for a deferred decision."""
        assert turn.waiting is not None, "set where the decision was deferred"
        status, text = turn.waiting
        self.repository.save_plan(plan)
        return self._answer(turn, text, status, plan=plan)

    def _rejected(self, turn: _Turn, plan: Plan) -> AgentResponse:
        plan.status = "rejected"
        self.repository.save_plan(plan)
        reason = turn.notes[-1] if turn.notes else "The plan was rejected."
        text = f"Plan rejected; nothing was run. {reason}".strip()
        return self._answer(turn, text, "rejected", plan=plan)

    # --- execution --------------------------------------------------------------------

    async def _execute(self, turn: _Turn, plan: Plan) -> _Outcome:
        plan.status = "running"
        self.repository.save_plan(plan)
        if turn.feedback_due is not None:
            asked, turn.feedback_due = plan.step(turn.feedback_due), None
            if not await self._feedback(turn, plan, asked):
                return _Outcome(kind="stopped", reason=f"stopped after step {asked.position}")
        for step in plan.steps:
            if step.status in ("succeeded", "skipped", "failed"):
                continue
            reason = turn.budget.exhausted(for_step=True)
            if reason:
                return _Outcome(kind="budget", reason=reason)
            if step.status != "approved" and not await self._review_step(turn, plan, step):
                return _Outcome(kind="stopped", reason=f"step {step.position} was rejected")
            if step.status == "skipped":
                continue
            await self._run_step(turn, plan, step)
            if step.status == "failed":
                error = step.result.error if step.result else "unknown error"
                return _Outcome(
                    kind="failed", reason=f"step {step.position} ({step.label}) failed: {error}"
                )
            if step.needs_feedback and not await self._feedback(turn, plan, step):
                return _Outcome(kind="stopped", reason=f"stopped after step {step.position}")
        return _Outcome(kind="done")

    async def _review_step(self, turn: _Turn, plan: Plan, step: PlanStep) -> bool:
        """Ask about one step; ``False`` means stop the plan."""
        actor = turn.context.principal.name
        if step.auto_approvable and self.settings.auto_approve_read_only:
            self.repository.record_approval(
                plan.id, "auto", actor="policy:read_only", step_position=step.position
            )
            step.status = "approved"
            return True
        try:
            decision = await self.approver.review_step(plan, step)
        except DecisionDeferred:
            plan.status = "paused"
            turn.waiting = (
                "awaiting_approval",
                f"Step {step.position} ({step.label}) waits for approval.",
            )
            raise
        if decision.kind == "edit" and decision.arguments is not None:
            problem = self._edit(turn, plan, step, dict(decision.arguments))
            if problem:
                turn.notes.append(f"Edited arguments refused: {problem}")
                return False
        # An edit was recorded with its arguments by _edit; running the edited step is approval.
        kind = "approve" if decision.kind == "edit" else decision.kind
        self.repository.record_approval(
            plan.id, kind, actor=actor, step_position=step.position, note=decision.note
        )
        if decision.kind == "reject":
            turn.notes.append(decision.note or f"The user rejected step {step.position}.")
            return False
        step.status = "skipped" if decision.kind == "skip" else "approved"
        self.repository.save_step(plan.id, step)
        return True

    async def _run_step(self, turn: _Turn, plan: Plan, step: PlanStep) -> None:
        earlier = {
            s.position: (s.result.content, s.result.data)
            for s in plan.steps
            if s.status == "succeeded" and s.result is not None
        }
        try:
            arguments = resolve_references(step.arguments, earlier)
        except ReferenceResolutionError as error:
            step.status = "failed"
            step.result = StepResult(ok=False, error=str(error), status="invalid")
            self.repository.save_step(plan.id, step)
            return
        step.status = "running"
        self.repository.save_step(plan.id, step)
        self._emit("step_started", plan=plan, step=step)
        turn.budget.steps += 1
        # The user approved exactly this step (tool, operation, arguments) in the plan.
        context = dataclasses.replace(turn.context, approver=approve_all)
        result = await self.registry.execute_tool(step.tool, step.params(arguments), context)
        step.result = StepResult(
            ok=result.ok,
            content=result.content,
            data=result.data,
            error=result.error,
            status=result.status,
            audit_id=result.audit_id,
            duration_ms=result.duration_ms,
        )
        if step.calls_model:  # what the operation spent on models counts against the turn
            turn.budget.cost_usd += reported_cost(result.data)
        step.status = "succeeded" if result.ok else "failed"
        self.repository.save_step(plan.id, step)
        self._emit("step_finished", plan=plan, step=step)

    async def _feedback(self, turn: _Turn, plan: Plan, step: PlanStep) -> bool:
        try:
            feedback = await self.approver.feedback(plan, step)
        except DecisionDeferred:
            plan.status = "paused"
            turn.waiting = (
                "awaiting_feedback",
                f"Step {step.position} ({step.label}) is done and waits for feedback before "
                "the plan goes on.",
            )
            raise
        self.repository.record_approval(
            plan.id,
            "feedback",
            actor=turn.context.principal.name,
            step_position=step.position,
            note=feedback.note,
        )
        if feedback.note:
            turn.notes.append(f"After step {step.position}: {feedback.note}")
        return feedback.proceed

    # --- answer -----------------------------------------------------------------------

    async def _finish(self, turn: _Turn, plan: Plan, outcome: _Outcome) -> AgentResponse:
        status = {"done": "completed", "failed": "failed", "stopped": "stopped", "budget": "budget"}
        plan.status = status[outcome.kind]  # type: ignore[assignment]
        self.repository.save_plan(plan, error=outcome.reason or None)
        if outcome.reason:
            turn.notes.append(outcome.reason[0].upper() + outcome.reason[1:])
        text = await self._synthesise(turn, plan, outcome)
        response_status = "completed" if outcome.kind == "done" else outcome.kind
        return self._answer(turn, text, response_status, plan=plan)

    async def _synthesise(self, turn: _Turn, plan: Plan, outcome: _Outcome) -> str:
        fallback = "\n".join([*turn.notes, *step_lines(plan)])
        if outcome.kind == "budget" or turn.budget.exhausted():
            # Out of budget: no more model calls, a plain account of what happened.
            return "Stopped: " + fallback
        messages = (
            Message.system(SYNTHESIS_INSTRUCTIONS),
            Message.user(report(plan, turn.notes)),
        )
        try:
            return (await self._call(turn, ModelRequest(messages=messages))).text
        except LLMProviderError as error:
            return f"{fallback}\n(The model could not write a summary: {error})"

    def _answer(
        self,
        turn: _Turn,
        text: str,
        status: ResponseStatus,
        *,
        plan: Plan | None,
    ) -> AgentResponse:
        usage, cost = turn.budget.usage, turn.budget.cost_usd
        if plan is not None:
            self.repository.save_plan(plan, answer=text)
            self.repository.charge_plan(plan.id, usage, cost)
        self.repository.add_message(
            turn.conversation_id,
            "assistant",
            text,
            plan_id=plan.id if plan else None,
            usage=usage,
            cost_usd=cost,
        )
        actions: Sequence[str] = [line for p in turn.plans for line in step_lines(p)]
        return AgentResponse(
            text=text,
            status=status,
            conversation_id=turn.conversation_id,
            plans=tuple(turn.plans),
            usage=usage,
            cost_usd=cost,
            actions=tuple(actions),
        )
