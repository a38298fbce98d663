"""``masterai tool ...``: list and run registered tools through the audited registry."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from masterai.cli.common import console, fail, print_json
from masterai.cli.context import (
    acting_principal,
    cli_client_address,
    load_settings,
    open_db,
    parse_json_object,
    require_company,
)

if TYPE_CHECKING:
    from masterai.registry import ToolRegistry
    from masterai.security import Principal

tool_app = typer.Typer(help="List and run the registered tools.", no_args_is_help=True)

AsOption = Annotated[
    str | None,
    typer.Option("--as", help="Act as this user (default: the local super admin)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    """Add the ``tool`` command group to ``app``."""
    app.add_typer(tool_app, name="tool")


def _registry(as_user: str | None, company: str | None = None) -> tuple[ToolRegistry, Principal]:
    from masterai.tools import build_registry

    settings = load_settings()
    database = open_db(settings)
    principal = acting_principal(database, settings, as_user)
    if company is not None:
        require_company(database, company)
    return build_registry(settings, database), principal


@tool_app.command("list")
def list_tools(as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """List the tools and operations the acting user may call."""
    registry, principal = _registry(as_user)
    listings = registry.list_tools(principal)
    if as_json:
        print_json(
            [
                {
                    "name": t.name,
                    "category": t.category,
                    "description": t.description,
                    "operations": [o.__dict__ for o in t.operations],
                    "schema": t.schema,
                }
                for t in listings
            ]
        )
        return
    table = Table(
        "tool", "category", "operations", "description", title=f"Tools for {principal.name}"
    )
    for t in listings:
        ops = ", ".join(o.name + ("*" if o.destructive else "") for o in t.operations)
        table.add_row(escape(t.name), escape(t.category), ops or "-", escape(t.description))
    console.print(table)
    console.print("* destructive: needs --yes with `masterai tool run`")


async def _approve(
    tool_name: str, arguments: dict[str, Any], reason: str, context: str | None, destructive: bool
) -> bool:
    return True


@tool_app.command("run")
def run_tool(
    name: Annotated[str, typer.Argument(help="Tool name (see `masterai tool list`).")],
    args: Annotated[str, typer.Option("--args", help="Arguments as a JSON object.")] = "{}",
    as_user: AsOption = None,
    company: Annotated[str | None, typer.Option(help="Company scope of the call.")] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Approve destructive operations (else they are denied).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run one tool call (permission check, validation, limits, audit) and print the result."""
    from masterai.registry import ExecutionContext

    params = parse_json_object(args, "--args")
    registry, principal = _registry(as_user, company)
    context = ExecutionContext(
        principal=principal,
        company_id=company,
        client_address=cli_client_address(),
        request_authorization=_approve if yes else None,
    )
    result = asyncio.run(registry.execute_tool(name, params, context))
    if as_json:
        print_json(result.to_dict())
        if not result.ok:
            raise typer.Exit(1)
        return
    if not result.ok:
        hint = ""
        if result.status == "denied" and not yes and "Authorization denied" in (result.error or ""):
            hint = "; pass --yes to approve destructive operations"
        fail(f"{result.status}: {result.error} (audit record {result.audit_id}){hint}")
    console.print(result.content, highlight=False, markup=False, soft_wrap=True)
