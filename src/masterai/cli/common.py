"""Helpers shared by the CLI command groups: one error style, JSON output, the console."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

console = Console()
err_console = Console(stderr=True)


class CLIError(Exception):
    """A user-facing error: printed as one ``error: ...`` line, exit status non-zero."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, *, exit_code: int = 1) -> NoReturn:
    """Abort the current command with one clear error line."""
    raise CLIError(message, exit_code=exit_code)


def print_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout (machine-readable ``--json`` output)."""
    sys.stdout.write(json.dumps(value, indent=2, default=str, ensure_ascii=False) + "\n")


def read_text(path: Path, what: str, *, exit_code: int = 1) -> str:
    """The UTF-8 text of ``path``, or end the command with one line naming ``what``."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"cannot read {what} {str(path)!r}: {e}", exit_code=exit_code)


class RootGroup(TyperGroup):
    """Root command group: turns :class:`CLIError` into one stderr line and its exit code.

    Catching it here (not in ``main``) makes the console script and Typer's test runner
    behave the same.
    """

    def invoke(self, ctx: Any) -> Any:
        """Run the command, reporting :class:`CLIError` as ``error: <message>``."""
        # Typer's own usage errors (bad option value, missing argument) would be a
        # multi-line panel; they become one line too (exit status 2, as click's).
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
        from typer.exceptions import TyperException

        from masterai.audit import AuditError
        from masterai.cli.context import close_platform

        try:
            return super().invoke(ctx)
        except CLIError as exc:
            # messages quote user input: '[bold]x' must print as typed, not as markup
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(exc.exit_code) from exc
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            err_console.print(
                f"[bold red]error:[/] {escape(exc.format_message())} (see `{where} --help`)",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(exc.exit_code) from exc
        except (typer.Exit, typer.Abort, TyperException, KeyboardInterrupt):
            raise
        except AuditError as exc:
            # The audit cannot be written (a missing or unusable key): nothing may run.
            err_console.print(
                f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(1) from exc
        except Exception as exc:
            # A bug must not print a traceback at a user; MASTERAI_DEBUG=1 shows it.
            if os.environ.get("MASTERAI_DEBUG"):
                raise
            err_console.print(
                f"[bold red]error:[/] internal error: {escape(type(exc).__name__)}: "
                f"{escape(str(exc))} (MASTERAI_DEBUG=1 shows the traceback)",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1) from exc
        finally:
            close_platform()
