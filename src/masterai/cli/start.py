"""``masterai start``: the main job on embedded defaults.

Until the web console exists the main job is the CLI itself: ``start`` brings
``MASTERAI_HOME`` to a usable state (database migrated, first super admin, demo data on first
run), reports what works on this machine, and then opens the chat when a model is configured
and a terminal is attached.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from masterai.cli.common import console
from masterai.cli.context import open_platform

if TYPE_CHECKING:
    from masterai.settings import Settings


def register(app: typer.Typer) -> None:
    """Add the ``start`` command to ``app``."""
    app.command("start")(start)


def start(
    demo: Annotated[
        bool, typer.Option(help="Seed the demo data set when the database has no companies.")
    ] = True,
    chat: Annotated[
        bool, typer.Option(help="Open the chat afterwards (when a model is configured).")
    ] = True,
) -> None:
    """Set up MASTERAI_HOME (database, super admin, demo data) and show what is ready."""
    from masterai.cli.admin import init
    from masterai.cli.context import call, structured

    init(admin=None, as_json=False)
    settings = open_platform().settings
    companies = structured(call("admin", {"operation": "list_companies"}, as_user=None))
    if demo and not companies:
        from masterai.cli.data import seed

        console.print("First run: seeding the demo data set (masterai demo seed).")
        seed(
            companies=5,
            conversations=4000,
            days=90,
            seed_value=7,
            end_date=None,
            replace=False,
            as_json=False,
        )
    _show_status(settings)
    if chat and (settings.llm.model or settings.model) and sys.stdin.isatty():
        from masterai.cli.chat import chat as chat_command

        chat_command(model=None, as_user=None, company=None, resume=None)


def _show_status(settings: Settings) -> None:
    from masterai.cli.tool import list_tools

    list_tools(as_user=None, as_json=False)
    console.print(f"Sandbox backend: [bold]{settings.sandbox.backend}[/] (masterai sandbox doctor)")
    model = settings.llm.model or settings.model
    if model:
        console.print(f"Model: [bold]{model}[/] (masterai chat)")
    else:
        console.print(
            "No model configured: the tool console works without one; for chat set e.g. "
            "[cyan]MASTERAI_MODEL=openai:gpt-4o-mini[/] (with OPENAI_API_KEY) or "
            "[cyan]MASTERAI_MODEL=ollama:llama3.1@http://127.0.0.1:11434[/]."
        )
    console.print(
        "Next: [cyan]masterai analytics summary --company acme-retail[/], "
        '[cyan]masterai tool run clock --args \'{"operation": "get_time"}\'[/], '
        "[cyan]masterai exec --language python --code 'print(1)'[/], [cyan]masterai --help[/]"
    )
