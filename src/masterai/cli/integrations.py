"""``masterai webhooks ...`` and ``masterai integrations ...``: subscriptions and checks.

Every command is one call of the ``integration`` tool through the registry (permission check,
validation, approval, audit record), as the local super admin or ``--as USER``.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import typer

from masterai.cli.context import (
    EXIT_FAILED,
    AsOption,
    JsonOption,
    YesOption,
    call_given,
    show,
    show_table,
    structured,
)

webhooks_app = typer.Typer(
    help="Subscribe URLs to platform events; see deliveries and redeliver.", no_args_is_help=True
)
integrations_app = typer.Typer(
    help="Check the e-mail and database settings of the integration tool.", no_args_is_help=True
)

Company = Annotated[
    str | None,
    typer.Option("--company", help="The company the webhook belongs to (none: the platform)."),
]


def register(app: typer.Typer) -> None:
    """Add the ``webhooks`` and ``integrations`` command groups to ``app``."""
    app.add_typer(webhooks_app, name="webhooks")
    app.add_typer(integrations_app, name="integrations")


_integration = partial(call_given, "integration")
"""One ``integration`` call; options not given (``None``) are left out."""


@webhooks_app.command("add")
def add_webhook(
    url: Annotated[str, typer.Argument(help="Where deliveries are POSTed.")],
    event: Annotated[
        str, typer.Option("--event", help="Event type, 'family.*' or '*' (every event).")
    ] = "*",
    company: Company = None,
    secret: Annotated[
        str | None,
        typer.Option("--secret", help="Signing secret (16+ characters; default: generated)."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="A name for it.")] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Subscribe URL to platform events (signed, retried, logged)."""
    params = {
        "operation": "setup_webhook",
        "url": url,
        "event": event,
        "company_id": company,
        "secret": secret,
        "name": name,
    }
    show(_integration(params, as_user=as_user), as_json)


@webhooks_app.command("list")
def list_webhooks(
    company: Company = None, as_user: AsOption = None, as_json: JsonOption = False
) -> None:
    """List the webhook subscriptions you may see."""
    result = _integration({"operation": "list_webhooks", "company_id": company}, as_user=as_user)
    columns = ("id", "name", "events", "url", "company", "created by")
    show_table(result, as_json, columns, _webhook_row)


def _webhook_row(hook: dict[str, Any]) -> tuple[str, ...]:
    return (
        str(hook["id"]),
        hook["name"],
        ", ".join(hook["events"]),
        hook["url"],
        hook["company_id"] or "(platform)",
        hook["created_by"] or "",
    )


@webhooks_app.command("remove")
def remove_webhook(
    webhook: Annotated[str, typer.Argument(help="The webhook's id or name.")],
    as_user: AsOption = None,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Remove a webhook subscription and its delivery log (asks first)."""
    target: int | str = int(webhook) if webhook.isdigit() else webhook
    params = {"operation": "delete_webhook", "webhook": target}
    show(_integration(params, as_user=as_user, yes=yes), as_json)


@webhooks_app.command("deliveries")
def list_deliveries(
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="Only this webhook's (id or name).")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="pending, delivered or dead.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most deliveries shown.")] = 50,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """The delivery log: each event sent to a webhook, with every attempt."""
    target: int | str | None = int(webhook) if webhook and webhook.isdigit() else webhook
    params = {
        "operation": "list_deliveries",
        "webhook": target,
        "status": status,
        "limit": limit,
    }
    result = _integration(params, as_user=as_user)
    columns = ("id", "event", "webhook", "status", "attempts", "last error")
    show_table(result, as_json, columns, _delivery_row)


def _delivery_row(d: dict[str, Any]) -> tuple[str, ...]:
    return (
        str(d["id"]),
        d["event_type"],
        d["webhook"],
        d["status"],
        str(len(d["history"])),
        d["last_error"] or "",
    )


@webhooks_app.command("redeliver")
def redeliver(
    delivery: Annotated[int, typer.Argument(help="The delivery's id.")],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Queue a delivery again (a dead-lettered one included)."""
    params = {"operation": "redeliver", "delivery_id": delivery}
    show(_integration(params, as_user=as_user), as_json)


def _checked(result: Any, as_json: bool) -> None:
    show(result, as_json)
    if not structured(result).get("ok"):
        raise typer.Exit(EXIT_FAILED)


@integrations_app.command("check-email")
def check_email(as_user: AsOption = None, as_json: JsonOption = False) -> None:
    """Connect to the SMTP server in settings (STARTTLS, login); exit 1 if that fails."""
    _checked(_integration({"operation": "check_email"}, as_user=as_user), as_json)


@integrations_app.command("check-db")
def check_db(
    name: Annotated[str, typer.Argument(help="A connection of integrations.connections.")],
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Connect read-only to database connection NAME; exit 1 if that fails."""
    params = {"operation": "check_database", "connection": name}
    _checked(_integration(params, as_user=as_user), as_json)
