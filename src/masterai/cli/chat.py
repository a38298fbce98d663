"""``masterai chat`` (interactive, Rich) and ``masterai ask`` (one request, for scripts)."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.prompt import Prompt
from rich.table import Table

from masterai.cli.common import console, fail, print_json

if TYPE_CHECKING:
    from masterai.agent import AgentEvent, AgentResponse, MasterAI, Plan, PlanStep
    from masterai.agent.approval import Approver, Feedback, PlanDecision, StepDecision
    from masterai.registry import ExecutionContext

ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="provider:model[@base_url]; default: MASTERAI_MODEL."),
]
AsOption = Annotated[
    str | None, typer.Option("--as", help="Act as this user (default: the local super admin).")
]
CompanyOption = Annotated[
    str | None, typer.Option("--company", help="Company scope of the conversation.")
]

EXIT_NOT_DONE = 2
"""``ask`` exit status when the plan was rejected, failed, stopped or ran out of budget."""


def register(app: typer.Typer) -> None:
    """Add ``chat`` and ``ask`` to ``app``."""
    app.command("chat")(chat)
    app.command("ask")(ask)


# --- wiring -------------------------------------------------------------------------


def _agent(
    model_spec: str | None,
    as_user: str | None,
    company: str | None,
    approver: Approver,
    on_event: Any,
) -> tuple[MasterAI, ExecutionContext]:
    from masterai.cli.context import acting_context, open_platform
    from masterai.llm import LLMConfigurationError, build_model

    current = open_platform()
    try:
        # --model on the command line is the operator's own choice, like MASTERAI_MODEL.
        model = build_model(current.settings, model_spec, operator_chosen=True)
    except LLMConfigurationError as error:
        fail(str(error))
    # Plan approval is the agent's (the Approver); the registry's approval step is answered
    # by the agent for the steps the user approved.
    context = acting_context(as_user, company=company)
    return current.agent(model=model, approver=approver, on_event=on_event), context


# --- rendering ----------------------------------------------------------------------


def plan_table(plan: Plan) -> Table:
    """The plan as a Rich table: one row per step."""
    # Everything here comes from the model: escape it so it cannot inject Rich markup.
    title = escape(f"Plan (revision {plan.revision}): {plan.summary}")
    table = Table(title=title, title_justify="left")
    for column in ("#", "operation", "arguments", "purpose", "kind"):
        table.add_column(column, overflow="fold")
    for step in plan.steps:
        kind = "read-only" if step.read_only else "[bold yellow]changes data[/]"
        if step.calls_model:
            kind += ", [bold yellow]calls a model (costs money)[/]"
        if step.needs_feedback:
            kind += ", asks feedback"
        cells = (step.label, json.dumps(step.arguments), step.purpose)
        table.add_row(str(step.position), *(escape(c) for c in cells), kind)
    return table


class Renderer:
    """Prints the streamed answer and the progress of a turn."""

    def __init__(self) -> None:
        self.streaming = False
        self.streamed: list[str] = []
        """Text streamed since the last :meth:`take_streamed`."""

    def take_streamed(self) -> str:
        """The text streamed so far in this turn (and forget it)."""
        text, self.streamed = "".join(self.streamed), []
        return text

    def __call__(self, event: AgentEvent) -> None:
        """Render one agent event."""
        if event.kind == "text":
            console.print(event.text, end="", markup=False, highlight=False, soft_wrap=True)
            self.streamed.append(event.text)
            self.streaming = True
            return
        if self.streaming:
            console.print()
            self.streaming = False
        if event.kind == "plan" and event.plan is not None:
            console.print(plan_table(event.plan))
        elif event.kind == "step_started" and event.step is not None:
            console.print(f"[dim]running \\[{event.step.position}] {event.step.label} ...[/]")
        elif event.kind == "step_finished" and event.step is not None:
            console.print(_step_line(event.step))
        elif event.kind == "notice":
            console.print(f"[yellow]{escape(event.text)}[/]", highlight=False)


def _step_line(step: PlanStep) -> str:
    result = step.result
    if result is None:
        return f"[{step.position}] {step.label}: {step.status}"
    if result.ok:
        preview = result.content if len(result.content) < 200 else result.content[:200] + "..."
        return (
            f"[green]✓[/] [{step.position}] {step.label} ({result.duration_ms:.0f} ms): {preview}"
        )
    return f"[red]✗[/] [{step.position}] {step.label}: {result.error}"


def summary_line(response: AgentResponse) -> str:
    """Status, steps, tokens and cost of a turn."""
    steps = sum(1 for p in response.plans for s in p.steps if s.result is not None)
    plan = f" · plan {response.plan.id}" if response.plan is not None else ""
    return (
        f"[dim]{response.status} · {steps} step(s) run · "
        f"{response.usage.input_tokens}+{response.usage.output_tokens} tokens · "
        f"${response.cost_usd:.4f}{plan}[/]"
    )


# --- approvers ----------------------------------------------------------------------


def _ask_json_object(prompt: str) -> dict[str, Any] | None:
    text = Prompt.ask(prompt, console=console)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        console.print(f"[red]not JSON ({error.msg}): {text!r}[/]")
        return None
    if not isinstance(value, dict):
        console.print(f"[red]arguments must be a JSON object, got {text!r}[/]")
        return None
    return value


class PromptApprover:
    """Asks the person at the terminal (the plan table is printed by :class:`Renderer`)."""

    async def review_plan(self, plan: Plan) -> PlanDecision:
        """Approve all, step by step, edit arguments, or reject."""
        from masterai.agent import PlanDecision

        edits: dict[int, dict[str, Any]] = {}
        positions = [str(s.position) for s in plan.steps]
        while True:
            choice = Prompt.ask(
                escape("Approve? [a]ll / [s]tep by step / [e]dit arguments / [r]eject"),
                choices=["a", "s", "e", "r"],
                default="r",
                console=console,
            )
            if choice == "a":
                return PlanDecision.approve_all(edits)
            if choice == "s":
                return PlanDecision(kind="step_by_step", edits=edits)
            if choice == "r":
                return PlanDecision.reject("rejected at the prompt")
            position = int(Prompt.ask("Step", choices=positions, console=console))
            arguments = _ask_json_object(f"New arguments for step {position} (JSON object)")
            if arguments is not None:
                edits[position] = arguments

    async def review_step(self, plan: Plan, step: PlanStep) -> StepDecision:
        """Run, skip, edit or stop before one step."""
        from masterai.agent import StepDecision

        console.print(escape(f"Next: [{step.position}] {step.label} {json.dumps(step.arguments)}"))
        while True:
            choice = Prompt.ask(
                escape("[y]es / [s]kip / [e]dit / [n]o, stop"),
                choices=["y", "s", "e", "n"],
                default="n",
                console=console,
            )
            if choice != "e":
                kind = {"y": "approve", "s": "skip", "n": "reject"}[choice]
                return StepDecision(kind=kind)  # type: ignore[arg-type]
            arguments = _ask_json_object("New arguments (JSON object)")
            if arguments is not None:
                return StepDecision(kind="edit", arguments=arguments)

    async def feedback(self, plan: Plan, step: PlanStep) -> Feedback:
        """Continue or stop after a step that asked for feedback, with an optional note."""
        from masterai.agent import Feedback

        proceed = Prompt.ask("Continue?", choices=["y", "n"], default="y", console=console)
        note = Prompt.ask("Note for Master AI (optional)", default="", console=console)
        return Feedback(proceed=proceed == "y", note=note or None)


class NoApprover:
    """``ask`` without ``--yes-read-only``: rejects every plan, saying how to allow it."""

    async def review_plan(self, plan: Plan) -> PlanDecision:
        """Reject with the fix."""
        from masterai.agent import PlanDecision

        return PlanDecision.reject(
            "no approval given: pass --yes-read-only to run read-only plans, "
            "or use `masterai chat` to approve plans that change data"
        )

    async def review_step(self, plan: Plan, step: PlanStep) -> StepDecision:
        """Reject."""
        from masterai.agent import StepDecision

        return StepDecision(kind="reject")

    async def feedback(self, plan: Plan, step: PlanStep) -> Feedback:
        """Carry on."""
        from masterai.agent import Feedback

        return Feedback()


# --- commands -----------------------------------------------------------------------


def _show(response: AgentResponse, renderer: Renderer) -> None:
    """The answer, unless it was already streamed, then the summary line."""
    if response.text.strip() not in renderer.take_streamed():
        console.print(response.text, markup=False, highlight=False)
    else:
        console.print()
    console.print(summary_line(response))


async def _chat_loop(
    agent: MasterAI, context: ExecutionContext, resume: str | None, renderer: Renderer
) -> None:
    from masterai.agent import AgentError
    from masterai.llm import LLMError

    conversation: str | None = None
    if resume is not None:
        try:
            response = await agent.resume(resume, context)
        except AgentError as error:
            fail(str(error))
        _show(response, renderer)
        conversation = response.conversation_id
    while True:
        try:
            message = Prompt.ask("[bold cyan]you[/]", console=console)
        except EOFError:
            break
        if message.strip() in ("exit", "quit", "/exit", "/quit"):
            break
        if not message.strip():
            continue
        try:
            response = await agent.process_request(message, context, conversation_id=conversation)
        except LLMError as error:
            console.print(f"[red]error: {escape(str(error))}[/]", highlight=False)
            continue
        except (EOFError, KeyboardInterrupt):
            # Input ended mid-approval: the plan is stored and can be resumed.
            pending = agent.repository.resumable(context.principal.name)
            hint = f"; resume with `masterai chat --resume {pending[0]}`" if pending else ""
            console.print(f"\n[yellow]interrupted{hint}[/]", soft_wrap=True)
            break
        conversation = response.conversation_id
        _show(response, renderer)
    await agent.model.aclose()


def chat(
    model: ModelOption = None,
    as_user: AsOption = None,
    company: CompanyOption = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Resume an interrupted plan by id first.")
    ] = None,
) -> None:
    """Talk to Master AI: streamed answers, plans to approve, progress, cost per turn."""
    renderer = Renderer()
    agent, context = _agent(model, as_user, company, PromptApprover(), renderer)
    console.print(
        f"[dim]Master AI · {agent.model.name} · as {context.principal.name} · type exit to leave[/]"
    )
    if resume is None:
        interrupted = agent.repository.resumable(context.principal.name)
        if interrupted:
            console.print(
                f"[yellow]{len(interrupted)} interrupted plan(s); resume the latest with "
                f"`masterai chat --resume {interrupted[0]}`[/]",
                soft_wrap=True,
            )
    asyncio.run(_chat_loop(agent, context, resume, renderer))


def ask(
    message: Annotated[str, typer.Argument(help="The request.")],
    model: ModelOption = None,
    as_user: AsOption = None,
    company: CompanyOption = None,
    yes_read_only: Annotated[
        bool,
        typer.Option(
            "--yes-read-only",
            help="Approve plans whose steps change nothing and call no model.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the whole result as JSON.")
    ] = False,
) -> None:
    """One request, no prompts: plans run only with --yes-read-only, if read-only and model-free.

    Exit status 0 when answered or completed, 2 when the plan was rejected, failed, stopped
    or ran out of budget, 1 on errors.
    """
    from masterai.agent import AgentError, ReadOnlyApprover
    from masterai.llm import LLMError

    approver: Approver = ReadOnlyApprover() if yes_read_only else NoApprover()
    agent, context = _agent(model, as_user, company, approver, None)

    async def run() -> AgentResponse:
        try:
            return await agent.process_request(message, context)
        finally:
            await agent.model.aclose()

    try:
        response = asyncio.run(run())
    except (AgentError, LLMError) as error:
        fail(str(error))
    if as_json:
        print_json(response.to_dict())
    else:
        console.print(response.text, markup=False, highlight=False)
        console.print(summary_line(response))
    if response.status not in ("answered", "completed"):
        raise typer.Exit(EXIT_NOT_DONE)
