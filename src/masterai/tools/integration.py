"""The ``integration`` tool (seed 000's ``IntegrationTools``).

Webhooks, APIs, databases, e-mail, files and CSV processing, and webhook subscriptions to
platform events.

A thin adapter: each operation checks its arguments and calls a service of
:mod:`masterai.services.integrations` or :mod:`masterai.events`. The registry's policy has
already checked the declared roles: ``url`` (allowed domains), ``endpoint`` (a URL's domain or
a named API), ``connection`` (allowed database connections), ``to``/``cc``/``bcc`` (allowed
e-mail domains), ``company_id`` (company access); every outbound HTTP request goes through the
egress guard with the caller's allowed domains.

``read_file`` and ``write_file`` are the ``filesystem`` tool's operations themselves (one
implementation, two names). Approval: ``call_webhook``, ``send_email`` (unless ``dry_run``),
``make_api_call`` with a method that changes something, ``write_file`` and
``delete_webhook`` are asked before they run; ``process_csv`` asks before its ``output``
replaces an existing file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ai_tool import (
    AITool,
    AIToolAuthorizationCallback,
    AIToolAuthorizationDenied,
    AIToolCall,
    AIToolDefinition,
    AIToolExecutionError,
    AIToolNotFoundError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
    AIToolValidationError,
)
from masterai.events import (
    EventsDenied,
    EventsError,
    EventsNotFound,
    EventType,
    InvalidSubscription,
    WebhookRepository,
)
from masterai.registry.approval import ApprovedToolCall
from masterai.security.parameters import ParameterRole
from masterai.security.principals import Principal
from masterai.security.workspace import WorkspaceError, WorkspaceService
from masterai.services.errors import InvalidInputError, NotFoundError, ServiceError
from masterai.services.integrations import (
    CsvService,
    DatabaseService,
    EmailService,
    HttpService,
)
from masterai.services.integrations.http import METHODS
from masterai.services.integrations.tables import FORMATS, STEPS
from masterai.settings import Settings
from masterai.store import Database
from masterai.tools.adapter import tool_result
from masterai.tools.files import FilesystemTool, check_workspace_path, principal_of, tool_error

NAME = "integration"
T = TypeVar("T")
_Handler = Callable[[AIToolCall, Principal, AIToolAuthorizationCallback], Awaitable[AIToolResult]]
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _p(name: str, type_: str, description: str, **kw: Any) -> AIToolParameter:
    return AIToolParameter(name, type_, description, required=False, **kw)


_STEP = AIToolParameter(
    "step",
    "object",
    "One step: {'op': NAME, ...} (see the operation's description)",
    properties=[
        AIToolParameter("op", "string", "The step", enum=list(STEPS)),
        _p("where", "string", 'filter: a condition over columns, e.g. "amount > 10"'),
        _p("columns", "any", "select/dedupe: column names; pivot: the column to spread"),
        _p("mapping", "object", "rename: old name -> new name"),
        _p("name", "string", "derive: the new column's name"),
        _p("expr", "string", 'derive: an expression over columns, e.g. "price * qty"'),
        _p("by", "any", "aggregate/sort: column name(s)"),
        _p("metrics", "object", 'aggregate: name -> "sum(amount)", "count(*)", ...'),
        _p("descending", "any", "sort: true/false, or one per column"),
        _p("file", "string", "join: workspace path of the other CSV", role=ParameterRole.PATH),
        _p("on", "any", "join: key column(s) present in both files"),
        _p(
            "how",
            "string",
            "join: inner, left, right or full",
            enum=["inner", "left", "right", "full"],
        ),
        _p("index", "any", "pivot: row key column(s)"),
        _p("values", "any", "pivot: column(s) aggregated into the cells"),
        _p("agg", "string", "pivot: sum, count, avg, min or max"),
        _p("n", "integer", "limit: rows to keep"),
    ],
)

_PARAMETERS = [
    _p("url", "string", "http(s) URL (a webhook receiver)", role=ParameterRole.URL),
    _p("payload", "any", "JSON sent as the request body"),
    _p("headers", "object", "Extra request headers: name -> value"),
    _p(
        "secret",
        "string",
        "HMAC-SHA256 signing secret (16+ characters); call_webhook signs with it, "
        "setup_webhook generates one when absent",
        role=ParameterRole.SECRET,
    ),
    _p(
        "endpoint",
        "string",
        "A full http(s) URL, or NAME/path of an API named in settings",
        role=ParameterRole.ENDPOINT,
    ),
    _p("method", "string", "HTTP method", enum=list(METHODS), default="GET"),
    _p("body", "any", "make_api_call: JSON (or text) body; send_email: the plain-text body"),
    _p(
        "query",
        "any",
        "query_database: one SQL statement (SELECT/WITH/EXPLAIN/SHOW) with :name parameters; "
        "make_api_call: query-string parameters (object)",
    ),
    _p(
        "connection",
        "string",
        "Name of a database connection from settings",
        role=ParameterRole.CONNECTION,
    ),
    _p("parameters", "object", "Values of the query's :name parameters"),
    _p("max_rows", "integer", "Most rows returned (capped by settings)"),
    _p(
        "to",
        "array",
        "Recipients",
        items=AIToolParameter("address", "string", "E-mail address"),
        role=ParameterRole.EMAIL,
    ),
    _p(
        "cc",
        "array",
        "Copy recipients",
        items=AIToolParameter("address", "string", "E-mail address"),
        role=ParameterRole.EMAIL,
    ),
    _p(
        "bcc",
        "array",
        "Hidden recipients",
        items=AIToolParameter("address", "string", "E-mail address"),
        role=ParameterRole.EMAIL,
    ),
    _p("subject", "string", "Subject line"),
    _p("html", "string", "HTML alternative of the body"),
    _p(
        "attachments",
        "array",
        "Workspace paths of files to attach",
        items=AIToolParameter("path", "string", "Workspace path"),
        role=ParameterRole.PATH,
    ),
    _p("dry_run", "boolean", "Render the message and send nothing", default=False),
    _p("file", "string", "Workspace path of the CSV file", role=ParameterRole.PATH),
    _p(
        "operations",
        "array",
        "Steps applied in order: filter, select, rename, derive, aggregate, sort, dedupe, "
        "join, pivot, limit",
        items=_STEP,
    ),
    _p(
        "output",
        "string",
        "Workspace path to write the result to (.csv, .json or .parquet)",
        role=ParameterRole.PATH,
    ),
    _p(
        "format",
        "string",
        "Output format (default: from the output's extension)",
        enum=list(FORMATS),
    ),
    _p(
        "event",
        "string",
        "Event type, 'family.*' or '*': " + ", ".join(t.value for t in EventType),
    ),
    _p(
        "company_id",
        "string",
        "The company a webhook belongs to (none: platform)",
        role=ParameterRole.COMPANY,
    ),
    _p("name", "string", "A name for the webhook (default: generated)"),
    _p("webhook", "any", "A webhook's id or name"),
    _p("status", "string", "Delivery status", enum=["pending", "delivered", "dead"]),
    _p("limit", "integer", "Most deliveries listed", default=50),
    _p("delivery_id", "integer", "A delivery's id"),
]


class IntegrationTool(AITool):
    """Webhooks, APIs, databases, e-mail, files and CSV (see the module docstring)."""

    type_check_arguments = True

    def __init__(
        self,
        *,
        http: HttpService,
        databases: DatabaseService,
        email: EmailService,
        csv: CsvService,
        webhooks: WebhookRepository,
        files: FilesystemTool,
        workspace: WorkspaceService,
    ) -> None:
        super().__init__()
        self._http = http
        self._databases = databases
        self._email = email
        self._csv = csv
        self._webhooks = webhooks
        self._files = files
        self._workspace = workspace

    @classmethod
    def from_settings(cls, settings: Settings, database: Database) -> IntegrationTool:
        """The tool with every service built from ``settings``."""
        workspace = WorkspaceService(settings.workspace)
        integrations = settings.integrations
        return cls(
            http=HttpService(integrations, settings.egress),
            databases=DatabaseService(integrations),
            email=EmailService(settings.email, database, workspace),
            csv=CsvService(
                workspace,
                memory_limit=integrations.csv_memory_limit,
                preview_rows=integrations.csv_preview_rows,
            ),
            webhooks=WebhookRepository(database),
            files=FilesystemTool(workspace),
            workspace=workspace,
        )

    def get_definition(self) -> AIToolDefinition:
        """The ``integration`` definition."""
        return self._build_definition_from_operations(
            name=NAME,
            description_prefix=(
                "Reach the outside world: call webhooks and HTTP APIs, query databases "
                "read-only, send e-mail, read and write workspace files, process CSV files "
                "with typed steps, and subscribe webhooks to platform events."
            ),
            additional_parameters=[*_PARAMETERS, *self._file_parameters()],
        )

    def _file_parameters(self) -> list[AIToolParameter]:
        """The filesystem tool's parameters of ``read_file`` and ``write_file``."""
        fs = self._files.get_operation_definitions()
        names = fs["read_file"].allowed_parameters | fs["write_file"].allowed_parameters
        return [p for p in self._files.get_definition().parameters if p.name in names]

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """The seed's integration operations plus webhook management."""
        op = self._operation
        fs = self._files.get_operation_definitions()
        return {
            "call_webhook": op(
                "call_webhook",
                self._call_webhook,
                {"url", "payload"},
                {"headers", "secret"},
                "POST JSON to a URL (signed with 'secret' when given); status, headers, body",
            ),
            "make_api_call": op(
                "make_api_call",
                self._make_api_call,
                {"endpoint"},
                {"method", "body", "headers", "query"},
                "Call an HTTP API: a full URL or NAME/path of a named API; idempotent "
                "methods are retried",
            ),
            "query_database": op(
                "query_database",
                self._query_database,
                {"connection", "query"},
                {"parameters", "max_rows"},
                "Run one read-only SQL statement on a named connection; rows, columns, types",
                read_only=True,
            ),
            "send_email": op(
                "send_email",
                self._send_email,
                {"to", "subject", "body"},
                {"cc", "bcc", "html", "attachments", "dry_run"},
                "Send an e-mail (attachments from the workspace); dry_run renders it",
            ),
            "read_file": fs["read_file"],
            "write_file": fs["write_file"],
            "process_csv": op(
                "process_csv",
                self._process_csv,
                {"file", "operations"},
                {"output", "format"},
                "Process a workspace CSV with steps (filter, select, rename, derive, "
                "aggregate, sort, dedupe, join, pivot, limit): preview, row count, output file",
                read_only=False,
            ),
            "setup_webhook": op(
                "setup_webhook",
                self._setup_webhook,
                {"event", "url"},
                {"secret", "company_id", "name"},
                "Subscribe a URL to platform events (signed deliveries with retries)",
            ),
            "list_webhooks": op(
                "list_webhooks",
                self._list_webhooks,
                set(),
                {"company_id"},
                "List webhook subscriptions",
                read_only=True,
            ),
            "delete_webhook": op(
                "delete_webhook",
                self._delete_webhook,
                {"webhook"},
                set(),
                "Remove a webhook subscription and its delivery log",
                destructive=True,
            ),
            "list_deliveries": op(
                "list_deliveries",
                self._list_deliveries,
                set(),
                {"webhook", "status", "limit"},
                "The delivery log: each event sent to a webhook, with every attempt",
                read_only=True,
            ),
            "check_database": op(
                "check_database",
                self._check_database,
                {"connection"},
                set(),
                "Check a database connection: connect read-only, server version, latency",
                read_only=True,
            ),
            "check_email": op(
                "check_email",
                self._check_email,
                set(),
                set(),
                "Check the SMTP settings: connect, STARTTLS and log in as configured",
                read_only=True,
            ),
            "redeliver": op(
                "redeliver",
                self._redeliver,
                {"delivery_id"},
                set(),
                "Send a delivery again (a dead-lettered one included)",
            ),
        }

    @staticmethod
    def _operation(
        name: str,
        handler: _Handler,
        required: set[str],
        optional: set[str],
        description: str,
        *,
        read_only: bool = False,
        destructive: bool = False,
    ) -> AIToolOperationDefinition:
        async def run(
            tool_call: AIToolCall, requester_ref: Any, ask: AIToolAuthorizationCallback
        ) -> AIToolResult:
            return await handler(tool_call, principal_of(requester_ref), ask)

        return AIToolOperationDefinition(
            name,
            run,
            _context,
            required | optional,
            required,
            description,
            read_only=read_only,
            destructive=destructive,
        )

    def requires_authorization(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> bool:
        """Ask before anything leaves the platform or is destroyed (module docstring)."""
        name = operation.name
        if name in ("read_file", "write_file"):
            return self._files.requires_authorization(operation, arguments)
        if name == "call_webhook":
            return True
        if name == "send_email":
            return not arguments.get("dry_run", False)
        if name == "make_api_call":
            return str(arguments.get("method", "GET")).upper() not in _SAFE_METHODS
        return operation.destructive

    def check_operation_arguments(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> None:
        """Refuse malformed paths and mistyped shared parameters before anything runs."""
        name = operation.name
        if name in ("read_file", "write_file"):
            self._files.check_operation_arguments(operation, arguments)
            return
        for key in ("file", "output"):
            if key in arguments:
                check_workspace_path(self._workspace, arguments[key], key)
        for i, path in enumerate(arguments.get("attachments") or []):
            check_workspace_path(self._workspace, path, f"attachments[{i}]")
        for i, step in enumerate(arguments.get("operations") or []):
            if isinstance(step, dict) and "file" in step:
                check_workspace_path(self._workspace, step["file"], f"operations[{i}].file")
        expected = {
            ("query_database", "query"): str,
            ("make_api_call", "query"): dict,
            ("send_email", "body"): str,
        }
        for (op_name, key), kind in expected.items():
            if name == op_name and key in arguments and not isinstance(arguments[key], kind):
                what = "text" if kind is str else "an object"
                raise AIToolValidationError(f"'{key}' of {name} must be {what}", key)

    # --- handlers -----------------------------------------------------------------------

    async def _call_webhook(
        self, call: AIToolCall, principal: Principal, ask: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = call.arguments
        result = await _service(
            self._http.call_webhook(
                args["url"],
                args["payload"],
                allowed_hosts=principal.permissions.integrations.allowed_domains,
                headers=args.get("headers"),
                secret=args.get("secret"),
            )
        )
        return tool_result(
            call,
            f"POST {args['url']} -> {result.status} in {result.latency_ms:.0f} ms",
            result.to_dict(),
        )

    async def _make_api_call(
        self, call: AIToolCall, principal: Principal, ask: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = call.arguments
        result = await _service(
            self._http.api_call(
                args["endpoint"],
                args.get("method", "GET"),
                allowed_hosts=principal.permissions.integrations.allowed_domains,
                body=args.get("body"),
                headers=args.get("headers"),
                query=args.get("query"),
            )
        )
        summary = (
            f"{result.method} {result.endpoint} -> {result.status} in {result.latency_ms:.0f} ms"
            f" ({result.attempts} attempt{'s' if result.attempts != 1 else ''})"
        )
        return tool_result(call, summary, result.to_dict())

    async def _query_database(
        self, call: AIToolCall, principal: Principal, ask: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = call.arguments
        result = await _service(
            asyncio.to_thread(
                self._databases.query,
                args["connection"],
                args["query"],
                args.get("parameters"),
                max_rows=args.get("max_rows"),
            )
        )
        more = " (more rows exist; raise max_rows)" if result.truncated else ""
        summary = f"{result.row_count} row(s) from {result.connection}{more}"
        return tool_result(call, summary, result.to_dict())

    async def _send_email(
        self, call: AIToolCall, principal: Principal, ask: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = call.arguments
        to, cc, bcc = args["to"], args.get("cc") or [], args.get("bcc") or []
        attachments = args.get("attachments") or []
        message = await _service(
            asyncio.to_thread(
                self._email.render,
                principal,
                to=to,
                subject=args["subject"],
                body=args["body"],
                cc=cc,
                bcc=bcc,
                html=args.get("html"),
                attachments=attachments,
            )
        )
        result = await _service(
            self._email.send(
                principal,
                message,
                recipients=[*to, *cc, *bcc],
                attachments=attachments,
                dry_run=bool(args.get("dry_run")),
            )
        )
        if result.status == "dry_run":
            summary = f"Dry run: {result.subject!r} to {len(result.recipients)} recipient(s)"
        else:
            summary = (
                f"E-mail {result.status}: {len(result.accepted)} accepted, "
                f"{len(result.refused)} refused ({result.message_id})"
            )
        return tool_result(call, summary, result.to_dict())

    async def _process_csv(
        self, call: AIToolCall, principal: Principal, ask: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = call.arguments
        output = args.get("output")
        replace = isinstance(call, ApprovedToolCall) and call.approval is not None
        if output is not None and not replace:
            exists = await _service(
                asyncio.to_thread(self._workspace.exists, principal, output, key="output")
            )
            if exists:
                reason = "The integration tool wants to replace a file with the CSV result"
                if not await ask(NAME, args, reason, f"Replaces {output!r}", True):
                    raise AIToolAuthorizationDenied(
                        f"Authorization denied for integration process_csv: {output!r} exists"
                    )
                replace = True
        result = await _service(
            asyncio.to_thread(
                self._csv.process,
                principal,
                args["file"],
                args["operations"],
                output=output,
                output_format=args.get("format"),
                replace=replace,
            )
        )
        written = f"; wrote {result.output} ({result.format})" if result.output else ""
        return tool_result(call, f"{result.row_count} row(s){written}", result.to_dict())

    async def _setup_webhook(
        self, call: AIToolCall, principal: Principal, ask: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = call.arguments
        info = await _service(
            asyncio.to_thread(
                self._webhooks.create,
                principal,
                event=args["event"],
                url=args["url"],
                secret=args.get("secret"),
                company_id=args.get("company_id"),
                name=args.get("name"),
            )
        )
        shown = " (secret generated: store it, it is not shown again)" if info.secret else ""
        summary = f"Webhook {info.id} {info.name!r}: {', '.join(info.events)} -> {info.url}{shown}"
        return tool_result(call, summary, info.to_dict())

    async def _list_webhooks(
        self, call: AIToolCall, principal: Principal, ask: AIToolAuthorizationCallback
    ) -> AIToolResult:
        hooks = await _service(
            asyncio.to_thread(
                self._webhooks.visible, principal, company_id=call.arguments.get("company_id")
            )
        )
        lines = [
            f"{h.id} {h.name}: {', '.join(h.events)} -> {h.url} ({h.company_id or 'platform'})"
            for h in hooks
        ]
        return tool_result(call, "\n".join(lines) or "No webhooks", [h.to_dict() for h in hooks])

    async def _delete_webhook(
        self, call: AIToolCall, principal: Principal, ask: AIToolAuthorizationCallback
    ) -> AIToolResult:
        info = await _service(
            asyncio.to_thread(self._webhooks.delete, principal, call.arguments["webhook"])
        )
        return tool_result(call, f"Removed webhook {info.id} {info.name!r}", info.to_dict())

    async def _list_deliveries(
        self, call: AIToolCall, principal: Principal, ask: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = call.arguments
        found = await _service(
            asyncio.to_thread(
                self._webhooks.deliveries,
                principal,
                webhook=args.get("webhook"),
                status=args.get("status"),
                limit=args.get("limit", 50),
            )
        )
        lines = [
            f"{d.id} {d.event_type} -> {d.webhook}: {d.status} after {len(d.history)} "
            f"attempt(s){f' ({d.last_error})' if d.last_error else ''}"
            for d in found
        ]
        return tool_result(call, "\n".join(lines) or "No deliveries", [d.to_dict() for d in found])

    async def _check_database(
        self, call: AIToolCall, principal: Principal, ask: AIToolAuthorizationCallback
    ) -> AIToolResult:
        name = call.arguments["connection"]
        health = await _service(asyncio.to_thread(self._databases.check, name))
        state = f"ok ({health.server_version})" if health.ok else f"failed: {health.error}"
        return tool_result(call, f"Connection {name!r}: {state}", health.to_dict())

    async def _check_email(
        self, call: AIToolCall, principal: Principal, ask: AIToolAuthorizationCallback
    ) -> AIToolResult:
        health = await self._email.check()
        where = f"{health.host}:{health.port}"
        state = "ok" if health.ok else f"failed: {health.error}"
        return tool_result(call, f"SMTP {where}: {state}", health.to_dict())

    async def _redeliver(
        self, call: AIToolCall, principal: Principal, ask: AIToolAuthorizationCallback
    ) -> AIToolResult:
        info = await _service(
            asyncio.to_thread(self._webhooks.redeliver, principal, call.arguments["delivery_id"])
        )
        return tool_result(call, f"Delivery {info.id} queued again", info.to_dict())


def _context(arguments: dict[str, Any]) -> str | None:
    for key in ("url", "endpoint", "connection", "file", "webhook", "delivery_id"):
        if key in arguments:
            return f"{key} {arguments[key]!r}"
    if "to" in arguments:
        return f"to {', '.join(map(str, arguments['to']))}"
    return None


async def _service(work: Awaitable[T]) -> T:
    """Await a service call; its refusals become the matching tool errors."""
    try:
        return await work
    except (InvalidInputError, InvalidSubscription) as e:
        raise AIToolValidationError(str(e)) from e
    except (NotFoundError, EventsNotFound) as e:
        raise AIToolNotFoundError(str(e)) from e
    except EventsDenied as e:
        raise AIToolAuthorizationDenied(str(e)) from e
    except WorkspaceError as e:
        raise tool_error(e) from e
    except (ServiceError, EventsError) as e:
        raise AIToolExecutionError(str(e)) from e


__all__ = ["IntegrationTool"]
