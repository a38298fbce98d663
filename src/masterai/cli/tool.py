"""``masterai tool ...``: list and run registered tools."""

from __future__ import annotations

import typer

tool_app = typer.Typer(help="List and run the registered tools.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``tool`` command group to ``app``."""
    app.add_typer(tool_app, name="tool")


@tool_app.command("list")
def list_tools() -> None:
    """List the tools and their operations."""
