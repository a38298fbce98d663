"""``masterai alerts list|ack|backlog``: alerts of realtime custom tools and threat monitors.

Every command is a ``registry`` call through the registry (``list_alerts``,
``acknowledge_alert``, ``alerts_backlog``), as the local super admin or ``--as USER``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from masterai.cli.context import AsOption, JsonOption, call_given, parse_since, show

alerts_app = typer.Typer(
    help="Alerts raised by realtime custom tools and the threat monitors; the monitors' backlog.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``alerts`` command group to ``app``."""
    app.add_typer(alerts_app, name="alerts")


def _registry(params: dict[str, Any], *, as_user: str | None) -> Any:
    return call_given("registry", params, as_user=as_user, company=params.get("company_id"))


@alerts_app.command("list")
def list_alerts(
    company: Annotated[
        str | None, typer.Option("--company", help="Only this company's alerts.")
    ] = None,
    tool: Annotated[
        str | None,
        typer.Option("--tool", help="Only alerts of this custom tool or built-in monitor."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only alerts since: an ISO date/time or an age (30m, 2d)."),
    ] = None,
    severity: Annotated[
        str | None,
        typer.Option(
            "--severity", help="This severity or worse: info, low, medium, high, critical."
        ),
    ] = None,
    unacknowledged: Annotated[
        bool, typer.Option("--unacknowledged", help="Only alerts not yet acknowledged.")
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", help="Most alerts (default 100).")] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """List alerts, newest first (id, severity, source, company, message)."""
    params = {
        "operation": "list_alerts",
        "company_id": company,
        "tool": tool,
        "since": parse_since(since).isoformat() if since else None,
        "severity": severity,
        "unacknowledged": unacknowledged or None,
        "limit": limit,
    }
    show(_registry(params, as_user=as_user), as_json)


@alerts_app.command("ack")
def acknowledge(
    alert_id: Annotated[int, typer.Argument(help="The alert's id (from 'alerts list').")],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Acknowledge an alert (who and when are recorded)."""
    params = {"operation": "acknowledge_alert", "alert_id": alert_id}
    show(_registry(params, as_user=as_user), as_json)


@alerts_app.command("backlog")
def show_backlog(as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """How far behind the realtime monitors are: messages waiting, lag, audit records."""
    show(_registry({"operation": "alerts_backlog"}, as_user=as_user), as_json)
