"""The Webhooks page: subscriptions, their delivery log, and the integrations' health.

Lists come from ``integration.list_webhooks`` and ``integration.list_deliveries``; adding,
removing and redelivering, and checking a database connection or the SMTP server, are
``integration`` operations posted from forms generated from their schemas (the same forms
as the Tools page), so each is permission-checked and audited like any other call.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from masterai.api.console.core import Console, ConsoleUser, structured
from masterai.api.console.tools import action_panels
from masterai.security import ANY

ACTIONS = (
    ("setup_webhook", "Add a webhook"),
    ("delete_webhook", "Remove a webhook"),
    ("redeliver", "Deliver again"),
    ("check_database", "Check a database connection"),
    ("check_email", "Check the SMTP server"),
)

STATUSES = ("", "pending", "delivered", "dead")


def _connections(console: Console, user: ConsoleUser) -> list[str]:
    """Configured database connections the user may query (names only, never URLs)."""
    allowed = user.principal.permissions.integrations.allowed_connections
    names = sorted(console.platform.settings.integrations.connections)
    return [n for n in names if ANY in allowed or n in allowed]


def router(console: Console) -> APIRouter:
    """``/webhooks``."""
    routes = APIRouter(include_in_schema=False)
    console.pages.add("webhooks")

    @routes.get("/webhooks")
    async def webhooks(
        request: Request, status: str = "", webhook: int | None = None
    ) -> HTMLResponse:
        user = await console.user(request)
        hooks = await console.call(request, user, "integration", {"operation": "list_webhooks"})
        query: dict[str, Any] = {"operation": "list_deliveries", "limit": 100}
        if status in STATUSES[1:]:
            query["status"] = status
        if webhook is not None:
            query["webhook"] = webhook
        deliveries = await console.call(request, user, "integration", query)
        return console.render(
            request,
            "webhooks.html",
            user,
            hooks=hooks,
            hook_rows=structured(hooks) if hooks.ok else [],
            deliveries=deliveries,
            delivery_rows=structured(deliveries) if deliveries.ok else [],
            filters={"status": status, "webhook": webhook},
            statuses=STATUSES,
            connections=_connections(console, user),
            panels=action_panels(user, "integration", ACTIONS),
        )

    return routes
