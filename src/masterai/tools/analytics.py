"""The ``analytics`` tool: conversation analytics, costs, forecasts, failures and reports.

A thin adapter over :class:`masterai.services.analytics.AnalyticsService`. The analyses and
``generate_report`` are read-only: they change no platform data. ``generate_report`` writes a
report file through the company-isolated workspace and returns its path (with
``include_content`` it returns the report itself and writes nothing): a report of one company
goes to ``companies/<id>/reports/`` when the caller may change that company, every other one
(several or all companies, or a company the caller may only read) to the caller's private
``users/<name>/reports/`` — never to ``shared/``, which everyone reads. A ``filename`` naming
an existing report replaces it only if the approver agrees, as ``filesystem.write_file``
needs. Two operations change data: ``import_conversations`` (conversations from JSONL or CSV,
sent as ``content`` or read from a workspace ``path`` the caller may read) and ``refresh``
(rewrites the columnar analytics copy). Results are JSON with a readable ``summary`` for the
model and the structured ``result``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ai_tool import (
    AITool,
    AIToolAuthorizationCallback,
    AIToolAuthorizationDenied,
    AIToolCall,
    AIToolDefinition,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
    AIToolValidationError,
)
from masterai.security.parameters import ParameterRole
from masterai.security.principals import Principal
from masterai.security.workspace import (
    WorkspaceFileExists,
    WorkspaceService,
)
from masterai.services.analytics import AnalyticsService, Scope
from masterai.services.analytics.forecast import METRICS
from masterai.services.analytics.reports import (
    FORMATS,
    REPORT_TYPES,
    RenderedReport,
    check_filename,
    render_report,
    report_name,
)
from masterai.services.errors import InvalidInputError
from masterai.services.importer import (
    FORMATS as IMPORT_FORMATS,
)
from masterai.services.importer import (
    MAX_ERRORS_SHOWN,
    ImportReport,
    detect_format,
    import_conversations_text,
)
from masterai.tools.adapter import call_service, tool_result
from masterai.tools.files import check_workspace_path, in_workspace, principal_of

NAME = "analytics"
_SCOPE = {"company_id", "company_ids", "start_date", "end_date", "days"}
WRITE_TIMEOUT = 600.0
"""Seconds ``import_conversations`` and ``refresh`` may run (a large file, a cold copy)."""

# Read-only operations over a scope: operation -> (extra allowed parameters, required,
# description).
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
        {"report_type", "format", "filename", "include_content"},
        {"report_type"},
        "Write a report (company_summary, comparison, costs) as html, markdown or json into "
        "the workspace and return its path; with include_content, return the report itself "
        "(content) and write nothing",
    ),
}
# Operations that change data: operation -> (allowed parameters, description).
_WRITE_OPERATIONS: dict[str, tuple[set[str], str]] = {
    "import_conversations": (
        {"content", "path", "format", "skip_bad", "create_companies"},
        "Import conversations and their messages from JSONL or CSV: the data itself "
        "(content, with format) or a file in the workspace (path). Every line is checked "
        "first; bad lines are reported by number and, unless skip_bad, nothing is imported",
    ),
    "refresh": (
        {"rebuild"},
        "Bring the columnar analytics copy in step with the store now (rebuild: copy "
        "everything again), so the next analysis does not pay for it",
    ),
}


class AnalyticsTool(AITool):
    """Analyse conversations of companies; import them; refresh the analytics copy.

    Args:
        service: The analytics service.
        workspace: The workspace (a directory, or its service) reports are written into and
            imports read from.
    """

    type_check_arguments = True

    def __init__(self, service: AnalyticsService, workspace: Path | WorkspaceService) -> None:
        self._service = service
        self._files = (
            workspace if isinstance(workspace, WorkspaceService) else WorkspaceService(workspace)
        )

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
        """Return the analytics operations (the analyses read-only)."""
        handlers: dict[str, Callable[..., Any]] = {
            "analyze_conversations": self._analyze,
            "identify_patterns": self._patterns,
            "identify_failures": self._failures,
            "measure_satisfaction": self._satisfaction,
            "analyze_costs": self._costs,
            "predict_usage": self._forecast,
            "generate_report": self._report,
            "import_conversations": self._import,
            "refresh": self._refresh,
        }
        ops = {
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
        for name, (allowed, description) in _WRITE_OPERATIONS.items():
            ops[name] = AIToolOperationDefinition(
                name, handlers[name], None, allowed, set(), description, timeout=WRITE_TIMEOUT
            )
        return ops

    def check_operation_arguments(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> None:
        """Check what one schema cannot say: ``format`` per operation, exclusive pairs, paths."""
        if operation.name == "import_conversations":
            _check_import(arguments)
        elif operation.name == "generate_report":
            _check_report(arguments)
        if "path" in arguments:
            check_workspace_path(self._files, arguments["path"], "path")
        if "filename" in arguments:
            try:
                check_filename(arguments["filename"])
            except InvalidInputError as e:
                raise AIToolValidationError(str(e), "filename") from None

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
        if args.get("include_content", False):
            return await self._report_content(tool_call, requester_ref)
        principal = principal_of(requester_ref)

        def work() -> tuple[RenderedReport, str]:
            scope = self._scope(args, requester_ref)
            fmt_ = args.get("format", "html")
            name = report_name(args["report_type"], scope, fmt_, args.get("filename"))
            report = render_report(self._service, args["report_type"], scope, fmt_=fmt_)
            return report, f"{_report_folder(principal, scope)}/{name}"

        report, path = await call_service(work)
        data = report.text.encode()
        if not await in_workspace(self._write_new, principal, path, data):
            reason = "The analytics tool wants to replace an existing report"
            if not await auth(NAME, args, reason, f"Replaces {path!r}", True):
                raise AIToolAuthorizationDenied(
                    f"Authorization denied for analytics generate_report: {path!r} exists "
                    "and would be replaced"
                )
            await in_workspace(self._files.write_bytes, principal, path, data, replace=True)
        written = {
            "report_type": report.report_type,
            "format": report.format,
            "title": report.title,
            "path": path,
            "bytes": report.bytes,
            "summary": report.summary,
        }
        summary = f"Wrote {report.title} to {path} ({report.bytes:,} bytes).\n"
        return tool_result(tool_call, summary + report.summary, written)

    def _write_new(self, principal: Principal, path: str, data: bytes) -> bool:
        """Write a report that does not exist yet; ``False`` (nothing written) if it does."""
        try:
            self._files.write_bytes(principal, path, data, replace=False)
        except WorkspaceFileExists:
            return False
        return True

    async def _report_content(self, tool_call: AIToolCall, requester_ref: Any) -> AIToolResult:
        """The report itself in the result (``content``); nothing is written."""
        args = tool_call.arguments

        def work() -> Any:
            return render_report(
                self._service,
                args["report_type"],
                self._scope(args, requester_ref),
                fmt_=args.get("format", "html"),
            )

        report = await call_service(work)
        data = {
            "report_type": report.report_type,
            "format": report.format,
            "title": report.title,
            "path": None,
            "bytes": report.bytes,
            "summary": report.summary,
            "content": report.text,
        }
        summary = f"Built {report.title} ({report.bytes:,} bytes; in content, not written).\n"
        return tool_result(tool_call, summary + report.summary, data)

    async def _import(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        database = self._service.database
        data = getattr(getattr(requester_ref, "permissions", None), "data_access", None)
        options: dict[str, Any] = {
            "skip_bad": args.get("skip_bad", False),
            "create_companies": args.get("create_companies", False),
            # The file names its companies: each must be one the requester may change.
            "may_write": data.can_write if data is not None else None,
        }
        if "path" in args:
            path = args["path"]
            try:
                fmt_ = detect_format(Path(path), args.get("format"))
            except InvalidInputError as e:
                raise AIToolExecutionError(str(e)) from e
            raw = await in_workspace(self._files.read_bytes, principal_of(requester_ref), path)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise AIToolExecutionError(f"{path}: not UTF-8 text ({e.reason})") from None
            report = await call_service(
                import_conversations_text, database, text, fmt=fmt_, source=path, **options
            )
        else:
            report = await call_service(
                import_conversations_text, database, args["content"], fmt=args["format"], **options
            )
        return tool_result(tool_call, _import_summary(report), report.to_dict())

    async def _refresh(
        self, tool_call: AIToolCall, requester_ref: Any, auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        report = await call_service(
            self._service.refresh, rebuild=tool_call.arguments.get("rebuild", False)
        )
        summary = (
            f"{'Rebuilt' if report.rebuilt else 'Updated'} the analytics copy: "
            f"{report.messages_added} messages added"
            + (", conversations reloaded." if report.conversations_reloaded else ".")
        )
        return tool_result(tool_call, summary, dataclasses.asdict(report))


def _check_import(arguments: dict[str, Any]) -> None:
    fmt = arguments.get("format")
    if ("content" in arguments) == ("path" in arguments):
        raise AIToolValidationError(
            "import_conversations needs exactly one of content (the data itself) or "
            "path (a file in the workspace)",
            "content",
        )
    if fmt is not None and fmt not in IMPORT_FORMATS:
        raise AIToolValidationError(
            f"format {fmt!r} cannot be imported; allowed: {', '.join(IMPORT_FORMATS)}",
            "format",
        )
    if "content" in arguments and fmt is None:
        raise AIToolValidationError(
            f"format is required with content: {', '.join(IMPORT_FORMATS)}", "format"
        )


def _check_report(arguments: dict[str, Any]) -> None:
    fmt = arguments.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise AIToolValidationError(
            f"format {fmt!r} is not a report format; allowed: {', '.join(FORMATS)}",
            "format",
        )
    if arguments.get("include_content") and "filename" in arguments:
        raise AIToolValidationError(
            "filename and include_content exclude each other: with include_content "
            "the report is returned, not written",
            "filename",
        )


def _report_folder(principal: Principal, scope: Scope) -> str:
    """Where a report of ``scope`` written by ``principal`` goes (see the module docstring).

    Only a one-company report the caller may change goes to that company's folder; every
    other report (several or all companies, which may mix what different readers may see;
    a company the caller only reads) stays private to the caller.
    """
    companies = scope.company_ids or ()
    if len(companies) == 1 and principal.permissions.data_access.can_write(companies[0]):
        return f"companies/{companies[0]}/reports"
    return f"users/{principal.name}/reports"


def _import_summary(report: ImportReport) -> str:
    lines = [f"Imported {report.conversations} conversations, {report.messages} messages."]
    if report.created_companies:
        lines.append(f"Created companies: {', '.join(report.created_companies)}.")
    lines += [f"skipped line {b.line}: {b.message}" for b in report.skipped[:MAX_ERRORS_SHOWN]]
    if len(report.skipped) > MAX_ERRORS_SHOWN:
        lines.append(f"... and {len(report.skipped) - MAX_ERRORS_SHOWN} more skipped lines")
    return "\n".join(lines)


_PARAMETERS = [
    AIToolParameter(
        "company_id", "string", "One company id (slug)", required=False, role=ParameterRole.COMPANY
    ),
    AIToolParameter(
        "company_ids",
        "array",
        "Several company ids (omit both for all companies)",
        required=False,
        items=AIToolParameter("company_id", "string", "Company id"),
        role=ParameterRole.COMPANY,
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
        "format",
        "string",
        "generate_report: html (default), markdown or json; import_conversations: jsonl or "
        "csv (required with content; default for path: by its suffix)",
        required=False,
        enum=[*FORMATS, *IMPORT_FORMATS],
    ),
    AIToolParameter(
        "filename",
        "string",
        "Plain file name of the report, inside companies/<id>/reports/ or "
        "users/<your name>/reports/ (default: generated)",
        required=False,
        role=ParameterRole.PATH,
    ),
    AIToolParameter(
        "include_content",
        "boolean",
        "Return the report itself (content) and write nothing (default false)",
        required=False,
    ),
    AIToolParameter(
        "content",
        "string",
        "The conversations to import: the text of a JSONL or CSV file",
        required=False,
        role=ParameterRole.PLAIN,
    ),
    AIToolParameter(
        "path",
        "string",
        "A JSONL or CSV file in the workspace to import (relative path)",
        required=False,
        role=ParameterRole.PATH,
    ),
    AIToolParameter(
        "skip_bad",
        "boolean",
        "Import the good conversations and report the bad lines (default: import nothing "
        "when any line is bad)",
        required=False,
    ),
    AIToolParameter(
        "create_companies",
        "boolean",
        "Create companies the data names that do not exist yet",
        required=False,
        role=ParameterRole.PLAIN,
    ),
    AIToolParameter(
        "rebuild", "boolean", "refresh: copy everything again (default false)", required=False
    ),
]
