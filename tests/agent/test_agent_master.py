"""MasterAI with the scripted model over a real registry and database."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import pytest
from agent_tools import GraderTool, NotesTool
from sqlalchemy import func, select

from masterai.agent import (
    AgentEvent,
    AgentRepository,
    ApproveAll,
    Feedback,
    MasterAI,
    Plan,
    PlanDecision,
    PlanStep,
    StepDecision,
)
from masterai.llm import Message, ModelRequest, ModelResponse, ScriptedModel
from masterai.registry import ExecutionContext, ToolRegistry
from masterai.security import Principal, system_principal
from masterai.security.permissions import DataAccessPermissions
from masterai.security.roles import role_defaults
from masterai.settings import AgentSettings, ModelPrice
from masterai.store import Database
from masterai.store.models import AuditRecord

ROOT = ExecutionContext(principal=system_principal("root"))


def admin_of(*companies: str) -> ExecutionContext:
    permissions = dataclasses.replace(
        role_defaults("admin"),
        data_access=DataAccessPermissions(
            read_companies=frozenset(companies), write_companies=frozenset(companies)
        ),
    )
    return ExecutionContext(principal=Principal(name="ada", role="admin", permissions=permissions))


def plan_call(*steps: dict[str, Any], summary: str = "Do it") -> ModelResponse:
    return ScriptedModel.call("propose_plan", {"summary": summary, "steps": list(steps)})


def step(operation: str, purpose: str = "", **arguments: Any) -> dict[str, Any]:
    return {"tool": "notes", "operation": operation, "arguments": arguments, "purpose": purpose}


class Recorder:
    """An approver answering from lists, recording what it was shown."""

    def __init__(
        self,
        plans: Sequence[PlanDecision] = (),
        steps: Sequence[StepDecision] = (),
        feedback: Sequence[Feedback] = (),
    ) -> None:
        self.plan_decisions = list(plans)
        self.step_decisions = list(steps)
        self.feedback_answers = list(feedback)
        self.shown: list[list[str]] = []
        self.asked_steps: list[int] = []

    async def review_plan(self, plan: Plan) -> PlanDecision:
        self.shown.append([f"{s.label}:{json.dumps(s.arguments)}" for s in plan.steps])
        return self.plan_decisions.pop(0)

    async def review_step(self, plan: Plan, step: PlanStep) -> StepDecision:
        self.asked_steps.append(step.position)
        return self.step_decisions.pop(0)

    async def feedback(self, plan: Plan, step: PlanStep) -> Feedback:
        return self.feedback_answers.pop(0)


class NeverAsk(ApproveAll):
    async def review_plan(self, plan: Plan) -> PlanDecision:
        raise AssertionError(f"the approver was asked about {plan.summary!r}")


@pytest.fixture
def notes() -> NotesTool:
    return NotesTool()


@pytest.fixture
def registry(database: Database, notes: NotesTool) -> ToolRegistry:
    registry = ToolRegistry(database)
    registry.register(notes, category="configuration")
    return registry


def agent(
    database: Database,
    registry: ToolRegistry,
    model: ScriptedModel,
    approver: Any,
    events: list[AgentEvent] | None = None,
    **settings: Any,
) -> MasterAI:
    return MasterAI(
        model=model,
        registry=registry,
        approver=approver,
        database=database,
        settings=AgentSettings(**settings),
        on_event=events.append if events is not None else None,
    )


def audit_count(database: Database) -> int:
    with database.session() as s:
        return s.execute(select(func.count()).select_from(AuditRecord)).scalar_one()


def last_user_text(request: ModelRequest) -> str:
    return request.messages[-1].content


async def test_a_request_needing_no_tool_is_answered_directly(
    database: Database, registry: ToolRegistry
) -> None:
    model = ScriptedModel([ScriptedModel.reply("Hello! Ask me about your companies.")])
    events: list[AgentEvent] = []
    response = await agent(database, registry, model, NeverAsk(), events).process_request(
        "hi", ROOT
    )
    assert (response.status, response.text, response.plans) == (
        "answered",
        "Hello! Ask me about your companies.",
        (),
    )
    assert "".join(e.text for e in events if e.kind == "text") == response.text
    (request,) = model.requests
    assert [t.name for t in request.tools] == ["propose_plan"]
    assert "## notes" in request.messages[0].content
    assert audit_count(database) == 0
    history = AgentRepository(database).history(response.conversation_id)
    assert history == [("user", "hi"), ("assistant", response.text)]


async def test_an_approved_multi_step_plan_runs_in_order_and_the_answer_cites_it(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    model = ScriptedModel(
        [
            plan_call(
                step("add", company_id="acme", text="hello"), step("list", company_id="acme")
            ),
            ScriptedModel.reply("Added a note [1]; acme has 1 note [2]."),
        ]
    )
    events: list[AgentEvent] = []
    approver = Recorder(plans=[PlanDecision.approve_all()])
    response = await agent(database, registry, model, approver, events).process_request(
        "add hello to acme and count", ROOT
    )
    assert response.status == "completed"
    assert notes.notes == {"acme": ["hello"]}
    plan = response.plan
    assert plan is not None and plan.status == "completed"
    assert [s.status for s in plan.steps] == ["succeeded", "succeeded"]
    assert plan.steps[1].result is not None and plan.steps[1].result.data == {
        "count": 1,
        "notes": ["hello"],
    }
    assert all(s.result and s.result.audit_id for s in plan.steps)
    assert response.actions == ("[1] notes.add: ok", "[2] notes.list: ok")
    synthesis = last_user_text(model.requests[-1])
    assert "[1] notes.add: ok, added" in synthesis and '"count": 1' in synthesis
    assert [e.kind for e in events if e.kind.startswith("step")] == [
        "step_started",
        "step_finished",
        "step_started",
        "step_finished",
    ]
    stored = AgentRepository(database).load_plan(plan.id)
    assert stored is not None and [s.status for s in stored.steps] == ["succeeded"] * 2
    assert [a.decision for a in AgentRepository(database).approvals(plan.id)] == ["approve_all"]
    assert audit_count(database) == 2


async def test_results_of_earlier_steps_are_passed_forward(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    notes.notes["acme"] = ["a", "b"]
    model = ScriptedModel(
        [
            plan_call(
                step("list", company_id="acme"),
                step("add", company_id="acme", text="there were {{step1.data.count}} notes"),
            ),
            ScriptedModel.reply("done"),
        ]
    )
    await agent(database, registry, model, ApproveAll()).process_request("count", ROOT)
    assert notes.notes["acme"][-1] == "there were 2 notes"


async def test_a_rejected_plan_changes_nothing(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    model = ScriptedModel([plan_call(step("add", company_id="acme", text="x"))])
    approver = Recorder(plans=[PlanDecision.reject("not today")])
    response = await agent(database, registry, model, approver).process_request("add", ROOT)
    assert response.status == "rejected"
    assert "nothing was run" in response.text and "not today" in response.text
    assert notes.notes == {}
    assert audit_count(database) == 0
    assert len(model.requests) == 1  # no synthesis call for a rejected plan
    assert response.plan is not None
    stored = AgentRepository(database).load_plan(response.plan.id)
    assert stored is not None and stored.status == "rejected"
    assert [a.decision for a in AgentRepository(database).approvals(stored.id)] == ["reject"]


async def test_an_edited_step_runs_with_the_edited_arguments(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    model = ScriptedModel(
        [
            plan_call(step("add", company_id="acme", text="draft")),
            ScriptedModel.reply("done"),
        ]
    )
    edits = {1: {"company_id": "acme", "text": "final"}}
    approver = Recorder(plans=[PlanDecision.approve_all(edits)])
    response = await agent(database, registry, model, approver).process_request("add", ROOT)
    assert notes.notes == {"acme": ["final"]}
    assert response.plan is not None
    approvals = AgentRepository(database).approvals(response.plan.id)
    assert [(a.decision, a.arguments) for a in approvals] == [
        ("edit", {"company_id": "acme", "text": "final"}),
        ("approve_all", None),
    ]


async def test_an_edit_the_principal_may_not_make_rejects_the_plan(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    model = ScriptedModel([plan_call(step("add", company_id="acme", text="x"))])
    approver = Recorder(
        plans=[PlanDecision.approve_all({1: {"company_id": "globex", "text": "x"}})]
    )
    response = await agent(database, registry, model, approver).process_request(
        "add", admin_of("acme")
    )
    assert response.status == "rejected"
    assert "may not change company 'globex'" in response.text
    assert notes.notes == {} and audit_count(database) == 0


async def test_a_failing_step_leads_to_a_new_plan_for_what_remains(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    model = ScriptedModel(
        [
            plan_call(step("fail", company_id="acme"), step("add", company_id="acme", text="a")),
            plan_call(step("add", company_id="acme", text="b")),
            ScriptedModel.reply("The first attempt failed; added b instead."),
        ]
    )
    approver = Recorder(plans=[PlanDecision.approve_all(), PlanDecision.approve_all()])
    response = await agent(database, registry, model, approver).process_request("add", ROOT)
    assert notes.notes == {"acme": ["b"]}
    first, second = response.plans
    assert (first.status, second.status) == ("replanned", "completed")
    assert (second.revision, second.parent_id) == (2, first.id)
    assert [s.status for s in first.steps] == ["failed", "approved"]
    replan_request = last_user_text(model.requests[1])
    assert "the notes backend is down" in replan_request
    assert response.status == "completed"


async def test_a_failing_step_without_replans_left_stops_with_an_explanation(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    model = ScriptedModel(
        [
            plan_call(step("fail", company_id="acme"), step("add", company_id="acme", text="a")),
            ScriptedModel.reply("Step 1 failed, so nothing was added [1]."),
        ]
    )
    response = await agent(database, registry, model, ApproveAll(), max_replans=0).process_request(
        "add", ROOT
    )
    assert response.status == "failed"
    assert notes.notes == {}
    synthesis = last_user_text(model.requests[-1])
    assert "[1] notes.fail: failed (" in synthesis and "[2] notes.add: not run" in synthesis
    assert "Step 1 (notes.fail) failed" in synthesis


async def test_steps_the_principal_may_not_run_are_never_shown_or_executed(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    model = ScriptedModel(
        [
            plan_call(step("add", company_id="globex", text="x")),
            plan_call(step("add", company_id="acme", text="x")),
            ScriptedModel.reply("done"),
        ]
    )
    approver = Recorder(plans=[PlanDecision.approve_all()])
    await agent(database, registry, model, approver).process_request("add", admin_of("acme"))
    assert approver.shown == [['notes.add:{"company_id": "acme", "text": "x"}']]
    assert notes.notes == {"acme": ["x"]}
    refusal = model.requests[1].messages[-1]
    assert refusal.role == "tool" and refusal.is_error
    assert "not permitted: 'ada' may not change company 'globex'" in refusal.content


async def test_operations_outside_the_role_are_not_even_offered_to_the_model(
    database: Database, registry: ToolRegistry
) -> None:
    viewer = ExecutionContext(
        principal=Principal(name="vic", role="viewer", permissions=role_defaults("viewer"))
    )
    model = ScriptedModel([ScriptedModel.reply("ok")])
    await agent(database, registry, model, NeverAsk()).process_request("hi", viewer)
    catalog = model.requests[0].messages[0].content
    assert "- list (read-only)" in catalog or "## notes" not in catalog
    assert "- add (" not in catalog


async def test_step_by_step_approval_can_skip_a_step(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    model = ScriptedModel(
        [
            plan_call(
                step("add", company_id="acme", text="a"), step("add", company_id="acme", text="b")
            ),
            ScriptedModel.reply("done"),
        ]
    )
    approver = Recorder(
        plans=[PlanDecision.step_by_step()],
        steps=[StepDecision(kind="approve"), StepDecision(kind="skip")],
    )
    response = await agent(database, registry, model, approver).process_request("add", ROOT)
    assert notes.notes == {"acme": ["a"]}
    assert approver.asked_steps == [1, 2]
    assert response.actions == ("[1] notes.add: ok", "[2] notes.add: skipped by the user")
    assert response.plan is not None
    decisions = [
        (a.decision, a.step_position) for a in AgentRepository(database).approvals(response.plan.id)
    ]
    assert decisions == [("step_by_step", None), ("approve", 1), ("skip", 2)]


async def test_intermediate_feedback_can_stop_the_plan_and_reaches_the_answer(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    model = ScriptedModel(
        [
            plan_call(
                {**step("list", company_id="acme"), "needs_feedback": True},
                step("add", company_id="acme", text="a"),
            ),
            ScriptedModel.reply("Stopped as asked."),
        ]
    )
    approver = Recorder(
        plans=[PlanDecision.approve_all()],
        feedback=[Feedback(proceed=False, note="the count looks wrong")],
    )
    response = await agent(database, registry, model, approver).process_request("x", ROOT)
    assert response.status == "stopped"
    assert notes.notes == {}
    assert "the count looks wrong" in last_user_text(model.requests[-1])


async def test_the_time_budget_stops_a_running_plan_without_another_model_call(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    model = ScriptedModel(
        [
            plan_call(
                {**step("add", company_id="acme", text="a"), "needs_feedback": True},
                step("add", company_id="acme", text="b"),
            ),
        ]
    )
    now = [0.0]

    class SlowHuman(ApproveAll):
        async def feedback(self, plan: Plan, step: PlanStep) -> Feedback:
            now[0] += 61  # the user took a minute to answer
            return Feedback()

    master = MasterAI(
        model=model,
        registry=registry,
        approver=SlowHuman(),
        database=database,
        settings=AgentSettings(max_seconds=60),
        clock=lambda: now[0],
    )
    response = await master.process_request("x", ROOT)
    assert response.status == "budget"
    assert notes.notes == {"acme": ["a"]}
    assert "Time budget reached (61.0s of max_seconds=60.0)" in response.text
    assert "[2] notes.add: not run" in response.text
    assert model.remaining == 0 and len(model.requests) == 1


async def test_the_cost_budget_stops_before_any_step_runs(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    expensive = ModelPrice(input_per_mtok=1_000_000, output_per_mtok=1_000_000)
    model = ScriptedModel([plan_call(step("add", company_id="acme", text="a"))], price=expensive)
    response = await agent(
        database, registry, model, ApproveAll(), max_cost_usd=0.5
    ).process_request("x", ROOT)
    assert response.status == "budget"
    assert "Cost budget reached" in response.text
    assert notes.notes == {} and response.cost_usd > 0.5


async def test_read_only_plans_run_without_asking_when_auto_approval_is_on(
    database: Database, registry: ToolRegistry
) -> None:
    model = ScriptedModel([plan_call(step("list", company_id="acme")), ScriptedModel.reply("0")])
    response = await agent(
        database, registry, model, NeverAsk(), auto_approve_read_only=True
    ).process_request("count", ROOT)
    assert response.status == "completed"
    assert response.plan is not None
    assert [a.decision for a in AgentRepository(database).approvals(response.plan.id)] == ["auto"]


async def test_mutating_plans_are_never_auto_approved(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    model = ScriptedModel(
        [plan_call(step("list", company_id="acme"), step("add", company_id="acme", text="a"))]
    )
    with pytest.raises(AssertionError, match="the approver was asked"):
        await agent(
            database, registry, model, NeverAsk(), auto_approve_read_only=True
        ).process_request("x", ROOT)
    assert notes.notes == {}


def with_grader(
    database: Database, notes: NotesTool, cost_usd: float = 0.0
) -> tuple[ToolRegistry, GraderTool]:
    registry = ToolRegistry(database)
    registry.register(notes, category="configuration")
    grader = GraderTool(cost_usd)
    registry.register(grader, category="configuration")
    return registry, grader


def grade(**arguments: Any) -> dict[str, Any]:
    return {"tool": "grader", "operation": "grade", "arguments": arguments, "purpose": ""}


async def test_read_only_steps_that_call_models_are_never_auto_approved(
    database: Database, notes: NotesTool
) -> None:
    registry, grader = with_grader(database, notes)
    model = ScriptedModel(
        [
            plan_call(step("list", company_id="acme"), grade(company_id="acme")),
            ScriptedModel.reply("graded"),
        ]
    )
    with pytest.raises(AssertionError, match="the approver was asked"):
        await agent(
            database, registry, model, NeverAsk(), auto_approve_read_only=True
        ).process_request("grade acme", ROOT)
    assert grader.graded == []

    # Step by step: the free read-only step runs unasked, the model-calling one is asked.
    model = ScriptedModel(
        [
            plan_call(step("list", company_id="acme"), grade(company_id="acme")),
            ScriptedModel.reply("graded"),
        ]
    )
    approver = Recorder(plans=[PlanDecision.step_by_step()], steps=[StepDecision(kind="reject")])
    response = await agent(
        database, registry, model, approver, auto_approve_read_only=True
    ).process_request("grade acme", ROOT)
    assert approver.asked_steps == [2]
    assert grader.graded == []
    assert response.plan is not None
    assert [(s.read_only, s.calls_model) for s in response.plan.steps] == [
        (True, False),
        (True, True),
    ]
    decisions = AgentRepository(database).approvals(response.plan.id)
    assert [(a.decision, a.step_position) for a in decisions] == [
        ("step_by_step", None),
        ("auto", 1),
        ("reject", 2),
    ]


async def test_read_only_approval_for_scripts_refuses_plans_that_call_models(
    database: Database, notes: NotesTool
) -> None:
    from masterai.agent import ReadOnlyApprover

    registry, grader = with_grader(database, notes)
    model = ScriptedModel([plan_call(grade(company_id="acme"))])
    response = await agent(database, registry, model, ReadOnlyApprover()).process_request(
        "grade acme", ROOT
    )
    assert response.status == "rejected"
    assert "calls models, which costs money (grader.grade)" in response.text
    assert grader.graded == []


async def test_a_resumed_plan_still_asks_before_a_step_that_calls_a_model(
    database: Database, notes: NotesTool
) -> None:
    registry, grader = with_grader(database, notes)
    model = ScriptedModel([plan_call(step("list", company_id="acme"), grade(company_id="acme"))])
    crashing = CrashOnStep(
        plans=[PlanDecision.step_by_step()], steps=[StepDecision(kind="approve")]
    )
    with pytest.raises(KeyboardInterrupt):
        await agent(database, registry, model, crashing).process_request("grade", ROOT)

    # After a restart the store gives back the step without calls_model; it is re-derived.
    registry, grader = with_grader(database, notes)
    (plan_id,) = AgentRepository(database).resumable("root")
    model = ScriptedModel([ScriptedModel.reply("done")])
    with pytest.raises(AssertionError, match="asked about step 2"):
        await agent(database, registry, model, NeverAskSteps(), auto_approve_read_only=True).resume(
            plan_id, ROOT
        )
    assert grader.graded == []


async def test_what_a_model_calling_step_spends_counts_against_the_cost_budget(
    database: Database, notes: NotesTool
) -> None:
    registry, grader = with_grader(database, notes, cost_usd=0.8)
    model = ScriptedModel(
        [plan_call(grade(company_id="acme"), step("add", company_id="acme", text="a"))]
    )
    response = await agent(
        database, registry, model, ApproveAll(), max_cost_usd=0.5
    ).process_request("grade then note", ROOT)
    assert response.status == "budget"
    assert grader.graded == ["acme"] and notes.notes == {}
    assert "Cost budget reached ($0.8000 of max_cost_usd=$0.5)" in response.text
    assert response.cost_usd == pytest.approx(0.8)
    assert len(model.requests) == 1  # no synthesis call once the budget is spent


class NeverAskSteps(ApproveAll):
    async def review_step(self, plan: Plan, step: PlanStep) -> StepDecision:
        raise AssertionError(f"the approver was asked about step {step.position}")


class CrashOnStep(Recorder):
    async def review_step(self, plan: Plan, step: PlanStep) -> StepDecision:
        if step.position == 2:
            raise KeyboardInterrupt  # the process dies while waiting for the user
        return await super().review_step(plan, step)


async def test_an_interrupted_plan_resumes_after_a_restart_without_rerunning_steps(
    database: Database, notes: NotesTool
) -> None:
    first_registry = ToolRegistry(database)
    first_registry.register(notes, category="configuration")
    model = ScriptedModel(
        [
            plan_call(
                step("add", company_id="acme", text="a"), step("add", company_id="acme", text="b")
            ),
        ]
    )
    crashing = CrashOnStep(
        plans=[PlanDecision.step_by_step()], steps=[StepDecision(kind="approve")]
    )
    with pytest.raises(KeyboardInterrupt):
        await agent(database, first_registry, model, crashing).process_request("add", ROOT)
    assert notes.notes == {"acme": ["a"]}

    # "Restart": new registry, model and agent over the same database.
    registry = ToolRegistry(database)
    registry.register(notes, category="configuration")
    (plan_id,) = AgentRepository(database).resumable("root")
    model = ScriptedModel([ScriptedModel.reply("Both notes added [1][2].")])
    approver = Recorder(steps=[StepDecision(kind="approve")])
    response = await agent(database, registry, model, approver).resume(plan_id, ROOT)
    assert notes.notes == {"acme": ["a", "b"]}
    assert approver.asked_steps == [2]
    assert response.status == "completed" and response.text == "Both notes added [1][2]."
    assert AgentRepository(database).resumable("root") == []


async def test_finished_or_foreign_plans_cannot_be_resumed(
    database: Database, registry: ToolRegistry
) -> None:
    from masterai.agent import AgentError

    model = ScriptedModel([plan_call(step("list", company_id="acme")), ScriptedModel.reply("0")])
    response = await agent(database, registry, model, ApproveAll()).process_request("x", ROOT)
    assert response.plan is not None
    with pytest.raises(AgentError, match="is completed"):
        await agent(database, registry, model, ApproveAll()).resume(response.plan.id, ROOT)
    with pytest.raises(AgentError, match="no plan"):
        await agent(database, registry, model, ApproveAll()).resume(
            response.plan.id, admin_of("acme")
        )
    with pytest.raises(AgentError, match="empty request"):
        await agent(database, registry, model, ApproveAll()).process_request("  ", ROOT)


async def test_conversation_history_is_sent_with_the_next_request(
    database: Database, registry: ToolRegistry
) -> None:
    model = ScriptedModel([ScriptedModel.reply("first answer"), ScriptedModel.reply("second")])
    master = agent(database, registry, model, NeverAsk())
    first = await master.process_request("one", ROOT)
    await master.process_request("two", ROOT, conversation_id=first.conversation_id)
    sent = [(m.role, m.content) for m in model.requests[1].messages[1:]]
    assert sent == [("user", "one"), ("assistant", "first answer"), ("user", "two")]
    assert isinstance(model.requests[1].messages[0], Message)


def test_the_wall_time_and_token_budgets_name_what_ran_out() -> None:
    from masterai.agent.budget import Budget
    from masterai.llm import Usage

    now = [0.0]
    budget = Budget(AgentSettings(max_seconds=5, max_tokens=100), clock=lambda: now[0])
    assert budget.exhausted() is None
    now[0] = 5.5
    assert budget.exhausted() == "time budget reached (5.5s of max_seconds=5.0)"
    now[0] = 0
    budget.charge(ModelResponse(usage=Usage(input_tokens=90, output_tokens=10)))
    assert budget.exhausted() == "token budget reached (100 of max_tokens=100)"


async def test_a_step_edited_at_its_own_prompt_runs_edited_and_both_decisions_are_kept(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    model = ScriptedModel(
        [plan_call(step("add", company_id="acme", text="draft")), ScriptedModel.reply("done")]
    )
    approver = Recorder(
        plans=[PlanDecision.step_by_step()],
        steps=[StepDecision(kind="edit", arguments={"company_id": "acme", "text": "final"})],
    )
    response = await agent(database, registry, model, approver).process_request("add", ROOT)
    assert notes.notes == {"acme": ["final"]}
    assert response.plan is not None
    approvals = AgentRepository(database).approvals(response.plan.id)
    assert [(a.decision, a.step_position, a.arguments) for a in approvals] == [
        ("step_by_step", None, None),
        ("edit", 1, {"company_id": "acme", "text": "final"}),
        ("approve", 1, None),
    ]


async def test_a_plan_longer_than_the_step_budget_goes_back_to_the_model(
    database: Database, registry: ToolRegistry, notes: NotesTool
) -> None:
    long_plan = plan_call(*(step("list", company_id="acme") for _ in range(3)))
    model = ScriptedModel(
        [long_plan, plan_call(step("list", company_id="acme")), ScriptedModel.reply("0 notes")]
    )
    approver = Recorder(plans=[PlanDecision.approve_all()])
    response = await agent(database, registry, model, approver, max_steps=2).process_request(
        "count", ROOT
    )
    assert response.status == "completed"
    assert len(approver.shown) == 1 and len(approver.shown[0]) == 1
    assert "the plan has 3 steps; at most 2 may run" in model.requests[1].messages[-1].content


async def test_a_planned_step_is_validated_once_by_the_planner_and_once_when_it_runs(
    database: Database,
) -> None:
    from masterai.agent.planner import Catalog, check_step

    class CountingNotes(NotesTool):
        type_check_arguments = True
        validations = 0

        def check_operation_arguments(self, operation: Any, arguments: dict[str, Any]) -> None:
            type(self).validations += 1

    registry = ToolRegistry(database)
    registry.register(CountingNotes())
    catalog = Catalog.build(registry, ROOT)
    planned = PlanStep(
        position=1, tool="notes", operation="list", arguments={"company_id": "a"}, purpose=""
    )
    assert check_step(catalog, ROOT, planned) is None
    assert CountingNotes.validations == 1
    assert planned.read_only and not planned.calls_model
    result = await registry.execute_tool("notes", planned.params(), ROOT)
    assert result.ok
    assert CountingNotes.validations == 2
    wrong = PlanStep(
        position=2, tool="notes", operation="list", arguments={"company_id": 7}, purpose=""
    )
    assert check_step(catalog, ROOT, wrong) == (
        "step 2 (notes.list): invalid arguments: 'company_id' must be a string"
    )
