"""The ``masterai`` command line (Typer + Rich).

Each command group lives in its own module with a ``register(app)`` function, so no module
grows into a monolith. Heavy imports happen inside commands, keeping ``--help`` fast.
"""

from __future__ import annotations

import importlib

import typer

from masterai.cli.common import RootGroup

app = typer.Typer(
    name="masterai",
    cls=RootGroup,
    help=(
        "Master AI: an assistant that changes and tests AI configurations, analyses "
        "conversations and runs code in a sandbox, through one audited tool registry."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Command-group modules, in the order their commands appear in --help.
_GROUPS = (
    "start",
    "serve",
    "mcp",
    "login",
    "admin",
    "tool",
    "audit",
    "config",
    "analytics",
    "data",
    "integrations",
    "scripts",
    "rag",
    "aidev",
    "custom_tools",
    "alerts",
    "worker",
    "sandbox",
    "chat",
    "docs",
)

for _name in _GROUPS:
    importlib.import_module(f"masterai.cli.{_name}").register(app)


def main() -> None:
    """Entry point of the ``masterai`` console script."""
    app()
