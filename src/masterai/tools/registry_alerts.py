"""The ``registry`` tool's alerts part: ``list_alerts``, ``acknowledge_alert``, ``alerts_backlog``.

Alerts are raised by realtime custom tools (``custom_tool.alert``) and the built-in threat
monitors (``security.alert``); see docs/alerts.md. A principal sees the alerts of companies
it may read and acknowledges those of companies it may change; platform-wide alerts (no
company: findings about principals) are the super admins'. ``company_id`` is declared
``COMPANY``, so the registry checks access to a named company before the call runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ai_tool import (
    AIToolAuthorizationCallback,
    AIToolCall,
    AIToolNotFoundError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
    AIToolValidationError,
)
from masterai.security import ParameterRole
from masterai.services.alerts import (
    AlertFilter,
    AlertService,
    MonitorProcessor,
    Severity,
    backlog,
)
from masterai.services.errors import NotFoundError
from masterai.tools.adapter import call_service, tool_result
from masterai.tools.files import principal_of

if TYPE_CHECKING:
    from masterai.settings import Settings
    from masterai.store import Database

Handler = Callable[[AIToolCall, Any, AIToolAuthorizationCallback], Awaitable[AIToolResult]]

PARAMETERS = [
    AIToolParameter(
        "company_id",
        "string",
        "list_alerts: only this company's alerts",
        required=False,
        role=ParameterRole.COMPANY,
    ),
    AIToolParameter(
        "tool",
        "string",
        "list_alerts: only alerts of this custom tool or built-in monitor (denied_burst, "
        "egress_refusal, sandbox_refusal, prompt_injection, secret_in_message, new_address, "
        "unusual_hour)",
        required=False,
    ),
    AIToolParameter(
        "since", "string", "list_alerts: only alerts raised since (ISO date-time)", required=False
    ),
    AIToolParameter(
        "severity",
        "string",
        "list_alerts: only alerts of this severity or a more serious one",
        required=False,
        enum=[s.value for s in Severity],
    ),
    AIToolParameter(
        "unacknowledged", "boolean", "list_alerts: only alerts not yet acknowledged", required=False
    ),
    AIToolParameter(
        "limit", "integer", "list_alerts: most alerts (1-1000, default 100)", required=False
    ),
    AIToolParameter("alert_id", "integer", "acknowledge_alert: the alert's id", required=False),
]


def _since(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise AIToolValidationError(
            f"since {value!r} is not an ISO date or date-time (2027-01-31T08:00:00Z)", "since"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class AlertsPart:
    """The alert operations of the ``registry`` tool.

    Args:
        service: the alerts service.
        processor: the monitor loop (read for the audit watermark in ``alerts_backlog``).
    """

    model_operations: frozenset[str] = frozenset()

    def __init__(self, service: AlertService, processor: MonitorProcessor) -> None:
        self.service = service
        self._processor = processor

    def parameters(self) -> list[AIToolParameter]:
        """The part's parameters."""
        return list(PARAMETERS)

    def operations(self) -> dict[str, AIToolOperationDefinition]:
        """``list_alerts``, ``acknowledge_alert`` and ``alerts_backlog``."""
        return {
            "list_alerts": AIToolOperationDefinition(
                "list_alerts",
                self._list,
                None,
                {"company_id", "tool", "since", "severity", "unacknowledged", "limit"},
                set(),
                "Alerts raised by realtime custom tools and the threat monitors, newest "
                "first, with their severity, the message or audit record they are linked to, "
                "and who acknowledged them",
                read_only=True,
            ),
            "acknowledge_alert": AIToolOperationDefinition(
                "acknowledge_alert",
                self._acknowledge,
                lambda args: f"alert {args.get('alert_id')}",
                {"alert_id"},
                {"alert_id"},
                "Mark an alert as seen (who and when are recorded)",
                idempotent=True,
            ),
            "alerts_backlog": AIToolOperationDefinition(
                "alerts_backlog",
                self._backlog,
                None,
                set(),
                set(),
                "How far behind the realtime monitors are: messages waiting, the age of the "
                "oldest (lag), audit records not yet examined, unacknowledged alerts",
                read_only=True,
            ),
        }

    async def _list(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = call.arguments
        severity = args.get("severity")
        wanted = AlertFilter(
            company_id=args.get("company_id"),
            source=args.get("tool"),
            since=_since(args.get("since")),
            severity=Severity(severity) if severity else None,
            unacknowledged=bool(args.get("unacknowledged", False)),
            limit=args.get("limit", 100),
        )
        alerts = await call_service(self.service.list, principal_of(ref), wanted)
        lines = [
            f"#{a['id']} {a['severity']} {a['source']} {a['company_id'] or '-'}: {a['message']}"
            + (" (acknowledged)" if a["acknowledged_at"] else "")
            for a in alerts[:20]
        ]
        summary = "\n".join(lines) or "No alerts."
        if len(alerts) > 20:
            summary += f"\n... and {len(alerts) - 20} more"
        return tool_result(call, summary, {"alerts": alerts, "count": len(alerts)})

    async def _acknowledge(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        alert_id = call.arguments["alert_id"]
        try:
            alert = await asyncio.to_thread(self.service.acknowledge, principal_of(ref), alert_id)
        except NotFoundError as e:
            raise AIToolNotFoundError(str(e)) from e
        summary = f"Alert #{alert['id']} acknowledged by {alert['acknowledged_by']}."
        return tool_result(call, summary, alert)

    async def _backlog(
        self, call: AIToolCall, ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        principal = principal_of(ref)

        def work() -> dict[str, Any]:
            position, head = self._processor.audit_position()
            waiting = backlog(self.service.database, audit_position=position, audit_head=head)
            return {**waiting.to_dict(), "unacknowledged": self.service.counts(principal)}

        data = await call_service(work)
        summary = (
            f"{data['messages']} messages waiting (lag {data['lag_seconds']} s), "
            f"{data['audit_records']} audit records not yet examined; unacknowledged alerts: "
            + (", ".join(f"{k} {v}" for k, v in sorted(data["unacknowledged"].items())) or "none")
        )
        return tool_result(call, summary, data)


def build(settings: Settings, database: Database) -> AlertsPart:
    """The alerts part of the ``registry`` tool over ``database``."""
    return AlertsPart(AlertService(database), MonitorProcessor(database, settings.monitors))
