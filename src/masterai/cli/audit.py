"""``masterai audit verify|tail|search``: inspect and check the hash-chained audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from masterai.cli.common import console, fail, print_json
from masterai.cli.context import load_settings, open_db, parse_since

if TYPE_CHECKING:
    from masterai.audit import AuditLog
    from masterai.store.models import AuditRecord

audit_app = typer.Typer(
    help="The tamper-evident audit trail of every tool call.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
STATUSES = ("ok", "denied", "invalid", "not_found", "failed", "timeout")


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command group to ``app``."""
    app.add_typer(audit_app, name="audit")


def _log() -> AuditLog:
    from masterai.audit import AuditLog

    return AuditLog(open_db(load_settings()))


def _record_dict(r: AuditRecord) -> dict[str, object]:
    return {
        "id": r.id,
        "created_at": r.created_at.isoformat(),
        "user": r.user_name,
        "tool": r.tool,
        "operation": r.operation,
        "status": r.status,
        "company_id": r.company_id,
        "duration_ms": r.duration_ms,
        "client_address": r.client_address,
        "request_id": r.request_id,
        "params": r.params,
        "result_summary": r.result_summary,
        "error": r.error,
        "hash": r.hash,
    }


def _show(records: list[AuditRecord], as_json: bool) -> None:
    if as_json:
        print_json([_record_dict(r) for r in records])
        return
    table = Table(
        "id",
        "time (UTC)",
        "user",
        "tool",
        "operation",
        "status",
        "company",
        "client",
        "ms",
        "error",
    )
    for r in records:
        style = "green" if r.status == "ok" else "red"
        # stored values come from callers (an unknown tool name is recorded as given):
        # escaped so that text like '[/]' prints as is instead of breaking the table
        table.add_row(
            str(r.id),
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            escape(r.user_name or "-"),
            escape(r.tool),
            escape(r.operation or "-"),
            f"[{style}]{escape(r.status)}[/]",
            escape(r.company_id or "-"),
            escape(r.client_address or "-"),
            f"{r.duration_ms:.1f}",
            escape((r.error or "")[:60]),
        )
    console.print(table)


@audit_app.command("verify")
def verify(as_json: JsonOption = False) -> None:
    """Walk the hash chain; exit 1 naming the first broken record."""
    report = _log().verify()
    if as_json:
        print_json(report.__dict__)
        if not report.ok:
            raise typer.Exit(1)
        return
    if not report.ok:
        fail(f"audit chain broken at record {report.first_broken_id}: {report.reason}")
    console.print(f"ok: {report.checked} records verified")


@audit_app.command("tail")
def tail(
    n: Annotated[int, typer.Option("-n", "--lines", min=1, max=10_000, help="How many.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Show the newest records."""
    _show(_log().recent(n), as_json)


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
    as_json: JsonOption = False,
) -> None:
    """Find records by tool, user, company, status and time."""
    if status is not None and status not in STATUSES:
        fail(f"Invalid --status {status!r}. Allowed: {', '.join(STATUSES)}")
    moment = parse_since(since) if since is not None else None
    records = _log().search(
        tool=tool, user=user, company=company, status=status, since=moment, limit=limit
    )
    _show(records, as_json)
