"""``masterai docs cli``: print the generated command reference (``docs/cli.md``)."""

from __future__ import annotations

import sys

import typer

docs_app = typer.Typer(help="Generated documentation.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``docs`` command group to ``app``."""
    app.add_typer(docs_app, name="docs")


@docs_app.command("cli")
def cli_reference() -> None:
    """Print the Markdown reference of every command (the source of docs/cli.md)."""
    from masterai.cli import app
    from masterai.cli.reference import render_reference

    sys.stdout.write(render_reference(app))
