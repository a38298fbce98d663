"""``ToolRegistry``: the one way tools are called (prepare, approve, limits, audit)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ai_tool import AITool, AIToolValidationError
from ai_tool.schema import tool_json_schema
from masterai.audit import AuditLog
from masterai.registry import pipeline
from masterai.registry.approval import Effect
from masterai.registry.calls import CallRequest, PreparedCall
from masterai.registry.context import ExecutionContext, OperationInfo, ToolListing, ToolResult
from masterai.registry.errors import (
    DuplicateToolError,
    InvalidArguments,
    PermissionDenied,
    RegistryError,
    ToolNotFound,
    UndeclaredRoleError,
)
from masterai.registry.monitor import ToolMonitor
from masterai.security import (
    ParameterRole,
    Principal,
    RoleBinding,
    ToolAction,
    bindings_for,
    decide,
    parameter_role,
    undeclared_roles,
)
from masterai.settings import RegistrySettings
from masterai.store import Database
from masterai.store.models import Company

MODEL_OPERATIONS = "model_operations"
"""Name of the tool attribute (a set of operation names) listing operations that call a
language model. They may change no data (``read_only``) yet still spend money, so they are
never approved automatically."""
CODE_OPERATIONS = "code_operations"
"""Name of the tool attribute (a set of operation names) listing operations that run code
they do not take as an argument (a stored custom tool's): the policy treats them as code runs
(code execution must be enabled) and they carry the ``runs_code`` effect."""
INTERNAL_OPERATIONS = "internal_operations"
"""Name of the tool attribute (a set of operation names) listing operations a worker of the
platform calls (the realtime monitors): left out of :meth:`ToolRegistry.list_tools`, so the
agent and MCP clients are not offered them; a call still goes through the whole pipeline."""

ToolFactory = Callable[[], AITool]
Audience = Callable[[Principal], bool]
"""Who may see and call a tool at all (a custom tool's scope), checked before the policy."""
Refresher = Callable[["ToolRegistry"], None]
"""Brings tools registered from elsewhere (the store) up to date; cheap when nothing changed."""


@dataclass(frozen=True, kw_only=True)
class RegisteredTool:
    """A tool in the registry with what the registry needs to know about it."""

    tool: AITool
    name: str
    category: str
    """Role access category (``configuration``, ``analytics``, ``code``, ``clock``, ...)."""
    timeout: float | None = None
    """Limit for every call of this tool (an operation's own ``timeout`` wins)."""
    roles: Mapping[str | None, tuple[RoleBinding, ...]]
    """Declared parameter roles by operation name (``None``: a legacy tool's)."""
    secret_keys: frozenset[str] = frozenset()
    """Names of the parameters declared secret."""
    public_keys: frozenset[str] = frozenset()
    """Top-level parameters declared with a role other than secret (``PLAIN`` included):
    their values are not redacted for their name (``max_tokens``, ``issue_token``)."""
    model_operations: frozenset[str] = frozenset()
    code_operations: frozenset[str] = frozenset()
    internal_operations: frozenset[str] = frozenset()
    audience: Audience | None = None
    """Who may see and call the tool at all (``None``: whoever the policy allows)."""

    def visible_to(self, principal: Principal) -> bool:
        """Whether ``principal`` is in the tool's audience."""
        return self.audience is None or self.audience(principal)

    def roles_of(self, operation: str | None) -> tuple[RoleBinding, ...]:
        """The roles ``operation`` declares (``()`` for an unknown one)."""
        return self.roles.get(operation, ())

    def calls_model(self, operation: str | None) -> bool:
        """Whether ``operation`` calls a language model (and so costs money)."""
        return operation in self.model_operations

    def runs_code(self, operation: str | None) -> bool:
        """Whether ``operation`` runs code (a ``CODE`` parameter or a declared code operation)."""
        return operation in self.code_operations or any(
            b.role is ParameterRole.CODE for b in self.roles_of(operation)
        )

    def effects(self, operation: str | None) -> frozenset[Effect]:
        """What a call of ``operation`` does."""
        op = self.tool.get_operation_definitions().get(operation or "")
        effects = {Effect.READS}
        if op is None or not op.read_only:
            effects.add(Effect.CHANGES_DATA)
        if self.calls_model(operation):
            effects |= {Effect.CALLS_MODEL, Effect.SPENDS_MONEY}
        if self.runs_code(operation):
            effects.add(Effect.RUNS_CODE)
        return frozenset(effects)


def _describe(
    tool: AITool,
    name: str,
    category: str,
    timeout: float | None,
    roles: Mapping[str, Any],
    audience: Audience | None = None,
) -> RegisteredTool:
    """Check ``tool``'s role declarations and index them by operation.

    Raises:
        UndeclaredRoleError: a parameter's name suggests a role it does not declare.
    """
    definition = tool.get_definition()
    declared = {k: ParameterRole(v) for k, v in roles.items()}
    missing = undeclared_roles(definition.parameters, declared)
    if missing:
        raise UndeclaredRoleError(
            f"Tool {name!r}: parameter(s) {', '.join(missing)} look like they name a company, "
            "URL, e-mail address, path, model, code or secret but declare no role. Declare "
            "one (AIToolParameter(..., role=ParameterRole.X), or roles= when registering); "
            "ParameterRole.PLAIN if the value means nothing to the policy"
        )
    try:
        bindings = bindings_for(definition.parameters, declared)
    except ValueError as e:
        raise UndeclaredRoleError(f"Tool {name!r}: {e}") from e
    operations = tool.get_operation_definitions()
    by_operation: dict[str | None, tuple[RoleBinding, ...]] = {
        op_name: tuple(b for b in bindings if b.path[0] in op.allowed_parameters)
        for op_name, op in operations.items()
    }
    if not operations:
        by_operation[None] = bindings
    secrets = frozenset(b.path[-1] for b in bindings if b.role is ParameterRole.SECRET)
    public = frozenset(
        p.name
        for p in definition.parameters
        if (declared.get(p.name) or parameter_role(p)) not in (None, ParameterRole.SECRET)
    )
    return RegisteredTool(
        tool=tool,
        name=name,
        category=category,
        timeout=timeout,
        roles=by_operation,
        secret_keys=secrets,
        public_keys=public,
        model_operations=frozenset(getattr(tool, MODEL_OPERATIONS, frozenset())),
        code_operations=frozenset(getattr(tool, CODE_OPERATIONS, frozenset())),
        internal_operations=frozenset(getattr(tool, INTERNAL_OPERATIONS, frozenset())),
        audience=audience,
    )


@dataclass(kw_only=True)
class _Entry:
    factory: ToolFactory
    category: str
    timeout: float | None
    roles: Mapping[str, Any]
    built: RegisteredTool | None = None


class ToolRegistry:
    """Registered ``ai_tool`` tools and the audited pipeline every call goes through.

    Args:
        database: where the audit trail is written.
        settings: limits (``RegistrySettings``); defaults apply when omitted.
        audit_log: the audit trail (the platform passes ``AuditLog.from_settings``, keyed
            by the configured key). Default: one over ``database`` with a key held only in
            memory by this registry (tests, scripts).
        steps: the steps of a call, outermost first (default :attr:`STEPS`); request steps,
            then :data:`pipeline.PREPARE`, then steps over the prepared call.

    Raises:
        PipelineError: ``steps`` is not in that shape.
    """

    STEPS: tuple[pipeline.Step, ...] = pipeline.DEFAULT_STEPS

    def __init__(
        self,
        database: Database,
        *,
        settings: RegistrySettings | None = None,
        audit_log: AuditLog | None = None,
        steps: Sequence[pipeline.Step] | None = None,
    ) -> None:
        self.database = database
        self.settings = settings or RegistrySettings()
        self.audit_log = (
            audit_log
            if audit_log is not None
            else AuditLog(database, max_params_bytes=self.settings.audit_params_bytes)
        )
        self.monitor = ToolMonitor()
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._refreshers: list[Refresher] = []
        self._run = pipeline.compose(self, self.STEPS if steps is None else steps)

    # --- registration -----------------------------------------------------------------

    def register(
        self,
        tool: AITool,
        *,
        category: str | None = None,
        timeout: float | None = None,
        roles: Mapping[str, ParameterRole] | None = None,
        audience: Audience | None = None,
    ) -> RegisteredTool:
        """Add ``tool``; its category defaults to its name.

        Args:
            tool: the tool.
            category: role access category.
            timeout: limit for every call.
            roles: parameter roles by dotted path, for a tool whose parameters cannot be
                edited (they win over the parameters' own declarations).
            audience: who may see and call it at all (a custom tool's scope); others are
                neither shown it nor allowed to call it.

        Raises:
            DuplicateToolError: a tool with the same name is registered already.
            UndeclaredRoleError: a parameter looks like it names a company, URL, ... but
                declares no role.
        """
        name = tool.get_definition().name
        registered = _describe(tool, name, category or name, timeout, roles or {}, audience)
        with self._lock:
            if name in self._entries:
                raise DuplicateToolError(f"Tool {name!r} is already registered")
            self._entries[name] = _Entry(
                factory=lambda: tool,
                category=registered.category,
                timeout=timeout,
                roles=roles or {},
                built=registered,
            )
        return registered

    def register_factory(
        self,
        name: str,
        factory: ToolFactory,
        *,
        category: str | None = None,
        timeout: float | None = None,
        roles: Mapping[str, ParameterRole] | None = None,
    ) -> None:
        """Add a tool built on first use (heavy libraries load only when it is called).

        The built tool must be named ``name``; its role declarations are checked when it is
        built (see :meth:`register`).

        Raises:
            DuplicateToolError: a tool with the same name is registered already.
        """
        with self._lock:
            if name in self._entries:
                raise DuplicateToolError(f"Tool {name!r} is already registered")
            self._entries[name] = _Entry(
                factory=factory, category=category or name, timeout=timeout, roles=roles or {}
            )

    def unregister(self, name: str) -> None:
        """Remove a tool (no-op if absent)."""
        with self._lock:
            self._entries.pop(name, None)

    def add_refresher(self, refresher: Refresher) -> None:
        """Call ``refresher`` before each lookup and listing (custom tools from the store).

        It must be cheap when nothing changed: it runs on every call.
        """
        self._refreshers.append(refresher)

    def refresh(self) -> None:
        """Bring tools registered from elsewhere up to date (see :meth:`add_refresher`)."""
        for refresher in self._refreshers:
            refresher(self)

    def get(self, name: str) -> RegisteredTool | None:
        """The registered tool called ``name`` (built now if it was registered lazily)."""
        entry = self._entries.get(name)
        if entry is None:
            return None
        if entry.built is None:
            with self._lock:
                if entry.built is None:
                    tool = entry.factory()
                    built_name = tool.get_definition().name
                    if built_name != name:
                        raise DuplicateToolError(
                            f"Tool factory for {name!r} built a tool named {built_name!r}"
                        )
                    entry.built = _describe(tool, name, entry.category, entry.timeout, entry.roles)
        return entry.built

    def close(self) -> None:
        """Close the tools built so far that hold resources (a ``close()`` method)."""
        for entry in list(self._entries.values()):
            close = getattr(entry.built.tool, "close", None) if entry.built else None
            if callable(close):
                close()

    def names(self) -> list[str]:
        """Registered tool names, sorted (nothing is built)."""
        self.refresh()
        return sorted(self._entries)

    # --- calls ------------------------------------------------------------------------

    async def execute_tool(
        self, tool_name: str, params: dict[str, Any], context: ExecutionContext
    ) -> ToolResult:
        """Run one tool call through the pipeline; every outcome is audited.

        Failures (unknown tool, invalid arguments, denied, tool error, timeout) come back as a
        result with ``ok=False``, ``status`` and ``error``; only programming errors raise.
        """
        return await self._run(CallRequest(tool_name=tool_name, params=params, context=context))

    async def reject(self, request: CallRequest, error: RegistryError) -> ToolResult:
        """Audit a call a face refused before it reached the steps.

        For example an unknown ``--as`` user or malformed ``--args`` JSON; the result carries
        the audit record's id.
        """
        result = pipeline.failure(request, error)
        return replace(result, audit_id=await pipeline.append_audit(self, request, result))

    def prepare(self, request: CallRequest, *, check_types: bool = True) -> PreparedCall:
        """Check a request once: tool, access to the operation, arguments, then the policy.

        The order gives each failure its own status: an operation the caller may not use at
        all is ``denied`` whatever the arguments; malformed arguments are ``invalid`` (with the
        parameter's path); the policy then reads the checked arguments' declared roles.

        Args:
            request: the call as it arrived.
            check_types: ``False`` checks names and routing only (a planned step whose
                arguments still hold references to earlier results).

        Raises:
            ToolNotFound: no tool of that name.
            InvalidArguments: malformed arguments, with the parameter path.
            PermissionDenied: the policy refused; the error carries the prepared call.
        """
        registered = self._lookup(request.tool_name)
        params = _structured(request.params, self.settings.max_params_bytes)
        scope = request.context.company_id
        if scope is not None and not self._company_exists(scope):
            raise InvalidArguments(f"Unknown company {scope!r} in the call's company scope")
        self._check_access(registered, params.get("operation"), request)
        try:
            checked = registered.tool.check_call(params, check_types=check_types)
        except AIToolValidationError as e:
            raise InvalidArguments(_validation_message(e), path=e.path or None) from e
        operation = checked.operation if checked else None
        arguments = checked.arguments if checked else params
        op_name = operation.name if operation else None
        roles = registered.roles_of(op_name)
        action = ToolAction(
            tool=registered.name,
            category=registered.category,
            operation=op_name,
            read_only=bool(operation and operation.read_only),
            arguments=arguments,
            roles=roles,
            company_id=request.context.company_id,
            calls_model=registered.calls_model(op_name),
            executes_code=op_name in registered.code_operations,
        )
        decision = decide(request.context.principal, action)
        call = PreparedCall(
            request=request,
            tool=registered,
            operation=operation,
            checked=checked,
            arguments=arguments,
            roles=roles,
            decision=decision,
            companies=tuple(sorted({c for c, _ in action.companies() if isinstance(c, str)})),
            effects=registered.effects(op_name),
            needs_approval=bool(
                operation and registered.tool.requires_authorization(operation, arguments)
            )
            or bool(registered.effects(op_name) & request.context.approve_effects),
        )
        if not decision.allowed:
            raise PermissionDenied(f"Permission denied: {decision.reason}", call=call)
        return call

    def _check_access(
        self, registered: RegisteredTool, operation: Any, request: CallRequest
    ) -> None:
        """Refuse an operation the caller may not use at all, before looking at arguments."""
        if not registered.visible_to(request.context.principal):
            raise PermissionDenied(
                f"Permission denied: {request.context.principal.name!r} may not use "
                f"tool {registered.name!r} (outside its scope)"
            )
        op = (
            registered.tool.get_operation_definitions().get(operation)
            if isinstance(operation, str)
            else None
        )
        if op is None and registered.tool.get_operation_definitions():
            return  # no such operation: validation says so
        action = ToolAction(
            tool=registered.name,
            category=registered.category,
            operation=op.name if op else None,
            read_only=bool(op and op.read_only),
            roles=registered.roles_of(op.name if op else None),
            company_id=request.context.company_id,
            calls_model=registered.calls_model(op.name if op else None),
            executes_code=bool(op and op.name in registered.code_operations),
        )
        decision = decide(request.context.principal, action)
        if not decision.allowed:
            raise PermissionDenied(f"Permission denied: {decision.reason}")

    def companies_named(self, request: CallRequest) -> tuple[str, ...]:
        """The companies an unchecked request names (its scope, declared company arguments).

        For the audit of a call refused before it was prepared; nothing here is trusted.
        """
        scope = request.context.company_id
        named = {scope} if scope else set()
        name, params = request.tool_name, request.params
        entry = self._entries.get(name) if isinstance(name, str) else None
        if entry is not None and entry.built is not None and isinstance(params, dict):
            operation = params.get("operation")
            roles = entry.built.roles_of(operation if isinstance(operation, str) else None)
            action = ToolAction(
                tool=name,
                category="",
                operation=None,
                read_only=True,
                arguments=params,
                roles=roles,
            )
            named |= {c for c, _ in action.companies() if isinstance(c, str)}
        return tuple(sorted(named))

    def _company_exists(self, company_id: str) -> bool:
        with self.database.session() as s:
            return s.get(Company, company_id) is not None

    def _lookup(self, tool_name: Any) -> RegisteredTool:
        self.refresh()
        registered = self.get(tool_name) if isinstance(tool_name, str) else None
        if registered is None:
            shown = tool_name if isinstance(tool_name, str) else repr(tool_name)
            available = ", ".join(self.names()) or "none"
            raise ToolNotFound(f"Unknown tool: {shown}. Available tools: {available}")
        return registered

    # --- listings ---------------------------------------------------------------------

    def allowed_operations(self, principal: Principal, registered: RegisteredTool) -> list[str]:
        """Operations of ``registered`` that ``principal`` may call (arguments aside)."""
        return [
            name
            for name, op in registered.tool.get_operation_definitions().items()
            if decide(
                principal,
                ToolAction(
                    tool=registered.name,
                    category=registered.category,
                    operation=name,
                    read_only=op.read_only,
                    roles=registered.roles_of(name),
                    calls_model=registered.calls_model(name),
                    executes_code=name in registered.code_operations,
                ),
            )
        ]

    def list_tools(self, principal: Principal) -> list[ToolListing]:
        """The tools and operations ``principal`` may call, with their exported schemas.

        This is what a model is shown: a tool with no allowed operation is left out, and so
        are internal operations (:data:`INTERNAL_OPERATIONS`).
        """
        listings = []
        for name in self.names():
            registered = self.get(name)
            if registered is None or not registered.visible_to(principal):
                continue  # unregistered meanwhile, or outside the tool's scope
            operations = registered.tool.get_operation_definitions()
            if operations:
                allowed = [
                    op
                    for op in self.allowed_operations(principal, registered)
                    if op not in registered.internal_operations
                ]
                if not allowed:
                    continue
            else:
                allowed = []
                legacy = ToolAction(
                    tool=name, category=registered.category, operation=None, read_only=False
                )
                if not decide(principal, legacy):
                    continue
            listings.append(
                ToolListing(
                    name=name,
                    category=registered.category,
                    description=registered.tool.get_brief_description(),
                    operations=[
                        OperationInfo(
                            name=op,
                            description=operations[op].description,
                            read_only=operations[op].read_only,
                            destructive=operations[op].destructive,
                        )
                        for op in allowed
                    ],
                    schema=tool_json_schema(registered.tool, operations=allowed or None),
                )
            )
        return listings


def _validation_message(e: AIToolValidationError) -> str:
    return f"{e} (at {e.path})" if e.path and e.path not in str(e) else str(e)


def _structured(params: Any, limit: int) -> dict[str, Any]:
    """``params`` if it is a JSON object of valid text within ``limit`` bytes encoded."""
    if not isinstance(params, dict):
        raise InvalidArguments(
            f"Arguments must be a JSON object, got {type(params).__name__}: {repr(params)[:100]}"
        )
    try:
        encoded = json.dumps(params, allow_nan=False, ensure_ascii=False).encode()
    except UnicodeEncodeError as e:
        bad = e.object[e.start : e.end] if isinstance(e.object, str) else ""
        raise InvalidArguments(
            f"Arguments contain text that is not valid Unicode ({bad!r}: {e.reason})"
        ) from e
    except (TypeError, ValueError) as e:
        raise InvalidArguments(f"Arguments are not valid JSON: {e}") from e
    except RecursionError as e:
        raise InvalidArguments("Arguments are nested too deeply") from e
    if len(encoded) > limit:
        raise InvalidArguments(
            f"Arguments too large: {len(encoded)} bytes (the limit is {limit} bytes; "
            "MASTERAI_REGISTRY__MAX_PARAMS_BYTES)"
        )
    return params
