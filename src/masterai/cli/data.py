"""``masterai conversations import``, ``masterai demo seed``, ``masterai report generate``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from masterai.cli.common import console, fail, print_json
from masterai.cli.context import load_settings, open_db

if TYPE_CHECKING:
    from masterai.store import Database

conversations_app = typer.Typer(help="Bring conversation data in.", no_args_is_help=True)
demo_app = typer.Typer(help="The synthetic demo data set.", no_args_is_help=True)
report_app = typer.Typer(help="Reports with charts (HTML, Markdown, JSON).", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def register(app: typer.Typer) -> None:
    """Add the ``conversations``, ``demo`` and ``report`` command groups to ``app``."""
    app.add_typer(conversations_app, name="conversations")
    app.add_typer(demo_app, name="demo")
    app.add_typer(report_app, name="report")


def _progress_bar(description: str) -> Progress:

    return Progress(
        TextColumn(description), BarColumn(), MofNCompleteColumn(), console=console, transient=True
    )


def _refresh_analytics(database: Database) -> None:
    """Bring the analytics copy in step now, so the first analysis does not pay for it."""
    from masterai.services.analytics import AnalyticsService

    with console.status("Updating the analytics copy...", spinner="dots"):
        AnalyticsService(database, load_settings()).refresh()


@conversations_app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="A .jsonl or .csv file (see docs/analytics.md).")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: by suffix).")
    ] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Import the good lines, report the bad ones.")
    ] = False,
    create_companies: Annotated[bool, typer.Option(help="Create unknown companies.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Import conversations and messages; bad lines are reported with line numbers."""
    from masterai.services.errors import ServiceError
    from masterai.services.importer import import_conversations

    database = open_db(load_settings())
    with _progress_bar("Importing") as bar:
        task = bar.add_task("import", total=None)
        try:
            report = import_conversations(
                database,
                file,
                fmt=fmt,
                skip_bad=skip_bad,
                create_companies=create_companies,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except ServiceError as e:
            fail(str(e))
    _refresh_analytics(database)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(f"Imported {report.conversations} conversations, {report.messages} messages.")
    for bad in report.skipped:
        console.print(f"skipped line {bad.line}: {bad.message}", markup=False, highlight=False)


@demo_app.command("seed")
def seed(
    companies: Annotated[int, typer.Option(help="Number of companies.")] = 5,
    conversations: Annotated[int, typer.Option(help="Conversations in total.")] = 4000,
    days: Annotated[int, typer.Option(help="Days of history.")] = 90,
    seed_value: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
    end_date: Annotated[str | None, typer.Option(help="Last day (default today, UTC).")] = None,
    replace: Annotated[bool, typer.Option(help="Replace existing demo companies.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a deterministic synthetic data set (same --seed and --end-date: same data)."""
    from masterai.services.demo import seed_demo
    from masterai.services.errors import ServiceError

    end = None
    if end_date is not None:
        try:
            end = date.fromisoformat(end_date)
        except ValueError:
            fail(f"--end-date must be YYYY-MM-DD, got {end_date!r}")
    database = open_db(load_settings())
    with _progress_bar("Seeding") as bar:
        task = bar.add_task("seed", total=conversations)
        try:
            summary = seed_demo(
                database,
                companies=companies,
                conversations=conversations,
                days=days,
                seed=seed_value,
                end_date=end,
                replace=replace,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        except ServiceError as e:
            fail(str(e))
    _refresh_analytics(database)
    if as_json:
        print_json(summary.to_dict())
        return
    console.print(
        f"Seeded {summary.conversations} conversations ({summary.messages} messages) for "
        f"{', '.join(summary.companies)} from {summary.start_date} to {summary.end_date}."
    )


@report_app.command("generate")
def generate(
    report_type: Annotated[str, typer.Argument(help="company_summary, comparison or costs.")],
    company: Annotated[
        list[str] | None, typer.Option("--company", "-c", help="Company id (repeat for several).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option(help="Last day, inclusive.")] = None,
    days: Annotated[int | None, typer.Option(help="The last N days.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="html, markdown or json.")] = "html",
    out: Annotated[
        Path | None, typer.Option(help="Output file (default: the workspace's reports/ folder).")
    ] = None,
) -> None:
    """Write a report with charts and print where it went."""
    from masterai.services.analytics import AnalyticsService
    from masterai.services.analytics.reports import generate_report
    from masterai.services.errors import ServiceError

    settings = load_settings()
    service = AnalyticsService(open_db(settings), settings)
    try:
        scope = service.scope(
            company_ids=company or None, start_date=start, end_date=end, days=days
        )
        with console.status("Building the report...", spinner="dots"):
            report = generate_report(
                service, report_type, scope, fmt_=fmt, workspace=settings.workspace, out=out
            )
    except ServiceError as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot write the report: {e}")
    shown = report.path if out is not None else str(settings.workspace / report.path)
    console.print(f"Wrote {report.title} ({report.bytes:,} bytes) to {shown}", markup=False)
