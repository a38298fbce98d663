"""The MCP server: every operation a caller may use, as MCP tools, through the registry.

:class:`McpFace` builds the SDK's low-level ``Server`` (the tool list depends on the caller,
which the decorator server cannot express). Every handler first learns who calls
(:class:`Identify`: the ``--as`` user or token on stdio, the bearer token over HTTP), then acts
only through the registry: ``tools/call`` is one registry call (permissions, validation,
approval, limits, audit), ``resources/*`` are registry reads, so the MCP face sees and
changes exactly what the caller could through the CLI or HTTP.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import anyio
import mcp.types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.request_state import (
    AESGCMRequestStateCodec,
    RequestStateBoundary,
    RequestStateSecurity,
    authenticated_principal,
)
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ToolsListChanged
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from masterai.app import Platform
from masterai.mcp import prompts
from masterai.mcp.approval import (
    APPROVAL_KEY,
    ApprovalOutcome,
    accepted,
    form,
    make_state,
    parse_state,
    preview_digest,
)
from masterai.mcp.catalog import APPROVAL_EFFECTS, McpTool, catalog, fingerprint, tool_entry
from masterai.registry import (
    ApprovalRequest,
    Approver,
    CallRequest,
    ExecutionContext,
    InvalidArguments,
    RegistryError,
    ToolResult,
    approval_request,
    preview_call,
)
from masterai.security import ANY, AuthenticationError, Principal

log = logging.getLogger(__name__)

SERVER_NAME = "masterai"
CONFIGURATION_URI = "masterai://companies/{company_id}/configuration"
WORKSPACE_URI = "masterai://workspace/{path}"
_CONFIGURATION_PREFIX = "masterai://companies/"
_WORKSPACE_PREFIX = "masterai://workspace/"
MAX_SESSIONS_PER_CALLER = 16
"""Handshake-era connections of one caller told about tool-list changes."""
MAX_RESOURCES = 500
"""Most workspace files ``resources/list`` names (the rest stay readable by URI)."""

Context = ServerRequestContext[dict[str, Any], Any]


class Unauthenticated(Exception):
    """The request carries no usable identity (no, unknown or revoked token)."""


@dataclass(frozen=True, kw_only=True)
class Caller:
    """Who is calling, from where (the audit's client address)."""

    principal: Principal
    client_address: str
    key: str
    """Stable identity of the connection's caller (for noticing their tool set change)."""


Identify = Callable[[Context], Awaitable[Caller]]
"""Finds the caller of a request; raises :class:`Unauthenticated` when there is none."""

Bind = Callable[[ServerRequestContext[Any, Any]], str | None]
"""The identity a 2026 approval round trip is bound to (sealed into its state)."""


def _text(text: str) -> list[types.ContentBlock]:
    return [types.TextContent(type="text", text=text)]


def _error(text: str, meta: dict[str, Any] | None = None) -> types.CallToolResult:
    return types.CallToolResult(content=_text(text), is_error=True, _meta=meta)


@dataclass
class _Watch:
    """What one caller was last offered, and the connections to tell when it changes."""

    load: Callable[[], Principal]
    shown: str
    sessions: list[ServerSession] = field(default_factory=list)
    """Handshake-era connections to notify directly (the newest few; a closed one is
    dropped when sending to it fails)."""
    modern: bool = False


class McpFace:
    """Master AI's MCP server over one :class:`~masterai.app.Platform`.

    Args:
        platform: the platform whose registry every request goes through.
        identify: finds the caller of each request.
        reload: loads a caller's principal again by :attr:`Caller.key` (to notice grant
            changes); ``None`` leaves tool-list change notices out.
        bind: the identity approval round trips are bound to (default: the bearer token's).
    """

    def __init__(
        self,
        platform: Platform,
        identify: Identify,
        *,
        reload: Callable[[str], Principal] | None = None,
        bind: Bind | None = None,
    ) -> None:
        self.platform = platform
        self.identify = identify
        self.reload = reload
        self.bus = InMemorySubscriptionBus()
        self._watches: dict[str, _Watch] = {}
        self.server: Server[dict[str, Any]] = Server(
            SERVER_NAME,
            version=_version(),
            title="Master AI",
            instructions=(
                "Master AI's tools over one audited registry. Calls that change data or call "
                "a language model are shown to the user for approval first."
            ),
            lifespan=self._lifespan,
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_templates,
            on_read_resource=self._read_resource,
            on_list_prompts=self._list_prompts,
            on_get_prompt=self._get_prompt,
            on_subscriptions_listen=ListenHandler(self.bus),
        )
        # The 2026 approval round trip carries state through the client: seal it with a key
        # every worker derives from the audit key, bound to the caller and the call.
        self.server.middleware.append(
            RequestStateBoundary(
                RequestStateSecurity(
                    codec=_AuditKeyCodec(platform), bind_principal=bind or authenticated_principal
                ),
                default_audience=SERVER_NAME,
            )
        )

    # --- identity ---------------------------------------------------------------------

    async def _caller(self, ctx: Context) -> Caller:
        return await self.identify(ctx)

    # --- tools ------------------------------------------------------------------------

    async def _offered(self, caller: Caller) -> dict[str, McpTool]:
        return await asyncio.to_thread(catalog, self.platform.registry, caller.principal)

    async def _list_tools(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        try:
            caller = await self._caller(ctx)
        except Unauthenticated as e:
            raise MCPError(code=types.INVALID_REQUEST, message=str(e)) from e
        offered = await self._offered(caller)
        self._remember(caller, fingerprint(offered), ctx)
        return types.ListToolsResult(tools=[_mcp_tool(t) for t in offered.values()])

    def _resolve(self, name: str) -> tuple[str, str | None] | None:
        """The registry tool and operation behind an MCP tool name (any caller's)."""
        registry = self.platform.registry
        if name in registry.names():
            registered = registry.get(name)
            if registered is not None and not registered.tool.get_operation_definitions():
                return name, None
        for tool_name in registry.names():
            if not name.startswith(f"{tool_name}_"):
                continue
            registered = registry.get(tool_name)
            operation = name[len(tool_name) + 1 :]
            if registered and operation in registered.tool.get_operation_definitions():
                return tool_name, operation
        return None

    async def _call_tool(
        self, ctx: Context, params: types.CallToolRequestParams
    ) -> types.CallToolResult | types.InputRequiredResult:
        try:
            caller = await self._caller(ctx)
        except Unauthenticated as e:
            return _error(f"unauthenticated: {e}")
        arguments = dict(params.arguments or {})
        target = await asyncio.to_thread(self._resolve, params.name)
        tool_name, operation = target if target else (params.name, None)
        outcome = ApprovalOutcome()
        context = ExecutionContext(
            principal=caller.principal,
            client_address=caller.client_address,
            approver=self._approver(ctx, caller, params, outcome),
            approve_effects=APPROVAL_EFFECTS,
        )
        call_params = {**arguments, "operation": operation} if operation else arguments
        request = CallRequest(tool_name=tool_name, params=call_params, context=context)
        if operation and "operation" in arguments:
            refused = await self.platform.registry.reject(
                request,
                InvalidArguments(
                    f"'operation' is not an argument of the MCP tool {params.name!r}: the "
                    "tool is one operation",
                    path="operation",
                ),
            )
            return _result(refused, outcome)
        if self._asks_later(ctx, params):
            question = await self._question(request)
            if question is not None:
                return question
        result = await self.platform.call(tool_name, call_params, context)
        return _result(result, outcome)

    def _can_elicit(self, ctx: Context) -> bool:
        wanted = types.ClientCapabilities(elicitation=types.ElicitationCapability())
        return ctx.session.check_client_capability(wanted)

    def _asks_later(self, ctx: Context, params: types.CallToolRequestParams) -> bool:
        """A 2026 connection with elicitation and no answer yet: return the question."""
        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        answered = APPROVAL_KEY in (params.input_responses or {})
        return modern and not answered and self._can_elicit(ctx)

    async def _question(self, request: CallRequest) -> types.InputRequiredResult | None:
        """The approval question for ``request``.

        ``None`` when it needs none, or cannot be made: then the registry runs the call and
        records why it failed.
        """
        registry = self.platform.registry
        try:
            prepared = await asyncio.to_thread(registry.prepare, request)
            if not prepared.needs_approval:
                return None
            asked = approval_request(prepared, await preview_call(prepared))
        except RegistryError:
            return None
        return types.InputRequiredResult(
            input_requests={APPROVAL_KEY: types.ElicitRequest(params=form(asked))},
            request_state=make_state(asked.preview),
        )

    def _approver(
        self,
        ctx: Context,
        caller: Caller,
        params: types.CallToolRequestParams,
        outcome: ApprovalOutcome,
    ) -> Approver:
        answers = params.input_responses or {}
        registry = self.platform.registry

        async def without_asking(request: ApprovalRequest) -> bool:
            registered = registry.get(request.tool)
            category = registered.category if registered else request.tool
            if caller.principal.permissions.approvals.auto_approves(category):
                return True
            outcome.cannot_ask = True
            outcome.notes.append(category)
            return False

        async def answered(request: ApprovalRequest) -> bool:
            outcome.asked = request
            answer = answers.get(APPROVAL_KEY)
            if not accepted(answer if isinstance(answer, types.ElicitResult) else None):
                outcome.declined = True
                return False
            if parse_state(params.request_state) != preview_digest(request.preview):
                outcome.stale = True
                return False
            return True

        async def ask_now(request: ApprovalRequest) -> bool:
            outcome.asked = request
            question = form(request)
            reply = await ctx.session.elicit_form(
                question.message, question.requested_schema, related_request_id=ctx.request_id
            )
            if not accepted(reply):
                outcome.declined = True
                return False
            return True

        if APPROVAL_KEY in answers:
            return answered
        if not self._can_elicit(ctx):
            return without_asking
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return answered  # no answer: declined (the question was returned first)
        return ask_now

    # --- tool-list changes ------------------------------------------------------------

    def _remember(self, caller: Caller, shown: str, ctx: Context) -> None:
        if self.reload is None:
            return
        reload = self.reload
        watch = self._watches.get(caller.key)
        if watch is None:
            watch = _Watch(load=lambda: reload(caller.key), shown=shown)
            self._watches[caller.key] = watch
        watch.shown = shown
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            watch.modern = True
        elif ctx.session not in watch.sessions:
            watch.sessions = [*watch.sessions, ctx.session][-MAX_SESSIONS_PER_CALLER:]

    async def check_tool_sets(self) -> int:
        """Compare each caller's tool set with what it was shown; announce changes.

        Returns:
            How many callers' tool sets changed.
        """
        changed = 0
        for key, watch in list(self._watches.items()):
            try:
                principal = await asyncio.to_thread(watch.load)
            except AuthenticationError:
                self._watches.pop(key, None)  # the user or token is gone
                continue
            now = fingerprint(await asyncio.to_thread(catalog, self.platform.registry, principal))
            if now == watch.shown:
                continue
            changed += 1
            watch.shown = now
            for session in list(watch.sessions):
                try:
                    await session.send_tool_list_changed()
                except Exception:  # a closed connection; forget it
                    watch.sessions.remove(session)
            if watch.modern:
                await self.bus.publish(ToolsListChanged())
        return changed

    async def _watch_loop(self) -> None:
        interval = self.platform.settings.mcp.watch_seconds
        while True:
            await anyio.sleep(interval)
            try:
                await self.check_tool_sets()
            except Exception:  # never let a bad round end the server
                log.exception("checking MCP callers' tool sets failed")

    @asynccontextmanager
    async def _lifespan(self, server: Server[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
        async with anyio.create_task_group() as tasks:
            if self.reload is not None:
                tasks.start_soon(self._watch_loop)
            try:
                yield {}
            finally:
                tasks.cancel_scope.cancel()

    # --- resources --------------------------------------------------------------------

    async def _registry_call(self, caller: Caller, tool: str, params: dict[str, Any]) -> ToolResult:
        context = ExecutionContext(principal=caller.principal, client_address=caller.client_address)
        return await self.platform.call(tool, params, context)

    def _companies(self, caller: Caller) -> list[str] | None:
        """Companies the caller may read by name (``None``: any, listed elsewhere)."""
        access = caller.principal.permissions.data_access
        names = access.read_companies | access.write_companies
        if ANY in names:
            return None
        return sorted(names)

    async def _list_resources(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        caller = await self._resource_caller(ctx)
        companies = self._companies(caller)
        if companies is None:
            listed = await self._registry_call(caller, "admin", {"operation": "list_companies"})
            companies = _company_ids(listed.data) if listed.ok else []
        resources = [
            types.Resource(
                uri=CONFIGURATION_URI.format(company_id=quote(company, safe="")),
                name=f"{company} configuration",
                description=f"The active AI configuration of company {company!r}",
                mime_type="application/json",
            )
            for company in companies
        ]
        files = await self._registry_call(
            caller, "filesystem", {"operation": "search", "path": ".", "pattern": "*"}
        )
        if files.ok:
            for line in files.content.splitlines()[:MAX_RESOURCES]:
                if not line or line.startswith("(") or line == "No matches":
                    continue
                resources.append(
                    types.Resource(
                        uri=_WORKSPACE_PREFIX + quote(line),
                        name=line,
                        description="A workspace file (report, export, script output)",
                        mime_type=_mime(line),
                    )
                )
        return types.ListResourcesResult(resources=resources)

    async def _list_templates(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        await self._resource_caller(ctx)
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=CONFIGURATION_URI,
                    name="Company configuration",
                    description="The active AI configuration of a company you may read",
                    mime_type="application/json",
                ),
                types.ResourceTemplate(
                    uri_template=WORKSPACE_URI,
                    name="Workspace file",
                    description="A file of your workspace areas (companies/ID/..., "
                    "users/NAME/..., shared/...)",
                ),
            ]
        )

    async def _read_resource(
        self, ctx: Context, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        caller = await self._resource_caller(ctx)
        uri = str(params.uri)
        if uri.startswith(_CONFIGURATION_PREFIX) and uri.endswith("/configuration"):
            company = unquote(uri[len(_CONFIGURATION_PREFIX) : -len("/configuration")])
            result = await self._registry_call(
                caller,
                "configuration",
                {"operation": "get_configuration", "company_id": company},
            )
            mime = "application/json"
        elif uri.startswith(_WORKSPACE_PREFIX):
            path = unquote(uri[len(_WORKSPACE_PREFIX) :])
            result = await self._registry_call(
                caller, "filesystem", {"operation": "read_file", "path": path}
            )
            mime = _mime(path)
        else:
            raise MCPError(
                code=types.INVALID_PARAMS,
                message=f"Unknown resource {uri!r}: expected {CONFIGURATION_URI} or "
                f"{WORKSPACE_URI}",
            )
        if not result.ok:
            raise MCPError(code=types.INVALID_PARAMS, message=f"{result.status}: {result.error}")
        data = result.data
        if isinstance(data, dict) and "result" in data:
            data = data["result"]  # the configuration itself, without the tool's summary
        text = (
            json.dumps(data, indent=2, ensure_ascii=False)
            if mime == "application/json" and data is not None
            else result.content
        )
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type=mime, text=text)]
        )

    async def _resource_caller(self, ctx: Context) -> Caller:
        try:
            return await self._caller(ctx)
        except Unauthenticated as e:
            raise MCPError(code=types.INVALID_REQUEST, message=str(e)) from e

    # --- prompts ----------------------------------------------------------------------

    async def _list_prompts(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        await self._resource_caller(ctx)
        return types.ListPromptsResult(prompts=prompts.list_prompts())

    async def _get_prompt(
        self, ctx: Context, params: types.GetPromptRequestParams
    ) -> types.GetPromptResult:
        await self._resource_caller(ctx)
        try:
            return prompts.get_prompt(params.name, params.arguments)
        except prompts.PromptError as e:
            raise MCPError(code=types.INVALID_PARAMS, message=str(e)) from e


class _AuditKeyCodec:
    """AES-GCM sealing under a key every worker derives from the audit key.

    The key is made on first use, so building the server opens nothing.
    """

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._codec: AESGCMRequestStateCodec | None = None

    def _get(self) -> AESGCMRequestStateCodec:
        if self._codec is None:
            keyring = self._platform.registry.audit_log.ensure_key()
            key = keyring.sign(keyring.epochs[-1], b"masterai mcp request state")
            self._codec = AESGCMRequestStateCodec([key])
        return self._codec

    def seal(self, payload: bytes) -> str:
        """Encrypt and authenticate ``payload``."""
        return self._get().seal(payload)

    def unseal(self, token: str) -> bytes:
        """The payload of a token this server sealed (``InvalidRequestState`` otherwise)."""
        return self._get().unseal(token)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("masterai")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


def _mime(path: str) -> str:
    lowered = path.lower()
    for suffix, mime in (
        (".json", "application/json"),
        (".md", "text/markdown"),
        (".csv", "text/csv"),
        (".html", "text/html"),
        (".py", "text/x-python"),
    ):
        if lowered.endswith(suffix):
            return mime
    return "text/plain"


def _company_ids(data: Any) -> list[str]:
    rows = data.get("result", []) if isinstance(data, dict) else data
    if not isinstance(rows, list):
        return []
    ids = [row.get("id") if isinstance(row, dict) else row for row in rows]
    return sorted(i for i in ids if isinstance(i, str))


def _mcp_tool(entry: McpTool) -> types.Tool:
    return types.Tool(
        name=entry.name,
        description=entry.description,
        input_schema=entry.input_schema,
        output_schema=entry.output_schema,
        annotations=types.ToolAnnotations(
            read_only_hint=entry.read_only,
            destructive_hint=entry.destructive,
            idempotent_hint=entry.idempotent,
            open_world_hint=entry.open_world,
        ),
    )


def _result(result: ToolResult, outcome: ApprovalOutcome) -> types.CallToolResult:
    meta = {"masterai/audit_id": result.audit_id, "masterai/request_id": result.request_id}
    if not result.ok:
        reason = outcome.explain() if result.status == "denied" else None
        text = f"{result.status}: {reason or result.error}"
        if result.error_path and result.error_path not in text:
            text += f" (at {result.error_path})"
        return _error(text, meta)
    structured: dict[str, Any] | None = None
    if isinstance(result.data, dict):
        structured = result.data
    elif result.data is not None:
        structured = {"result": result.data}
    return types.CallToolResult(
        content=_text(result.content), structured_content=structured, _meta=meta
    )


__all__ = [
    "CONFIGURATION_URI",
    "WORKSPACE_URI",
    "Caller",
    "Identify",
    "McpFace",
    "Unauthenticated",
    "tool_entry",
]
