"""The seed's four use cases as MCP prompts (``prompts/list``, ``prompts/get``).

A prompt is a ready-made request the person picks in their MCP client; the model then does
the work with the tools the caller is offered. Prompts read and change nothing themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mcp.types as types


@dataclass(frozen=True, kw_only=True)
class PromptArgument:
    """One argument of a prompt."""

    name: str
    description: str
    required: bool = False
    default: str | None = None


@dataclass(frozen=True, kw_only=True)
class UseCase:
    """One prompt: its arguments and the request it renders."""

    name: str
    title: str
    description: str
    arguments: tuple[PromptArgument, ...]
    render: Callable[[dict[str, str]], str]


def _optimize(args: dict[str, str]) -> str:
    return (
        f"Analyse the last {args['days']} days of conversations of company "
        f"{args['company_id']!r} and optimise its AI configuration:\n"
        "1. analyse the conversations (analytics_analyze_conversations) and find the "
        "failure patterns (analytics_identify_failures, analytics_identify_patterns);\n"
        "2. identify what to improve (slow responses, low satisfaction, escalations);\n"
        "3. test candidate changes against the current configuration "
        "(configuration_test_configuration, configuration_optimize_prompt);\n"
        "4. apply the best configuration (configuration_update_prompt or "
        "configuration_update_configuration: I will approve the change after seeing its "
        "diff). Report what you changed and the measured difference."
    )


def _report(args: dict[str, str]) -> str:
    scope = args.get("company_ids") or "all companies I may read"
    return (
        f"Create a {args['period']}ly report comparing our AI performance across {scope}: "
        "performance metrics per company, cost analysis (analytics_analyze_costs), user "
        "satisfaction trends (analytics_measure_satisfaction) and recommendations. Generate "
        "it with analytics_generate_report and tell me where it was written."
    )


def _nightly(args: dict[str, str]) -> str:
    alert = args.get("alert_email")
    return (
        f"Create a test suite that runs every night to ensure the AI quality of company "
        f"{args['company_id']!r}: generate test cases from its configuration, schedule a "
        f"script with the cron expression {args['schedule']!r} that runs "
        "configuration_test_configuration with them, and alert on failure"
        + (f" by e-mail to {alert}" if alert else "")
        + ". Show me the test cases and the schedule before creating anything."
    )


def _competitors(args: dict[str, str]) -> str:
    names = ", ".join(n.strip() for n in args["competitors"].split(",") if n.strip())
    scope = args.get("company_ids") or "every company I may read"
    return (
        f"I need a tool that checks whether our AI ever mentions competitor names ({names}) "
        f"in conversations of {scope}: define the list, create the logic as a custom tool, "
        "run it over the stored conversations and set up monitoring so new mentions raise an "
        "alert. Show me the tool's code and a test run before activating it."
    )


USE_CASES: tuple[UseCase, ...] = (
    UseCase(
        name="optimize_configuration",
        title="Optimise a company's AI configuration",
        description="Analyse recent conversations, test improvements and apply the best "
        "configuration (seed use case 1).",
        arguments=(
            PromptArgument(name="company_id", description="The company", required=True),
            PromptArgument(name="days", description="Days of conversations", default="7"),
        ),
        render=_optimize,
    ),
    UseCase(
        name="comparison_report",
        title="Compare AI performance across companies",
        description="A report of performance, costs, satisfaction and recommendations per "
        "company (seed use case 2).",
        arguments=(
            PromptArgument(name="period", description="week or month", default="month"),
            PromptArgument(name="company_ids", description="Companies (comma-separated)"),
        ),
        render=_report,
    ),
    UseCase(
        name="nightly_test_suite",
        title="Nightly AI quality tests",
        description="Generate test cases, schedule them every night and alert on failure "
        "(seed use case 3).",
        arguments=(
            PromptArgument(name="company_id", description="The company", required=True),
            PromptArgument(name="schedule", description="Cron expression", default="0 2 * * *"),
            PromptArgument(name="alert_email", description="Who is alerted on failure"),
        ),
        render=_nightly,
    ),
    UseCase(
        name="competitor_monitor",
        title="Monitor competitor mentions",
        description="A custom tool that finds competitor names in the AI's answers, with "
        "monitoring (seed use case 4).",
        arguments=(
            PromptArgument(
                name="competitors", description="Competitor names (comma-separated)", required=True
            ),
            PromptArgument(name="company_ids", description="Companies (comma-separated)"),
        ),
        render=_competitors,
    ),
)


class PromptError(ValueError):
    """An unknown prompt or missing or unknown arguments."""


def list_prompts() -> list[types.Prompt]:
    """The prompts, as ``prompts/list`` shows them."""
    return [
        types.Prompt(
            name=case.name,
            title=case.title,
            description=case.description,
            arguments=[
                types.PromptArgument(
                    name=a.name,
                    description=a.description
                    + (f" (default {a.default!r})" if a.default is not None else ""),
                    required=a.required,
                )
                for a in case.arguments
            ],
        )
        for case in USE_CASES
    ]


def get_prompt(name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
    """The rendered prompt ``name``.

    Raises:
        PromptError: no such prompt, a required argument missing or blank, an unknown one.
    """
    case = next((c for c in USE_CASES if c.name == name), None)
    if case is None:
        known = ", ".join(c.name for c in USE_CASES)
        raise PromptError(f"Unknown prompt {name!r}. Prompts: {known}")
    given = dict(arguments or {})
    names = {a.name for a in case.arguments}
    unknown = sorted(set(given) - names)
    if unknown:
        raise PromptError(
            f"Prompt {name!r} takes no argument {unknown[0]!r}; "
            f"it takes: {', '.join(sorted(names))}"
        )
    values: dict[str, str] = {}
    for argument in case.arguments:
        value = (given.get(argument.name) or "").strip()
        if not value and argument.required:
            raise PromptError(f"Prompt {name!r} needs the argument {argument.name!r}")
        if value:
            values[argument.name] = value
        elif argument.default is not None:
            values[argument.name] = argument.default
    return types.GetPromptResult(
        description=case.description,
        messages=[
            types.PromptMessage(
                role="user", content=types.TextContent(type="text", text=case.render(values))
            )
        ],
    )
