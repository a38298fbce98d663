"""``masterai scripts ...`` and ``masterai tests ...``: saved scripts, runs and test suites.

Every command is one call of the ``code`` tool through the registry (permission check,
validation, approval, audit record), as the local super admin or ``--as USER``.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from masterai.cli.common import console, fail, print_json, read_text
from masterai.cli.context import (
    EXIT_FAILED,
    AsOption,
    JsonOption,
    YesOption,
    call_given,
    json_object_option,
    show,
    show_table,
    structured,
    summary_of,
)

scripts_app = typer.Typer(
    help="Save scripts, schedule them (cron, time zone), run them and read their runs.",
    no_args_is_help=True,
)
tests_app = typer.Typer(
    help="Generate a company's test suite and run it against its active configuration.",
    no_args_is_help=True,
)

ScriptArg = Annotated[str, typer.Argument(help="The script's name or id.")]


def register(app: typer.Typer) -> None:
    """Add the ``scripts`` and ``tests`` command groups to ``app``."""
    app.add_typer(scripts_app, name="scripts")
    app.add_typer(tests_app, name="tests")


_code = partial(call_given, "code")
"""One ``code`` call; options not given (``None``) are left out."""


def _json_option(value: str | None, option: str) -> dict[str, Any] | None:
    return None if value is None else json_object_option(value, option)


@scripts_app.command("add")
def add_script(
    name: Annotated[str, typer.Argument(help="A name for the script.")],
    language: Annotated[
        str, typer.Option("--language", help="python, javascript, ..., or 'tool'.")
    ],
    code: Annotated[str | None, typer.Option("--code", help="The program text.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="Read the program from here.")] = None,
    schedule: Annotated[
        str | None, typer.Option("--schedule", help="Cron expression, e.g. '0 2 * * *'.")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="IANA zone of the schedule (default UTC).")
    ] = None,
    parameters: Annotated[
        str | None, typer.Option("--parameters", help="JSON Schema of the run parameters.")
    ] = None,
    company: Annotated[
        str | None, typer.Option("--company", help="The company the script is about.")
    ] = None,
    description: Annotated[str | None, typer.Option("--description", help="What it does.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds per run.")] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Save a script (optionally on a schedule); you are its owner."""
    if (code is None) == (file is None):
        fail("give the program with exactly one of --code TEXT or --file PATH")
    if file is not None:
        code = read_text(file, "--file")
    params = {
        "operation": "create_script",
        "name": name,
        "language": language,
        "code": code,
        "schedule": schedule,
        "timezone": timezone,
        "parameters": _json_option(parameters, "--parameters"),
        "company_id": company,
        "description": description,
        "timeout": timeout,
    }
    show(_code(params, as_user=as_user), as_json)


@scripts_app.command("list")
def list_scripts(as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """List the scripts you may see, with their schedules and last runs."""
    result = _code({"operation": "list_scripts"}, as_user=as_user)
    columns = ("id", "name", "version", "language", "schedule", "enabled", "last run")
    show_table(result, as_json, columns, _script_row)


def _script_row(s: dict[str, Any]) -> tuple[str, ...]:
    sched, last = s["schedule"], s["last_run"]
    return (
        str(s["id"]),
        s["name"],
        str(s["version"]),
        s["language"],
        f"{sched['cron']} {sched['timezone']}" if sched else "",
        "yes" if s["enabled"] else "no",
        f"{last['id']} {last['status']}" if last else "",
    )


@scripts_app.command("show")
def show_script(script: ScriptArg, as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """Show a script: code, schedule (next run) and versions."""
    result = _code({"operation": "get_script", "script": script}, as_user=as_user)
    if as_json:
        show(result, True)
        return
    data = structured(result)
    console.print(summary_of(result), markup=False, highlight=False)
    console.print(data["code"], markup=False, highlight=False)


@scripts_app.command("run")
def run_script(
    script: ScriptArg,
    params: Annotated[
        str | None, typer.Option("--params", help="Run parameters as a JSON object.")
    ] = None,
    version: Annotated[int | None, typer.Option("--version", help="Run this version.")] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a script now and print its run record (exit status 1 if the run failed)."""
    args = {
        "operation": "run_script",
        "script": script,
        "params": _json_option(params, "--params"),
        "version": version,
    }
    result = _code(args, as_user=as_user)
    run = structured(result)
    if as_json:
        print_json(run)
    else:
        console.print(summary_of(result), markup=False, highlight=False)
        if run.get("stdout"):
            console.print(run["stdout"], markup=False, highlight=False, end="")
    if run.get("status") != "succeeded":
        raise typer.Exit(EXIT_FAILED)


@scripts_app.command("runs")
def list_runs(
    script: Annotated[str | None, typer.Argument(help="Only this script's runs.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most runs shown.")] = 20,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the newest runs (of one script)."""
    result = _code({"operation": "list_runs", "script": script, "limit": limit}, as_user=as_user)
    columns = ("run", "script", "v", "trigger", "status", "exit", "started", "attempts")
    show_table(result, as_json, columns, _run_row)


def _run_row(r: dict[str, Any]) -> tuple[str, ...]:
    return (
        str(r["id"]),
        r["script"],
        str(r["version"]),
        r["trigger"],
        r["status"],
        "" if r["exit_code"] is None else str(r["exit_code"]),
        r["started_at"] or "",
        str(len(r["attempts"])),
    )


@scripts_app.command("enable")
def enable_script(script: ScriptArg, as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """Enable a script and its schedule."""
    show(
        _code({"operation": "enable_script", "script": script}, as_user=as_user),
        as_json,
    )


@scripts_app.command("disable")
def disable_script(
    script: ScriptArg, as_user: AsOption = None, as_json: JsonOption = False
) -> None:
    """Disable a script: it neither runs nor fires its schedule."""
    show(
        _code({"operation": "disable_script", "script": script}, as_user=as_user),
        as_json,
    )


@scripts_app.command("remove")
def remove_script(
    script: ScriptArg, as_user: AsOption = None, yes: YesOption = False, as_json: JsonOption = False
) -> None:
    """Delete a script with its versions, schedule and runs (asks first)."""
    params = {"operation": "delete_script", "script": script}
    show(_code(params, as_user=as_user, yes=yes), as_json)


Company = Annotated[str, typer.Argument(help="The company id.")]


@tests_app.command("generate")
def generate_tests(
    company: Company,
    count: Annotated[int | None, typer.Option("--count", help="Most cases (default 20).")] = None,
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="configuration, conversations or model (repeatable)."),
    ] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Generate the company's next test-suite version."""
    params = {
        "operation": "generate_test_cases",
        "company_id": company,
        "count": count,
        "sources": source or None,
    }
    show(_code(params, as_user=as_user), as_json)


@tests_app.command("run")
def run_tests(
    company: Company,
    suite: Annotated[int | None, typer.Option("--suite", help="Suite version.")] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the company's suite on its active configuration (exit status 1 on failures)."""
    params = {"operation": "run_integration_tests", "company_id": company, "suite": suite}
    result = _code(params, as_user=as_user)
    show(result, as_json)
    if structured(result).get("failed"):
        raise typer.Exit(EXIT_FAILED)
