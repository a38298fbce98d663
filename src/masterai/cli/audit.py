"""``masterai audit verify|tail|search|rotate-key``: inspect, check and re-key the audit trail.

Each is a registry call (the ``admin`` tool's ``audit_*`` operations, super admins by
default), so it is permission-checked and leaves a record of its own. A missing or unusable
audit key ends the command with one line (nothing can be audited without it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from masterai.cli.common import console, fail, print_json
from masterai.cli.context import (
    AsOption,
    JsonOption,
    call,
    parse_since,
    structured,
    summary_of,
)

if TYPE_CHECKING:
    from masterai.registry import ToolResult

audit_app = typer.Typer(
    help="The tamper-evident audit trail of every tool call.", no_args_is_help=True
)

STATUSES = ("ok", "denied", "invalid", "not_found", "failed", "timeout", "unavailable")
"""``masterai.audit.STATUSES``, spelled out so that ``--help`` does not import the audit layer
(a test keeps the two equal)."""


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command group to ``app``."""
    app.add_typer(audit_app, name="audit")


def _call(params: dict[str, Any], as_user: str | None) -> ToolResult:
    """The ``admin`` call of a command; an audit that cannot be written ends it in one line."""
    from masterai.audit import AuditError

    try:
        return call("admin", params, as_user=as_user)
    except AuditError as e:
        fail(str(e))


def _show(records: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json(records)
        return
    # Names are never cut: on a narrow screen (80 columns when stdout is not a terminal) the
    # date, client, duration and error columns are left out (--json has everything).
    wide = console.width >= 120
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id", no_wrap=True, justify="right")
    table.add_column("time (UTC)" if wide else "time", no_wrap=True)
    table.add_column("user", overflow="fold")
    table.add_column("call", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("company", no_wrap=True)
    if wide:
        table.add_column("client", overflow="fold")
        table.add_column("ms", no_wrap=True, justify="right")
        table.add_column("error", overflow="fold", ratio=1)
    for r in records:
        # not a call status: a stored row that is not a readable record ("malformed")
        style = "green" if r["status"] == "ok" else "red" if r["status"] in STATUSES else "yellow"
        companies = ", ".join(r["company_ids"] or ([r["company_id"]] if r["company_id"] else []))
        moment = (r["created_at"] or "?")[:19].replace("T", " ")
        call = (r["tool"] or "?") + (f".{r['operation']}" if r["operation"] else "")
        # stored values come from callers (an unknown tool name is recorded as given):
        # escaped so that text like '[/]' prints as is instead of breaking the table
        row = [
            str(r["id"]),
            moment if wide else moment[11:] or "?",
            escape(r["user"] or "-"),
            escape(call),
            f"[{style}]{escape(r['status'])}[/]",
            escape(companies or "-"),
        ]
        if wide:
            # a malformed row shows what is wrong with it where the error would be
            problem = "; ".join(r.get("problems") or []) or r["error"] or ""
            row += [
                escape(r["client_address"] or "-"),
                "-" if r["duration_ms"] is None else f"{r['duration_ms']:.1f}",
                escape(problem[:60]),
            ]
        table.add_row(*row)
    console.print(table)


@audit_app.command("verify")
def verify(as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """Check the keyed chain against the newest checkpoint; exit 1 naming the first break.

    With --json: ok, checked, first_broken_id, problem (a code such as modified,
    truncated, malformed), reason, checkpoint.
    """
    report = structured(_call({"operation": "audit_verify"}, as_user))
    if as_json:
        print_json(report)
        if not report["ok"]:
            raise typer.Exit(1)
        return
    if not report["ok"]:
        where = report["first_broken_id"]
        fail(f"audit chain broken{f' at record {where}' if where else ''}: {report['reason']}")
    console.print(f"ok: {report['checked']} records verified")


@audit_app.command("tail")
def tail(
    n: Annotated[int, typer.Option("-n", "--lines", min=1, max=10_000, help="How many.")] = 20,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show the newest records (this command's own call is the last one)."""
    records = structured(_call({"operation": "audit_tail", "limit": n}, as_user))
    _show(records, as_json)


@audit_app.command("search")
def search(
    tool: Annotated[str | None, typer.Option(help="Tool name.")] = None,
    user: Annotated[str | None, typer.Option(help="User name.")] = None,
    company: Annotated[str | None, typer.Option(help="Company id.")] = None,
    status: Annotated[str | None, typer.Option(help=f"One of: {', '.join(STATUSES)}.")] = None,
    since: Annotated[
        str | None, typer.Option(help="ISO date/time or an age like 30m, 12h, 7d.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many.")] = 100,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Find records by tool, user, company, status and time."""
    if status is not None and status not in STATUSES:
        fail(f"Invalid --status {status!r}. Allowed: {', '.join(STATUSES)}")
    params: dict[str, Any] = {"operation": "audit_search", "limit": limit}
    filters = {"tool_name": tool, "user": user, "company_id": company, "status": status}
    params |= {k: v for k, v in filters.items() if v is not None}
    if since is not None:
        params["since"] = parse_since(since).isoformat()
    _show(structured(_call(params, as_user)), as_json)


@audit_app.command("rotate-key")
def rotate_key(as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """Start a new key epoch: new records are signed with a new secret; old ones still verify.

    Rotates the key file; a key given by MASTERAI_AUDIT__KEY is rotated where it is kept.
    """
    result = _call({"operation": "audit_rotate_key"}, as_user)
    if as_json:
        print_json(structured(result))
        return
    console.print(summary_of(result), markup=False, highlight=False, soft_wrap=True)
