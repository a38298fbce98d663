"""``masterai tool list|show|run``: the registered tools, and one call through the registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from masterai.cli.common import console, fail, print_json
from masterai.cli.context import (
    EXIT_FAILED,
    AsOption,
    JsonOption,
    acting_context,
    call,
    cli_approver,
    decode_json_object,
    open_platform,
    refuse_arguments,
    status_code,
    summary_of,
)

if TYPE_CHECKING:
    from masterai.registry import ToolListing, ToolResult

tool_app = typer.Typer(help="List, describe and run the registered tools.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``tool`` command group to ``app``."""
    app.add_typer(tool_app, name="tool")


def _listing_dict(t: ToolListing) -> dict[str, object]:
    return {
        "name": t.name,
        "category": t.category,
        "description": t.description,
        "operations": [o.__dict__ for o in t.operations],
        "schema": t.schema,
    }


@tool_app.command("list")
def list_tools(as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """List the tools and operations the acting user may call."""
    context = acting_context(as_user)
    listings = open_platform().registry.list_tools(context.principal)
    if as_json:
        print_json([_listing_dict(t) for t in listings])
        return
    table = Table("tool", "operations", title=f"Tools for {context.principal.name}")
    # Names are never cut: operations wrap, the description is shown only with room for it.
    table.columns[0].no_wrap = True
    table.columns[1].overflow = "fold"
    wide = console.width >= 120
    if wide:
        table.add_column("description", overflow="fold", ratio=1)
    for t in listings:
        ops = ", ".join(o.name + ("*" if o.destructive else "") for o in t.operations)
        row = [escape(t.name), ops or "-"] + ([escape(t.description)] if wide else [])
        table.add_row(*row)
    console.print(table)
    console.print("* destructive: asks for approval (--yes with `masterai tool run`)")
    console.print("Details of a tool: masterai tool show NAME [OPERATION]")


@tool_app.command("show")
def show_tool(
    name: Annotated[str, typer.Argument(help="Tool name (see `masterai tool list`).")],
    operation: Annotated[str | None, typer.Argument(help="Only this operation.")] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a tool's operations, their parameters and what a call needs."""
    from masterai.registry.describe import describe_operations

    context = acting_context(as_user)
    registry = open_platform().registry
    registered = registry.get(name)
    allowed = registry.allowed_operations(context.principal, registered) if registered else []
    if registered is None or (not allowed and registered.tool.get_operation_definitions()):
        fail(f"Unknown tool {name!r} (see `masterai tool list`)", exit_code=2)
    if operation is not None and operation not in allowed:
        fail(
            f"Unknown operation {operation!r} of {name!r}. Available: {', '.join(allowed)}",
            exit_code=2,
        )
    described = describe_operations(registered, [operation] if operation else allowed)
    if as_json:
        print_json(
            {
                "name": name,
                "category": registered.category,
                "operations": [d.to_dict() for d in described],
            }
        )
        return
    console.print(
        f"[bold]{escape(name)}[/] ({escape(registered.category)}): "
        f"{escape(registered.tool.get_brief_description())}"
    )
    for d in described:
        needs = [
            label
            for flag, label in (
                (d.needs_approval, "approval"),
                (d.calls_model, "a model (costs money)"),
                (d.names_company, "company access"),
            )
            if flag
        ]
        kind = "read-only" if d.read_only else "changes data"
        console.print(f"\n[bold]{escape(d.name)}[/] — {escape(d.description)}")
        console.print(f"  {kind}; needs: {', '.join(needs) or 'nothing more'}")
        table = Table(
            "parameter", "type", "required", "role", "description", box=None, pad_edge=False
        )
        table.columns[0].no_wrap = True
        table.columns[4].overflow = "fold"
        for p in d.parameters:
            described_text = p.description + (
                f" (one of: {', '.join(map(str, p.enum))})" if p.enum else ""
            )
            table.add_row(
                escape(p.name),
                p.type,
                "yes" if p.required else "no",
                p.role or "-",
                escape(described_text),
            )
        console.print(table)


@tool_app.command("run")
def run_tool(
    name: Annotated[str, typer.Argument(help="Tool name (see `masterai tool list`).")],
    args: Annotated[str, typer.Option("--args", help="Arguments as a JSON object.")] = "{}",
    as_user: AsOption = None,
    company: Annotated[str | None, typer.Option(help="Company scope of the call.")] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Approve an operation that needs approval.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run one tool call (permission check, validation, approval, limits, audit).

    Prints the human summary (``--json``: the whole result). The exit status is non-zero when
    the call did not succeed, or when what it ran failed (a program's exit status, a test run
    with failures).
    """
    try:
        params = decode_json_object(args, "--args")
    except ValueError as e:
        refuse_arguments(name, args, str(e), as_user=as_user)
        return
    context = acting_context(as_user, company=company, approver=cli_approver(yes), tool=name)
    result = call(name, params, as_user=as_user, yes=yes, context=context, check=not as_json)
    if as_json:
        print_json(result.to_dict())
    else:
        console.print(summary_of(result), highlight=False, markup=False, soft_wrap=True)
    code = exit_status(result)
    if code:
        raise typer.Exit(code)


def exit_status(result: ToolResult) -> int:
    """The exit status of a finished call: non-zero when it, or what it ran, failed."""
    if not result.ok:
        return status_code(result)
    data = result.data
    body = data.get("result") if isinstance(data, dict) else None
    if isinstance(body, dict):
        exit_code = body.get("exit_code")
        if isinstance(exit_code, int) and not isinstance(exit_code, bool) and exit_code:
            return exit_code if 0 < exit_code < 256 else EXIT_FAILED
        if body.get("timed_out") or body.get("memory_exceeded"):
            return EXIT_FAILED
        cases, passed = body.get("cases"), body.get("passed")
        if isinstance(cases, int) and isinstance(passed, int) and passed < cases:
            return EXIT_FAILED  # a test run with failures
    return 0
