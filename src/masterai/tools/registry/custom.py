"""The ``registry`` tool's custom-tools part: define, test, activate and manage custom tools.

``create_custom_tool`` saves version 1 as a draft; ``update_custom_tool`` saves a new version
(history kept; the active one stays active); ``test_custom_tool`` runs a version's tests in
the sandbox under the caller's code-execution limits and reports each case;
``activate_custom_tool`` needs approval, shows the approver the code diff against the active
version, and is refused while the version's tests fail. Code runs only in the sandbox, with
the arguments as JSON on its stdin (see :mod:`masterai.services.custom_tools.runner`).

``run_realtime_batch`` is the realtime monitors' call (docs/alerts.md): the active version of a
realtime tool over a batch of one company's messages, in one sandbox process, as one audited
call. It is internal (not offered to the agent or MCP clients), runs code (the policy needs
code execution), and only the tool's owner or a super admin may make it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ai_tool import (
    AIToolAuthorizationCallback,
    AIToolAuthorizationDenied,
    AIToolCall,
    AIToolCheckedCall,
    AIToolExecutionError,
    AIToolNotFoundError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
    AIToolValidationError,
)
from masterai.registry import Preview
from masterai.sandbox import CodeExecutionEnvironment
from masterai.security import ParameterRole, Principal
from masterai.services.alerts import realtime_arguments
from masterai.services.custom_tools import (
    LANGUAGES,
    CustomToolAccessDenied,
    CustomToolRunner,
    CustomToolService,
    ToolSpec,
    ToolStatus,
    ToolTrigger,
    report_of,
)
from masterai.services.custom_tools.runner import MAX_BATCH
from masterai.services.errors import ConflictError, InvalidInputError, NotFoundError, ServiceError
from masterai.tools.adapter import tool_result

if TYPE_CHECKING:
    from masterai.settings import Settings
    from masterai.store import Database

REALTIME_BATCH = "run_realtime_batch"
Handler = Callable[[AIToolCall, Any, AIToolAuthorizationCallback], Awaitable[AIToolResult]]
BUILT_IN_TOOLS = frozenset(
    {
        "clock",
        "filesystem",
        "admin",
        "configuration",
        "analytics",
        "code",
        "integration",
        "aidev",
        "registry",
    }
)
"""Names a custom tool may not take (the tools of :func:`masterai.tools.register_tools`)."""
SPEC_FIELDS = (
    "description",
    "code",
    "parameters",
    "language",
    "output_schema",
    "tests",
    "trigger",
    "schedule",
    "timezone",
    "companies",
    "roles",
)


def _p(name: str, kind: str, text: str, role: ParameterRole | None = None, **kw: Any) -> Any:
    return AIToolParameter(name, kind, text, required=False, role=role, **kw)


PARAMETERS = [
    _p("name", "string", "Custom tool name (lower-case snake case; its registry name)"),
    _p("description", "string", "What the tool does (shown to models and people)"),
    _p(
        "parameters",
        "object",
        "JSON Schema (type object) of the tool's arguments; a property may declare "
        "'x-role' (company, url, email, ...) for the policy",
    ),
    _p(
        "code",
        "string",
        "The code: Python 'def run(args, ctx)' or JavaScript 'export function run(args, "
        "ctx)', returning a JSON value",
        ParameterRole.CODE,
    ),
    _p(
        "language",
        "string",
        "python (default) or javascript",
        ParameterRole.LANGUAGE,
        enum=list(LANGUAGES),
    ),
    _p("output_schema", "object", "JSON Schema every result must satisfy"),
    _p(
        "tests",
        "array",
        "Test cases: {name?, arguments: {...}, expected: VALUE} or {..., assert: SCHEMA}",
        items=AIToolParameter("case", "object", "One test case"),
    ),
    _p(
        "trigger",
        "string",
        "manual (default), schedule (cron) or realtime (every new assistant message of its "
        "companies)",
        enum=[t.value for t in ToolTrigger],
    ),
    _p("schedule", "string", "Cron expression of a 'schedule' trigger ('0 * * * *')"),
    _p("timezone", "string", "IANA time zone of the schedule (default UTC)"),
    _p(
        "companies",
        "array",
        "Companies the tool serves (realtime runs; callers need access to one)",
        ParameterRole.COMPANY,
        items=AIToolParameter("company", "string", "Company id"),
    ),
    _p(
        "roles",
        "array",
        "Roles whose members may call the tool besides its owner (default: owner only)",
        items=AIToolParameter("role", "string", "Role name"),
    ),
    _p("version", "integer", "Version (default: the newest)"),
    _p(
        "company_id",
        "string",
        "list_alerts: only this company's alerts; run_realtime_batch: the company the "
        "messages are from",
        ParameterRole.COMPANY,
    ),
    _p(
        "messages",
        "array",
        "run_realtime_batch: the messages, {id, role, content, seq, created_at, model, "
        "conversation_id}",
        items=AIToolParameter("message", "object", "One message"),
    ),
    _p(
        "status",
        "string",
        "list_custom_tools: only tools in this state",
        enum=[s.value for s in ToolStatus],
    ),
]


def service_error(error: ServiceError) -> Exception:
    """The tool error a service error becomes (the message is already user-facing)."""
    if isinstance(error, CustomToolAccessDenied):
        return AIToolAuthorizationDenied(str(error))
    if isinstance(error, InvalidInputError):
        return AIToolValidationError(str(error))
    if isinstance(error, NotFoundError):
        return AIToolNotFoundError(str(error))
    if isinstance(error, ConflictError):
        return AIToolExecutionError(str(error))
    return AIToolExecutionError(str(error))


async def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking service call in a thread; service errors become tool errors."""
    import asyncio

    try:
        return await asyncio.to_thread(function, *args, **kwargs)
    except ServiceError as error:
        raise service_error(error) from error


def principal_of(requester_ref: Any) -> Principal:
    """The acting principal (custom tools need a known one)."""
    if not isinstance(requester_ref, Principal):
        raise AIToolAuthorizationDenied("custom tools need a known principal")
    return requester_ref


def _name(args: dict[str, Any]) -> str:
    name = args.get("name")
    if not isinstance(name, str) or not name:
        raise AIToolValidationError("name is required", "name")
    return name


def _messages(value: Any) -> list[dict[str, Any]]:
    """The batch of ``run_realtime_batch``: objects with a string ``content``."""
    if not isinstance(value, list) or len(value) > MAX_BATCH:
        raise AIToolValidationError(f"messages must be a list of at most {MAX_BATCH}", "messages")
    for i, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise AIToolValidationError(
                "each message is an object with a string 'content'", f"messages[{i}]"
            )
    return value


def _is_alert(value: Any) -> bool:
    return isinstance(value, dict) and value.get("alert") is True


def _spec_fields(args: dict[str, Any]) -> dict[str, Any]:
    return {k: args[k] for k in SPEC_FIELDS if k in args}


class CustomToolsPart:
    """The custom-tool operations of the ``registry`` tool.

    Args:
        service: the custom tools in the store.
        runner: runs their code in the sandbox.
    """

    previewed = frozenset({"activate_custom_tool"})
    internal_operations = frozenset({REALTIME_BATCH})
    """Called by the monitor loop, not offered to the agent (see ``INTERNAL_OPERATIONS``)."""
    code_operations = frozenset({REALTIME_BATCH})
    """Runs a stored tool's code: the policy requires code execution."""

    def __init__(self, service: CustomToolService, runner: CustomToolRunner) -> None:
        self.service = service
        self.runner = runner

    def parameters(self) -> list[AIToolParameter]:
        """The part's parameters, each declaring its role where it has one."""
        return list(PARAMETERS)

    def operations(self) -> dict[str, AIToolOperationDefinition]:
        """create/update/test/activate/disable/get/list/delete_custom_tool."""
        spec = set(SPEC_FIELDS)
        ops: dict[str, AIToolOperationDefinition] = {}

        def op(
            name: str, handler: Handler, allowed: set[str], required: set[str], text: str, **kw: Any
        ) -> None:
            ops[name] = AIToolOperationDefinition(
                name, handler, None, allowed, required, text, **kw
            )

        op(
            "create_custom_tool",
            self._create,
            {"name"} | spec,
            {"name", "description", "code"},
            "Define a custom tool (version 1, a draft): JSON Schema of its arguments, code "
            "with run(args, ctx), tests, trigger and scope",
        )
        op(
            "update_custom_tool",
            self._update,
            {"name"} | spec,
            {"name"},
            "Save a new version of a custom tool (earlier versions are kept)",
        )
        op(
            "test_custom_tool",
            self._test,
            {"name", "version"},
            {"name"},
            "Run a version's tests in the sandbox and report each case",
        )
        op(
            "activate_custom_tool",
            self._activate,
            {"name", "version"},
            {"name", "version"},
            "Make a tested version active: it is registered under its own name (needs "
            "approval; shows the code diff; refused while its tests fail)",
            destructive=True,
        )
        op(
            "disable_custom_tool",
            self._disable,
            {"name"},
            {"name"},
            "Unregister an active custom tool (versions are kept)",
            idempotent=True,
        )
        op(
            "get_custom_tool",
            self._get,
            {"name", "version"},
            {"name"},
            "A custom tool: its definition, versions, last test report",
            read_only=True,
        )
        op(
            "list_custom_tools",
            self._list,
            {"status"},
            set(),
            "The custom tools you may see",
            read_only=True,
        )
        op(
            "delete_custom_tool",
            self._delete,
            {"name"},
            {"name"},
            "Delete a custom tool with all its versions",
            destructive=True,
        )
        op(
            REALTIME_BATCH,
            self._run_realtime,
            {"name", "company_id", "messages"},
            {"name", "company_id", "messages"},
            "Run an active realtime custom tool over a batch of one company's messages in one "
            "sandbox process (the realtime monitors' call; its owner or a super admin only)",
            read_only=True,
        )
        return ops

    async def preview(self, checked: AIToolCheckedCall, requester_ref: Any) -> Preview:
        """The code diff of the version against the active one, and its test status."""
        args = checked.arguments
        try:
            text = await call(
                self.service.active_diff,
                principal_of(requester_ref),
                _name(args),
                int(args["version"]),
            )
        except (AIToolNotFoundError, AIToolAuthorizationDenied) as e:
            raise AIToolExecutionError(str(e)) from e
        return Preview(text=text)

    async def _create(
        self, tool_call: AIToolCall, requester_ref: Any, _: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        name = _name(args)
        if name in BUILT_IN_TOOLS:
            raise AIToolValidationError(
                f"{name!r} is a built-in tool's name; choose another", "name"
            )
        try:
            spec = ToolSpec.from_mapping(_spec_fields(args))
        except InvalidInputError as e:
            raise AIToolValidationError(str(e)) from e
        data = await call(self.service.create, principal_of(requester_ref), name, spec)
        return tool_result(
            tool_call,
            f"Saved custom tool {name!r} version 1 as a draft; run test_custom_tool, then "
            "activate_custom_tool",
            data,
        )

    async def _update(
        self, tool_call: AIToolCall, requester_ref: Any, _: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        name = _name(args)
        data = await call(
            self.service.update, principal_of(requester_ref), name, _spec_fields(args)
        )
        return tool_result(
            tool_call, f"Saved version {data['latest_version']} of {name!r} (a draft)", data
        )

    async def _test(
        self, tool_call: AIToolCall, requester_ref: Any, _: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        principal, name = principal_of(requester_ref), _name(args)
        spec, version, _owner = await call(
            self.service.version_spec, principal, name, args.get("version")
        )
        if not spec.tests:
            raise AIToolValidationError(
                f"version {version} of {name!r} has no tests; add some with update_custom_tool",
                "name",
            )
        try:
            outcomes = await self.runner.run(
                spec, [dict(c["arguments"]) for c in spec.tests], principal=principal, name=name
            )
        except CustomToolAccessDenied as e:
            raise AIToolAuthorizationDenied(str(e)) from e
        report = report_of(outcomes, spec)
        data = await call(self.service.record_test, principal, name, version, report)
        verdict = "all passed" if not report["failed"] else f"{report['failed']} failed"
        return tool_result(
            tool_call,
            f"Tested {name!r} version {version}: {report['passed']} passed, {verdict}",
            data,
        )

    async def _activate(
        self, tool_call: AIToolCall, requester_ref: Any, _: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        name, version = _name(args), int(args["version"])
        data = await call(self.service.activate, principal_of(requester_ref), name, version)
        return tool_result(
            tool_call, f"Activated {name!r} version {version}: callable as tool {name!r}", data
        )

    async def _disable(
        self, tool_call: AIToolCall, requester_ref: Any, _: AIToolAuthorizationCallback
    ) -> AIToolResult:
        name = _name(tool_call.arguments)
        data = await call(self.service.disable, principal_of(requester_ref), name)
        return tool_result(tool_call, f"Custom tool {name!r} is {data['status']}", data)

    async def _get(
        self, tool_call: AIToolCall, requester_ref: Any, _: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        principal, name = principal_of(requester_ref), _name(args)
        data = await call(self.service.get, principal, name)
        if args.get("version") is not None:
            data["selected"] = await call(
                self.service.version_row, principal, name, int(args["version"])
            )
        return tool_result(
            tool_call,
            f"Custom tool {name!r}: {data['status']}, {data['latest_version']} version(s)",
            data,
        )

    async def _list(
        self, tool_call: AIToolCall, requester_ref: Any, _: AIToolAuthorizationCallback
    ) -> AIToolResult:
        data = await call(
            self.service.list_tools,
            principal_of(requester_ref),
            status=tool_call.arguments.get("status"),
        )
        return tool_result(tool_call, f"{len(data)} custom tool(s)", data)

    async def _run_realtime(
        self, tool_call: AIToolCall, requester_ref: Any, _: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        principal, name, company = principal_of(requester_ref), _name(args), args["company_id"]
        messages = _messages(args["messages"])
        spec, version, owner = await call(self.runner.active_spec, name)
        if principal.name != owner and not principal.is_super_admin:
            raise AIToolAuthorizationDenied(
                f"only the owner of {name!r} or a super admin may run its realtime batches"
            )
        if spec.trigger != ToolTrigger.REALTIME.value or company not in spec.companies:
            raise AIToolValidationError(
                f"{name!r} is not a realtime tool of company {company!r}", "company_id"
            )
        try:
            outcomes = await self.runner.run(
                spec,
                [realtime_arguments(company, m) for m in messages],
                principal=principal,
                name=name,
                company_id=company,
            )
        except CustomToolAccessDenied as e:
            raise AIToolAuthorizationDenied(str(e)) from e
        rows = [
            {"ok": o.ok, "value": o.value, "error": o.error, "refused": list(o.refused)}
            for o in outcomes
        ]
        alerts = sum(1 for o in outcomes if o.ok and _is_alert(o.value))
        failed = sum(1 for o in outcomes if not o.ok)
        data = {"name": name, "version": version, "company_id": company, "outcomes": rows}
        return tool_result(
            tool_call,
            f"Ran {name!r} version {version} over {len(rows)} message(s) of {company!r}: "
            f"{alerts} alert(s), {failed} failure(s)",
            data,
        )

    async def _delete(
        self, tool_call: AIToolCall, requester_ref: Any, _: AIToolAuthorizationCallback
    ) -> AIToolResult:
        name = _name(tool_call.arguments)
        data = await call(self.service.delete, principal_of(requester_ref), name)
        return tool_result(tool_call, f"Deleted custom tool {name!r}", data)


def build(settings: Settings, database: Database) -> CustomToolsPart:
    """The custom-tools part over ``database``, running code in the configured sandbox."""
    return CustomToolsPart(
        CustomToolService(database),
        CustomToolRunner(database, lambda: CodeExecutionEnvironment(settings)),
    )
