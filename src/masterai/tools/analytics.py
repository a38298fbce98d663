"""The ``analytics`` tool: conversation analytics, costs, forecasts, failures and reports.

A thin adapter over :class:`masterai.services.analytics.AnalyticsService`. Every operation is
read-only: it changes no platform data (``generate_report`` writes a new file into the
workspace's ``reports/`` folder and returns its path). Results are JSON with a readable
``summary`` for the model and the structured ``result``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ai_tool import (
    AITool,
    AIToolAuthorizationCallback,
    AIToolCall,
    AIToolDefinition,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
)
from masterai.services.analytics import AnalyticsService, Scope
from masterai.services.analytics.forecast import METRICS
from masterai.services.analytics.reports import FORMATS, REPORT_TYPES, generate_report
from masterai.services.errors import InvalidInputError
from masterai.tools.adapter import call_service, tool_result

NAME = "analytics"
_SCOPE = {"company_id", "company_ids", "start_date", "end_date", "days"}

# operation -> (extra allowed parameters, required, description)
_OPERATIONS: dict[str, tuple[set[str], set[str], str]] = {
    "analyze_conversations": (
        set(),
        set(),
        "Volume, response-time percentiles, resolution, escalation and fallback rates, "
        "satisfaction, turns, tokens and cost per conversation, and daily trends",
    ),
    "identify_patterns": (
        {"top"},
        set(),
        "Top topics, recurring phrases in user messages, peak hours, and opening questions "
        "that most often end in escalation or a low rating",
    ),
    "identify_failures": (
        {"slow_ms", "examples"},
        set(),
        "Escalations, fallback answers, errors, slow responses and low ratings, grouped "
        "with example conversations",
    ),
    "measure_satisfaction": (
        {"conversation_ids"},
        set(),
        "Explicit ratings: distribution, mean, CSAT, and what drives satisfaction",
    ),
    "analyze_costs": (
        {"period"},
        set(),
        "Spend by company, model and period (day/week/month), recorded and priced by the "
        "price table",
    ),
    "predict_usage": (
        {"horizon_days", "interval", "metrics"},
        set(),
        "Forecast daily conversations, tokens and cost with prediction intervals",
    ),
    "generate_report": (
        {"report_type", "format", "filename"},
        {"report_type"},
        "Write a report (company_summary, comparison, costs) as html, markdown or json into "
        "the workspace and return its path",
    ),
}


class AnalyticsTool(AITool):
    """Analyse conversations of companies; every operation is read-only.

    Args:
        service: The analytics service.
        workspace: Where ``generate_report`` writes (into ``reports/``).
    """

    def __init__(self, service: AnalyticsService, workspace: Path) -> None:
        self._service = service
        self._workspace = workspace

    def get_definition(self) -> AIToolDefinition:
        """Return the ``analytics`` definition."""
        return self._build_definition_from_operations(
            name=NAME,
            description_prefix=(
                "Analyse customer conversations of one company, several, or all: metrics, "
                "patterns, failures, satisfaction, costs, forecasts and reports. Dates are "
                "UTC; end_date is inclusive; days=N means the last N days up to today."
            ),
            additional_parameters=_PARAMETERS,
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """Return the analytics operations (all read-only)."""
        handlers: dict[str, Callable[..., Any]] = {
            "analyze_conversations": self._analyze,
            "identify_patterns": self._patterns,
            "identify_failures": self._failures,
            "measure_satisfaction": self._satisfaction,
            "analyze_costs": self._costs,
            "predict_usage": self._forecast,
            "generate_report": self._report,
        }
        return {
            name: AIToolOperationDefinition(
                name,
                handlers[name],
                None,
                _SCOPE | extra,
                required,
                description,
                read_only=True,
            )
            for name, (extra, required, description) in _OPERATIONS.items()
        }

    def _scope(self, args: dict[str, Any], requester_ref: Any) -> Scope:
        """The scope of the call, limited to the companies the requester may read.

        The registry's policy checks the companies an argument names; a call naming none
        means "all companies", which for a principal limited to some companies must mean
        those companies only. Requesters without permissions (direct library use) see all.
        """
        given = {k: args[k] for k in _SCOPE if k in args}
        data = getattr(getattr(requester_ref, "permissions", None), "data_access", None)
        if "company_id" in given or "company_ids" in given or data is None:
            return self._service.scope(**given)
        companies = self._service.company_ids()
        readable = [c for c in companies if data.can_read(c)]
        if len(readable) == len(companies):
            return self._service.scope(**given)
        if not readable:
            raise InvalidInputError("you may not read any company's conversations")
        return self._service.scope(**given, company_ids=readable)

    async def _run(
        self, tool_call: AIToolCall, requester_ref: Any, compute: Callable[[Scope], Any]
    ) -> AIToolResult:
        def work() -> Any:
            return compute(self._scope(tool_call.arguments, requester_ref))

        result = await call_service(work)
        return tool_result(tool_call, result.summary(), result.to_dict())

    async def _analyze(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        return await self._run(tool_call, requester_ref, self._service.analyze_conversations)

    async def _patterns(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        top = tool_call.arguments.get("top", 10)
        return await self._run(
            tool_call, requester_ref, lambda s: self._service.identify_patterns(s, top=top)
        )

    async def _failures(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        return await self._run(
            tool_call,
            requester_ref,
            lambda s: self._service.identify_failures(
                s, slow_ms=args.get("slow_ms"), examples=args.get("examples")
            ),
        )

    async def _satisfaction(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        ids = tool_call.arguments.get("conversation_ids")
        return await self._run(
            tool_call,
            requester_ref,
            lambda s: self._service.measure_satisfaction(s, conversation_ids=ids),
        )

    async def _costs(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        period = tool_call.arguments.get("period", "day")
        return await self._run(
            tool_call, requester_ref, lambda s: self._service.analyze_costs(s, period=period)
        )

    async def _forecast(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        return await self._run(
            tool_call,
            requester_ref,
            lambda s: self._service.predict_usage(
                s,
                horizon_days=args.get("horizon_days", 30),
                interval=args.get("interval", 0.95),
                metrics=args.get("metrics", list(METRICS)),
            ),
        )

    async def _report(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments

        def work() -> Any:
            return generate_report(
                self._service,
                args["report_type"],
                self._scope(args, requester_ref),
                fmt_=args.get("format", "html"),
                workspace=self._workspace,
                filename=args.get("filename"),
            )

        report = await call_service(work)
        summary = f"Wrote {report.title} to {report.path} ({report.bytes:,} bytes).\n"
        return tool_result(tool_call, summary + report.summary, report.to_dict())


_PARAMETERS = [
    AIToolParameter("company_id", "string", "One company id (slug)", required=False),
    AIToolParameter(
        "company_ids",
        "array",
        "Several company ids (omit both for all companies)",
        required=False,
        items=AIToolParameter("company_id", "string", "Company id"),
    ),
    AIToolParameter("start_date", "string", "First day, ISO date (UTC)", required=False),
    AIToolParameter("end_date", "string", "Last day, ISO date, inclusive", required=False),
    AIToolParameter("days", "integer", "The last N days up to today", required=False),
    AIToolParameter("top", "integer", "How many patterns to list (1-100)", required=False),
    AIToolParameter(
        "slow_ms", "integer", "Slow-response threshold in ms (default: settings)", required=False
    ),
    AIToolParameter("examples", "integer", "Examples per failure group (0-50)", required=False),
    AIToolParameter(
        "conversation_ids",
        "array",
        "Only these conversations",
        required=False,
        items=AIToolParameter("id", "string", "Conversation id"),
    ),
    AIToolParameter(
        "period", "string", "Cost period", required=False, enum=["day", "week", "month"]
    ),
    AIToolParameter("horizon_days", "integer", "Days to forecast (1-365)", required=False),
    AIToolParameter(
        "interval", "number", "Prediction interval coverage, e.g. 0.95", required=False
    ),
    AIToolParameter(
        "metrics",
        "array",
        "Metrics to forecast",
        required=False,
        items=AIToolParameter("metric", "string", "Metric", enum=list(METRICS)),
    ),
    AIToolParameter(
        "report_type", "string", "Report type", required=False, enum=list(REPORT_TYPES)
    ),
    AIToolParameter(
        "format", "string", "Report format", required=False, enum=list(FORMATS), default="html"
    ),
    AIToolParameter(
        "filename", "string", "File name inside reports/ (default: generated)", required=False
    ),
]
