"""The Alerts page: alerts of realtime custom tools and threat monitors, and the backlog.

The list is ``registry.list_alerts`` (filtered by company, source, severity, open only) and
the backlog ``registry.alerts_backlog``; acknowledging is ``registry.acknowledge_alert``
posted from the form generated from its schema (the same forms as the Tools page), so each
action is permission-checked and audited like any other call. See ``docs/alerts.md``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from masterai.api.console.core import Console, structured
from masterai.api.console.tools import action_panels
from masterai.services.alerts import Severity

TOOL = "registry"
ACTIONS = (("acknowledge_alert", "Acknowledge an alert"),)
SEVERITIES = ("", *(s.value for s in Severity))


def router(console: Console) -> APIRouter:
    """``/alerts``."""
    routes = APIRouter(include_in_schema=False)
    console.pages.add("alerts")

    @routes.get("/alerts")
    async def alerts(
        request: Request,
        company: str = "",
        source: str = "",
        severity: str = "",
        open_only: bool = False,
        alert: int | None = None,
    ) -> HTMLResponse:
        user = await console.user(request)
        query: dict[str, Any] = {"operation": "list_alerts", "limit": 200}
        if company:
            query["company_id"] = company
        if source:
            query["tool"] = source
        if severity in SEVERITIES[1:]:
            query["severity"] = severity
        if open_only:
            query["unacknowledged"] = True
        listed = await console.call(request, user, TOOL, query)
        backlog = await console.call(request, user, TOOL, {"operation": "alerts_backlog"})
        prefill = {"alert_id": str(alert)} if alert is not None else None
        return console.render(
            request,
            "alerts.html",
            user,
            listed=listed,
            rows=structured(listed)["alerts"] if listed.ok else [],
            backlog=structured(backlog) if backlog.ok else None,
            filters={
                "company": company,
                "source": source,
                "severity": severity,
                "open_only": open_only,
            },
            severities=SEVERITIES,
            panels=action_panels(user, TOOL, ACTIONS, prefill),
        )

    return routes
