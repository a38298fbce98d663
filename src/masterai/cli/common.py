"""Helpers shared by the CLI command groups: one error style, JSON output, the console."""

from __future__ import annotations

import json
import sys
from typing import IO, Any, NoReturn

import click
from rich.console import Console

console = Console()
err_console = Console(stderr=True)


class CLIError(click.ClickException):
    """A user-facing error: printed as one ``error: ...`` line, exit status non-zero.

    Being a ``ClickException``, it is handled by click itself, so it behaves the same under
    the console script and under Typer's test runner.
    """

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the error as one line on stderr."""
        click.echo(f"error: {self.format_message()}", err=True, file=file)


def fail(message: str, *, exit_code: int = 1) -> NoReturn:
    """Abort the current command with one clear error line."""
    raise CLIError(message, exit_code=exit_code)


def print_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout (machine-readable ``--json`` output)."""
    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")
