"""``masterai start``: the main job on embedded defaults."""

from __future__ import annotations

import typer

from masterai.cli.common import console


def register(app: typer.Typer) -> None:
    """Add the ``start`` command to ``app``."""
    app.command("start")(start)


def start() -> None:
    """Prepare MASTERAI_HOME and show what Master AI can do on this machine."""
    from masterai.settings import Settings

    settings = Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.workspace.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]Master AI[/] ready. Home: {settings.home.resolve()}")
    console.print("Try: [cyan]masterai tool list[/], [cyan]masterai --help[/]")
