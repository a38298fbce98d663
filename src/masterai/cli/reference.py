"""Markdown reference of every ``masterai`` command, generated from the CLI itself.

``docs/cli.md`` is written by ``masterai docs cli`` (this module) and a test checks it has not
drifted from the commands.
"""

from __future__ import annotations

from typing import Any

import typer


def render_reference(app: typer.Typer) -> str:
    """Return the Markdown reference of every command of ``app``."""
    root = typer.main.get_command(app)
    lines = [
        "# `masterai` command reference",
        "",
        "Generated from the CLI by `masterai docs cli > docs/cli.md`; a test fails when it drifts.",
        "",
        "Every command acts through the tool registry: it is permission-checked, validated",
        "and audited (client address `cli:LOGIN@HOST`), acting as the local super admin or",
        "`--as USER`. Commands that print data take `--json` (one JSON document on stdout).",
        "Errors are one `error: ...` line on stderr.",
        "",
        "| exit status | meaning |",
        "|---|---|",
        "| 0 | success |",
        "| 1 | the call failed (tool error, time limit), or what it ran failed (a test run with "
        "failures); also other errors |",
        "| 2 | bad input: usage, invalid arguments, unknown tool or company; `ask`: no plan was "
        "completed |",
        "| 3 | refused: not permitted, unknown `--as` user, not approved |",
        "| other | `exec` and `tool run` of a program: the program's own exit status (137 when "
        "killed at a limit) |",
        "",
    ]
    _render(root, ["masterai"], lines)
    return "\n".join(lines).rstrip() + "\n"


def _render(command: Any, path: list[str], lines: list[str]) -> None:
    ctx = typer.Context(command, info_name=path[-1])
    if len(path) > 1:
        lines.append(f"{'#' * min(len(path), 4)} `{' '.join(path)}`")
        lines.append("")
        usage = " ".join(command.collect_usage_pieces(ctx))
        lines.append(f"```\n{' '.join(path)} {usage}\n```")
        lines.append("")
    if command.help:
        lines.append(_clean(command.help))
        lines.append("")
    params = [p for p in command.params if not getattr(p, "hidden", False)]
    rows = [_param_row(p, ctx) for p in params if p.name != "help"]
    if rows:
        lines.extend(["| argument / option | description |", "|---|---|", *rows, ""])
    if hasattr(command, "list_commands"):  # a group
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                _render(sub, [*path, name], lines)


def _param_row(param: Any, ctx: typer.Context) -> str:
    if param.param_type_name == "option":
        names = ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        text = _clean(param.help or "")
        default = param.get_default(ctx, call=False)
        if param.required:
            text += " (required)"
        elif default not in (None, False, (), "") and not param.is_flag:
            text += f" (default: `{default}`)"
    else:
        names = f"`{(param.name or '').upper()}`"
        text = _clean(getattr(param, "help", None) or "")
    return f"| {names} | {text.strip()} |"


def _clean(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())
