"""``masterai analytics summary|failures|patterns|satisfaction|costs|forecast|refresh``.

Each command is one call of the ``analytics`` tool through the registry (permission check,
validation, audit record), as the local super admin or ``--as USER``, and prints the
readable summary (or ``--json``: the structured result).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from masterai.cli.common import console
from masterai.cli.context import AsOption, JsonOption, call, show

if TYPE_CHECKING:
    from masterai.registry import ToolResult

analytics_app = typer.Typer(
    help="Analyse conversations: metrics, failures, patterns, satisfaction, costs, forecasts.",
    no_args_is_help=True,
)

CompanyOpt = Annotated[
    list[str] | None,
    typer.Option("--company", "-c", help="Company id (repeat for several; default all)."),
]
StartOpt = Annotated[str | None, typer.Option("--start", help="First day, YYYY-MM-DD (UTC).")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last day, inclusive.")]
DaysOpt = Annotated[int | None, typer.Option("--days", help="The last N days up to today.")]


def register(app: typer.Typer) -> None:
    """Add the ``analytics`` command group to ``app``."""
    app.add_typer(analytics_app, name="analytics")


def scope_params(
    companies: list[str] | None, start: str | None, end: str | None, days: int | None
) -> dict[str, Any]:
    """The scope options as ``analytics`` arguments (only those given)."""
    given = {"company_ids": companies or None, "start_date": start, "end_date": end, "days": days}
    return {k: v for k, v in given.items() if v is not None}


def run_analysis(
    operation: str,
    scope: dict[str, Any],
    as_user: str | None,
    as_json: bool,
    **options: Any,
) -> None:
    """Call one analytics ``operation`` with a spinner; print its summary or JSON."""
    params = {"operation": operation, **scope}
    params.update({k: v for k, v in options.items() if v is not None})
    with console.status("Analysing conversations...", spinner="dots"):
        result = call("analytics", params, as_user=as_user)
    show(result, as_json)


@analytics_app.command("summary")
def summary(
    company: CompanyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    days: DaysOpt = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Volume, response times, resolution/escalation/fallback, satisfaction, cost."""
    run_analysis("analyze_conversations", scope_params(company, start, end, days), as_user, as_json)


@analytics_app.command("failures")
def failures(
    company: CompanyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    days: DaysOpt = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
    slow_ms: Annotated[int | None, typer.Option(help="Slow-answer threshold (ms).")] = None,
) -> None:
    """Escalations, fallbacks, errors, slow answers and low ratings, with examples."""
    run_analysis(
        "identify_failures",
        scope_params(company, start, end, days),
        as_user,
        as_json,
        slow_ms=slow_ms,
    )


@analytics_app.command("patterns")
def patterns(
    company: CompanyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    days: DaysOpt = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Topics, recurring phrases, peak hours and questions that end badly."""
    run_analysis("identify_patterns", scope_params(company, start, end, days), as_user, as_json)


@analytics_app.command("satisfaction")
def satisfaction(
    company: CompanyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    days: DaysOpt = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rating distribution, CSAT and what drives satisfaction."""
    run_analysis("measure_satisfaction", scope_params(company, start, end, days), as_user, as_json)


@analytics_app.command("costs")
def costs(
    company: CompanyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    days: DaysOpt = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
    period: Annotated[str, typer.Option(help="day, week or month.")] = "day",
) -> None:
    """Spend by company, model and period against the price table."""
    run_analysis(
        "analyze_costs", scope_params(company, start, end, days), as_user, as_json, period=period
    )


@analytics_app.command("forecast")
def forecast(
    company: CompanyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    days: DaysOpt = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
    horizon: Annotated[int, typer.Option(help="Days to forecast.")] = 30,
    interval: Annotated[float, typer.Option(help="Prediction interval coverage.")] = 0.95,
) -> None:
    """Forecast daily conversations, tokens and cost with prediction intervals."""
    run_analysis(
        "predict_usage",
        scope_params(company, start, end, days),
        as_user,
        as_json,
        horizon_days=horizon,
        interval=interval,
    )


def refresh_copy(as_user: str | None, *, rebuild: bool = False, check: bool = True) -> ToolResult:
    """``analytics.refresh`` with a spinner: the result (a failed one only if not ``check``)."""
    params: dict[str, Any] = {"operation": "refresh", "rebuild": rebuild}
    with console.status("Updating the analytics copy...", spinner="dots"):
        return call("analytics", params, as_user=as_user, check=check)


@analytics_app.command("refresh")
def refresh(
    rebuild: Annotated[bool, typer.Option(help="Copy everything again.")] = False,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bring the columnar analytics copy in step with the store now."""
    show(refresh_copy(as_user, rebuild=rebuild), as_json)
