"""``masterai analytics summary|failures|patterns|satisfaction|costs|forecast``.

Each command prints the readable summary (or ``--json``: the structured result) of one
analytics operation, computed by the analytics service on its columnar copy of the store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from masterai.cli.common import console, fail, print_json
from masterai.cli.context import load_settings, open_db

if TYPE_CHECKING:
    from masterai.services.analytics import AnalyticsService, Scope

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
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the structured result as JSON.")]


def register(app: typer.Typer) -> None:
    """Add the ``analytics`` command group to ``app``."""
    app.add_typer(analytics_app, name="analytics")


def run_analysis(
    companies: list[str] | None,
    start: str | None,
    end: str | None,
    days: int | None,
    as_json: bool,
    compute: Callable[[AnalyticsService, Scope], Any],
) -> None:
    """Build the service and scope, compute with a spinner, print summary or JSON."""
    from masterai.services.analytics import AnalyticsService
    from masterai.services.errors import ServiceError

    settings = load_settings()
    service = AnalyticsService(open_db(settings), settings)
    try:
        scope = service.scope(
            company_ids=companies or None, start_date=start, end_date=end, days=days
        )
        with console.status("Analysing conversations...", spinner="dots"):
            result = compute(service, scope)
    except ServiceError as e:
        fail(str(e))
    if as_json:
        print_json(result.to_dict())
    else:
        console.print(result.summary(), markup=False, highlight=False)


@analytics_app.command("summary")
def summary(
    company: CompanyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    days: DaysOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Volume, response times, resolution/escalation/fallback, satisfaction, cost."""
    run_analysis(company, start, end, days, as_json, lambda s, sc: s.analyze_conversations(sc))


@analytics_app.command("failures")
def failures(
    company: CompanyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    days: DaysOpt = None,
    as_json: JsonOpt = False,
    slow_ms: Annotated[int | None, typer.Option(help="Slow-answer threshold (ms).")] = None,
) -> None:
    """Escalations, fallbacks, errors, slow answers and low ratings, with examples."""
    run_analysis(
        company, start, end, days, as_json, lambda s, sc: s.identify_failures(sc, slow_ms=slow_ms)
    )


@analytics_app.command("patterns")
def patterns(
    company: CompanyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    days: DaysOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Topics, recurring phrases, peak hours and questions that end badly."""
    run_analysis(company, start, end, days, as_json, lambda s, sc: s.identify_patterns(sc))


@analytics_app.command("satisfaction")
def satisfaction(
    company: CompanyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    days: DaysOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rating distribution, CSAT and what drives satisfaction."""
    run_analysis(company, start, end, days, as_json, lambda s, sc: s.measure_satisfaction(sc))


@analytics_app.command("costs")
def costs(
    company: CompanyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    days: DaysOpt = None,
    as_json: JsonOpt = False,
    period: Annotated[str, typer.Option(help="day, week or month.")] = "day",
) -> None:
    """Spend by company, model and period against the price table."""
    run_analysis(
        company, start, end, days, as_json, lambda s, sc: s.analyze_costs(sc, period=period)
    )


@analytics_app.command("forecast")
def forecast(
    company: CompanyOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    days: DaysOpt = None,
    as_json: JsonOpt = False,
    horizon: Annotated[int, typer.Option(help="Days to forecast.")] = 30,
    interval: Annotated[float, typer.Option(help="Prediction interval coverage.")] = 0.95,
) -> None:
    """Forecast daily conversations, tokens and cost with prediction intervals."""
    run_analysis(
        company,
        start,
        end,
        days,
        as_json,
        lambda s, sc: s.predict_usage(sc, horizon_days=horizon, interval=interval),
    )


@analytics_app.command("refresh")
def refresh(
    rebuild: Annotated[bool, typer.Option(help="Copy everything again.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Bring the columnar analytics copy in step with the store now."""
    from masterai.services.analytics import AnalyticsService

    settings = load_settings()
    service = AnalyticsService(open_db(settings), settings)
    with console.status("Updating the analytics copy...", spinner="dots"):
        report = service.refresh(rebuild=rebuild)
    if as_json:
        print_json(report.__dict__)
        return
    console.print(
        f"{'Rebuilt' if report.rebuilt else 'Updated'} the analytics copy: "
        f"{report.messages_added} messages added"
        + (", conversations reloaded." if report.conversations_reloaded else ".")
    )
