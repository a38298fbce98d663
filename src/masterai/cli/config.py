"""``masterai config show|history|diff|set-prompt|rollback``: versioned AI configurations.

Reads go to the configuration service. Changes go through the tool registry (so they are
permission-checked and audited like any tool call): the exact diff is shown and must be
confirmed (or ``--yes``); ``--dry-run`` only shows it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from masterai.cli.common import console, fail, print_json
from masterai.cli.context import acting_principal, load_settings, open_db

if TYPE_CHECKING:
    from masterai.services.configs import ConfigurationService

config_app = typer.Typer(
    help="Show and change companies' versioned AI configurations.", no_args_is_help=True
)

Company = Annotated[str, typer.Argument(help="Company id, e.g. acme-retail.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AsOption = Annotated[str | None, typer.Option("--as", help="Act as this user.")]
YesOption = Annotated[bool, typer.Option("--yes", help="Apply without asking.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Show the diff; change nothing.")]
Note = Annotated[str | None, typer.Option("--note", help="Why (stored with the version).")]


def register(app: typer.Typer) -> None:
    """Add the ``config`` command group to ``app``."""
    app.add_typer(config_app, name="config")


def _service() -> ConfigurationService:
    from masterai.services.configs import ConfigurationService

    return ConfigurationService(open_db(load_settings()))


def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    from masterai.services.errors import ServiceError

    try:
        return function(*args, **kwargs)
    except ServiceError as e:
        fail(str(e))


@config_app.command("show")
def show(
    company: Company,
    version: Annotated[
        int | None, typer.Option(help="A version (default: the active one).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a company's active configuration (or one version)."""
    config = _call(_service().get_configuration, company, version)
    if as_json:
        print_json(config.to_dict())
        return
    table = Table(show_header=False)
    for key in (
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
    ):
        table.add_row(key, str(getattr(config, key)))
    console.print(table)
    console.print("[bold]system prompt[/]")
    console.print(config.system_prompt or "", markup=False, highlight=False)


@config_app.command("history")
def history(
    company: Company,
    limit: Annotated[int, typer.Option(help="Most versions.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List a company's configuration versions, newest first."""
    versions = _call(_service().list_versions, company, limit=limit)
    if as_json:
        print_json([v.to_dict() for v in versions])
        return
    table = Table("version", "active", "created (UTC)", "author", "model", "note")
    for v in versions:
        table.add_row(
            str(v.version),
            "*" if v.is_active else "",
            f"{v.created_at:%Y-%m-%d %H:%M}",
            v.author or "",
            v.model or "",
            v.change_note or "",
        )
    console.print(table)


@config_app.command("diff")
def diff(
    company: Company,
    from_version: Annotated[int, typer.Argument(help="Older version.")],
    to_version: Annotated[int, typer.Argument(help="Newer version.")],
) -> None:
    """Show what changed between two versions."""
    change = _call(_service().diff_versions, company, from_version, to_version)
    console.print(change.diff or "no differences", markup=False, highlight=False)


def _apply(arguments: dict[str, Any], *, as_user: str | None, yes: bool) -> None:
    """Run a configuration operation through the registry, asking with the diff."""
    from masterai.registry import ExecutionContext
    from masterai.tools import build_registry

    settings = load_settings()
    database = open_db(settings)
    principal = acting_principal(database, settings, as_user)
    registry = build_registry(settings, database)

    async def approve(
        tool: str, args: dict[str, Any], reason: str, context: str | None, destructive: bool
    ) -> bool:
        console.print(context or reason, markup=False, highlight=False)
        if yes or args.get("dry_run"):
            return True
        return typer.confirm("Apply this change?", default=False)

    context = ExecutionContext(principal=principal, request_authorization=approve)
    result = asyncio.run(registry.execute_tool("configuration", arguments, context))
    if not result.ok:
        fail(result.error or result.status)
    data = result.data or {}
    summary = str(data.get("summary", result.content))
    # A dry run is not shown for approval (it needs none), so its summary carries the diff.
    shown = summary if arguments.get("dry_run") else summary.splitlines()[0]
    console.print(shown, markup=False, highlight=False)


@config_app.command("set-prompt")
def set_prompt(
    company: Company,
    prompt: Annotated[str | None, typer.Option(help="The new system prompt.")] = None,
    file: Annotated[Path | None, typer.Option(help="Read the prompt from this file.")] = None,
    note: Note = None,
    dry_run: DryRun = False,
    yes: YesOption = False,
    as_user: AsOption = None,
) -> None:
    """Set a company's system prompt (a new version), after showing the diff."""
    if (prompt is None) == (file is None):
        fail("give exactly one of --prompt TEXT or --file PATH")
    if file is not None:
        try:
            prompt = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            fail(f"cannot read prompt file {str(file)!r}: {e}")
    args = {
        "operation": "update_prompt",
        "company_id": company,
        "prompt": prompt,
        "dry_run": dry_run,
        "change_note": note,
    }
    _apply({k: v for k, v in args.items() if v is not None}, as_user=as_user, yes=yes)


@config_app.command("rollback")
def rollback(
    company: Company,
    version: Annotated[int, typer.Argument(help="Version to restore.")],
    note: Note = None,
    dry_run: DryRun = False,
    yes: YesOption = False,
    as_user: AsOption = None,
) -> None:
    """Make an earlier version active again (as a new version), after showing the diff."""
    args = {
        "operation": "rollback",
        "company_id": company,
        "version": version,
        "dry_run": dry_run,
        "change_note": note,
    }
    _apply({k: v for k, v in args.items() if v is not None}, as_user=as_user, yes=yes)
