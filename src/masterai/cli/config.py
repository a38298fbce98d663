"""``masterai config show|history|diff|set-prompt|rollback``: versioned AI configurations.

Every command is one call of the ``configuration`` tool through the registry (permission
check, validation, approval, audit record), as the local super admin or ``--as USER``.
A change (``set-prompt``, ``rollback``) is approved on its exact diff: the registry's approval
step shows it on a terminal and asks, or ``--yes`` approves it; ``--dry-run`` only prints it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from masterai.cli.common import console, fail, read_text
from masterai.cli.context import AsOption, JsonOption, YesOption, call, call_given, show, structured

config_app = typer.Typer(
    help="Show and change companies' versioned AI configurations.", no_args_is_help=True
)

Company = Annotated[str, typer.Argument(help="Company id, e.g. acme-retail.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show the diff; change nothing.")]
Note = Annotated[str | None, typer.Option("--note", help="Why (stored with the version).")]

_SHOWN = (
    "version",
    "is_active",
    "provider",
    "model",
    "temperature",
    "max_tokens",
    "settings",
    "author",
    "change_note",
    "created_at",
    "source_version",
)


def register(app: typer.Typer) -> None:
    """Add the ``config`` command group to ``app``."""
    app.add_typer(config_app, name="config")


@config_app.command("show")
def show_config(
    company: Company,
    version: Annotated[
        int | None, typer.Option(help="A version (default: the active one).")
    ] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a company's active configuration (or one version)."""
    params = {"operation": "get_configuration", "company_id": company, "version": version}
    result = call_given("configuration", params, as_user=as_user)
    if as_json:
        show(result, as_json=True)
        return
    config = structured(result)
    table = Table(show_header=False)
    for key in _SHOWN:
        value = config.get(key)
        if key == "created_at" and isinstance(value, str):
            value = datetime.fromisoformat(value)  # shown as before: 2024-06-30 12:00:00+00:00
        table.add_row(key, str(value))
    console.print(table)
    console.print("[bold]system prompt[/]")
    console.print(config.get("system_prompt") or "", markup=False, highlight=False)


@config_app.command("history")
def history(
    company: Company,
    limit: Annotated[int, typer.Option(help="Most versions.")] = 20,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """List a company's configuration versions, newest first."""
    params = {"operation": "list_versions", "company_id": company, "limit": limit}
    result = call("configuration", params, as_user=as_user)
    if as_json:
        show(result, as_json=True)
        return
    table = Table("version", "active", "created (UTC)", "author", "model", "note")
    for v in structured(result):
        table.add_row(
            str(v["version"]),
            "*" if v["is_active"] else "",
            f"{datetime.fromisoformat(v['created_at']):%Y-%m-%d %H:%M}",
            v["author"] or "",
            v["model"] or "",
            v["change_note"] or "",
        )
    console.print(table)


@config_app.command("diff")
def diff(
    company: Company,
    from_version: Annotated[int, typer.Argument(help="Older version.")],
    to_version: Annotated[int, typer.Argument(help="Newer version.")],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what changed between two versions."""
    params = {
        "operation": "diff_versions",
        "company_id": company,
        "from_version": from_version,
        "to_version": to_version,
    }
    show(call("configuration", params, as_user=as_user), as_json)


def _change(params: dict[str, Any], *, as_user: str | None, yes: bool, as_json: bool) -> None:
    """Run a configuration change through the registry and print what it did.

    The approval step shows the diff when it asks on a terminal; a dry run (no approval) and
    a change approved by ``--yes`` print the diff with the result instead.
    """
    result = call_given("configuration", params, as_user=as_user, yes=yes)
    if as_json:
        show(result, as_json=True)
        return
    data = result.data if isinstance(result.data, dict) else {}
    summary = str(data.get("summary", result.content))
    asked = not (params.get("dry_run") or yes)
    console.print(
        summary.splitlines()[0] if asked else summary,
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


@config_app.command("set-prompt")
def set_prompt(
    company: Company,
    prompt: Annotated[str | None, typer.Option(help="The new system prompt.")] = None,
    file: Annotated[Path | None, typer.Option(help="Read the prompt from this file.")] = None,
    note: Note = None,
    dry_run: DryRun = False,
    yes: YesOption = False,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set a company's system prompt (a new version), after showing the diff."""
    if (prompt is None) == (file is None):
        fail("give exactly one of --prompt TEXT or --file PATH", exit_code=2)
    if file is not None:
        prompt = read_text(file, "prompt file", exit_code=2)
    params = {
        "operation": "update_prompt",
        "company_id": company,
        "prompt": prompt,
        "dry_run": dry_run,
        "change_note": note,
    }
    _change(params, as_user=as_user, yes=yes, as_json=as_json)


@config_app.command("rollback")
def rollback(
    company: Company,
    version: Annotated[int, typer.Argument(help="Version to restore.")],
    note: Note = None,
    dry_run: DryRun = False,
    yes: YesOption = False,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make an earlier version active again (as a new version), after showing the diff."""
    params = {
        "operation": "rollback",
        "company_id": company,
        "version": version,
        "dry_run": dry_run,
        "change_note": note,
    }
    _change(params, as_user=as_user, yes=yes, as_json=as_json)
