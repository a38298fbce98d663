"""What the model is told: the planning and synthesis instructions, and the plan tool."""

from __future__ import annotations

import json
from collections.abc import Sequence

from masterai.agent.plan import Plan
from masterai.llm import ToolSpec
from masterai.registry import ToolListing

PLAN_TOOL = ToolSpec(
    name="propose_plan",
    description=(
        "Propose an ordered execution plan of tool operations. The user reviews and approves "
        "it before anything runs."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "summary": {"type": "string", "description": "One sentence: what the plan does."},
            "steps": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "tool": {"type": "string"},
                        "operation": {"type": "string"},
                        "arguments": {"type": "object"},
                        "purpose": {"type": "string"},
                        "needs_feedback": {"type": "boolean"},
                    },
                    "required": ["tool", "arguments", "purpose"],
                },
            },
        },
        "required": ["summary", "steps"],
    },
)

PLANNER_INSTRUCTIONS = """\
You are Master AI, the assistant of the super admins of a multi-tenant conversational-AI
platform. You can act through tools, but only through a plan the user approves.

If the request can be answered without tools, answer directly in plain text.
Otherwise call propose_plan once with ordered steps. Each step names a tool and one of its
operations (listed below), the arguments for that operation following the tool's JSON schema
(do not repeat "operation" inside arguments), the purpose of the step in a few words, and
needs_feedback=true when the user should look at the result before the next step runs.
Use only the tools and operations listed. To pass an earlier step's result into an argument,
write {{stepN.content}} (its text) or {{stepN.data.FIELD}} (a field of its JSON result).

Available tools:
"""

SYNTHESIS_INSTRUCTIONS = """\
Write the final answer to the user's request from the executed plan below. Cite the steps you
rely on as [1], [2], ... Say plainly what was changed, and what failed, was skipped or was not
run. Be concise."""


def render_catalog(listings: Sequence[ToolListing]) -> str:
    """The tools and allowed operations a principal may use, as the planner sees them."""
    parts: list[str] = []
    for listing in listings:
        lines = [f"## {listing.name}: {listing.description}"]
        for op in listing.operations:
            kind = "read-only" if op.read_only else "changes data"
            lines.append(f"- {op.name} ({kind}): {op.description}")
        lines.append("Arguments schema: " + json.dumps(listing.schema, separators=(",", ":")))
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _short(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more chars)"


def step_lines(plan: Plan, *, detail: bool = False) -> list[str]:
    """One line per step with its outcome: the citations of the final answer."""
    lines = []
    for step in plan.steps:
        head = f"[{step.position}] {step.label}"
        result = step.result
        if step.status == "succeeded" and result is not None:
            tail = f": ok, {_short(result.content)}" if detail else ": ok"
        elif step.status == "failed" and result is not None:
            tail = f": failed ({result.error})"
        elif step.status == "skipped":
            tail = ": skipped by the user"
        else:
            tail = ": not run"
        lines.append(head + tail)
    return lines


def report(plan: Plan, notes: Sequence[str] = ()) -> str:
    """The executed plan, its results and the user's feedback, for the synthesis call."""
    text = f"Request: {plan.request}\nPlan: {plan.summary}\n" + "\n".join(
        step_lines(plan, detail=True)
    )
    if notes:
        text += "\nUser feedback:\n" + "\n".join(f"- {n}" for n in notes)
    return text
