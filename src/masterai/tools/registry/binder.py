"""Active custom tools in the registry: each under its own name, for its scope.

:class:`CustomToolBinder` is a registry refresher: before a lookup or a listing it reads the
store's change counter (at most once per ``refresh_ms``) and, when it moved, registers the
tools that became active and unregisters the others, so every server process sees an
activation made by any of them. :class:`CustomToolAdapter` is the registered tool: a call
takes the arguments as given (no ``operation``), checked against the tool's JSON Schema, and
runs the active version's code in the sandbox as the calling principal.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import jsonschema

from ai_tool import (
    AITool,
    AIToolAuthorizationCallback,
    AIToolAuthorizationDenied,
    AIToolCall,
    AIToolCheckedCall,
    AIToolDefinition,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolParameter,
    AIToolResult,
    AIToolValidationError,
)
from masterai.registry import DuplicateToolError, ToolRegistry, UndeclaredRoleError
from masterai.security import ParameterRole, Principal
from masterai.services.custom_tools import (
    CATEGORY,
    CustomToolAccessDenied,
    CustomToolRunner,
    CustomToolService,
    ToolSpec,
    may_call,
)
from masterai.tools.adapter import tool_result

log = logging.getLogger(__name__)
ROLE_KEY = "x-role"
"""The JSON Schema keyword by which a custom tool's property declares its parameter role."""


def parameters_of(schema: Mapping[str, Any]) -> list[AIToolParameter]:
    """The top-level properties of a JSON Schema as framework parameters (for listings)."""
    required = set(schema.get("required") or [])
    parameters = []
    for name, prop in (schema.get("properties") or {}).items():
        prop = prop if isinstance(prop, Mapping) else {}
        kind = str(prop["type"]) if isinstance(prop.get("type"), str) else "object"
        items = prop.get("items")
        parameters.append(
            AIToolParameter(
                name,
                kind,
                str(prop.get("description") or name),
                required=name in required,
                enum=list(prop["enum"]) if isinstance(prop.get("enum"), list) else None,
                items=AIToolParameter("item", str(items.get("type") or "string"), "item")
                if isinstance(items, Mapping) and isinstance(items.get("type"), str)
                else None,
            )
        )
    return parameters


def roles_of(schema: Mapping[str, Any]) -> dict[str, ParameterRole]:
    """Declared roles of the properties (``x-role``), ``PLAIN`` for the rest.

    Raises:
        UndeclaredRoleError: an ``x-role`` is not a known role.
    """
    roles = {}
    for name, prop in (schema.get("properties") or {}).items():
        declared = prop.get(ROLE_KEY) if isinstance(prop, Mapping) else None
        try:
            roles[name] = ParameterRole(declared or ParameterRole.PLAIN)
        except ValueError:
            raise UndeclaredRoleError(
                f"property {name!r} declares unknown role {declared!r}; "
                f"known: {', '.join(r.value for r in ParameterRole)}"
            ) from None
    return roles


SUMMARY_VALUE_CHARS = 500
"""How much of a result the one-line summary shows (the whole value is in ``data``)."""


class CustomToolAdapter(AITool):
    """One active custom tool as a registry tool (no operations: arguments as given).

    Args:
        name: the tool's name.
        version: the active version.
        spec: its definition.
        runner: runs its code.
    """

    def __init__(self, name: str, version: int, spec: ToolSpec, runner: CustomToolRunner) -> None:
        super().__init__()
        self.name = name
        self.version = version
        self.spec = spec
        self._runner = runner
        self._validator = jsonschema.Draft202012Validator(dict(spec.parameters))

    def get_definition(self) -> AIToolDefinition:
        """Name, description and the schema's top-level properties."""
        return AIToolDefinition(
            name=self.name,
            description=f"{self.spec.description} (custom tool, version {self.version})",
            parameters=parameters_of(self.spec.parameters),
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """None: a custom tool takes its arguments as given."""
        return {}

    def check_call(
        self, arguments: dict[str, Any], *, check_types: bool | None = None
    ) -> AIToolCheckedCall | None:
        """Check the arguments against the tool's JSON Schema (the registry's one check).

        Raises:
            AIToolValidationError: naming the offending place and why.
        """
        error = next(iter(sorted(self._validator.iter_errors(arguments), key=str)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path)
            raise AIToolValidationError(
                f"Invalid arguments for {self.name!r}{' at ' + where if where else ''}: "
                f"{error.message}",
                where,
            )
        return None

    async def execute(
        self,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
    ) -> AIToolResult:
        """Run the code in the sandbox as the caller; the result must match ``output_schema``."""
        if not isinstance(requester_ref, Principal):
            raise AIToolAuthorizationDenied("custom tools need a known principal")
        self.check_call(tool_call.arguments)
        try:
            [outcome] = await self._runner.run(
                self.spec, [tool_call.arguments], principal=requester_ref, name=self.name
            )
        except CustomToolAccessDenied as e:
            raise AIToolAuthorizationDenied(str(e)) from e
        if not outcome.ok:
            refused = f" (sandbox refused: {', '.join(outcome.refused)})" if outcome.refused else ""
            raise AIToolExecutionError(f"{self.name}: {outcome.error}{refused}")
        # the value itself is what a person running the tool wants to see (shortened)
        shown = json.dumps(outcome.value, ensure_ascii=False, default=str)
        if len(shown) > SUMMARY_VALUE_CHARS:
            shown = shown[:SUMMARY_VALUE_CHARS] + "…"
        return tool_result(
            tool_call,
            f"{self.name} v{self.version} ran in {outcome.execution_time:.2f}s: {shown}",
            outcome.value,
        )


class CustomToolBinder:
    """Keeps a registry's custom tools in step with the store (a registry refresher).

    Args:
        service: the custom tools in the store.
        runner: runs their code.
        refresh_ms: check the store at most this often (``0``: on every lookup).
    """

    def __init__(
        self, service: CustomToolService, runner: CustomToolRunner, *, refresh_ms: int = 250
    ) -> None:
        self._service = service
        self._runner = runner
        self._interval = refresh_ms / 1000
        self._checked = -float("inf")
        self._generation: int | None = None
        self._bound: dict[str, tuple[int, str]] = {}
        """Registered custom tools: name -> (version, content hash)."""
        self._lock = threading.Lock()

    def __call__(self, registry: ToolRegistry) -> None:
        """Register what became active, unregister what no longer is (when anything changed)."""
        now = time.monotonic()
        if now - self._checked < self._interval:
            return
        with self._lock:
            self._checked = now
            generation = self._service.generation()
            if generation == self._generation:
                return
            self._sync(registry)
            self._generation = generation

    def _sync(self, registry: ToolRegistry) -> None:
        active = {
            name: (owner, version, spec)
            for name, owner, version, spec in self._service.active_tools()
        }
        for name, (version, digest) in list(self._bound.items()):
            current = active.get(name)
            if current is None or (current[1], current[2].content_hash(name)) != (version, digest):
                registry.unregister(name)
                del self._bound[name]
        for name, (owner, version, spec) in active.items():
            if name in self._bound:
                continue
            tool = CustomToolAdapter(name, version, spec, self._runner)
            try:
                registry.register(
                    tool,
                    category=CATEGORY,
                    roles=roles_of(spec.parameters),
                    audience=_audience(owner, spec),
                )
            except (DuplicateToolError, UndeclaredRoleError) as e:
                log.warning("custom tool %r not registered: %s", name, e)
                continue
            self._bound[name] = (version, spec.content_hash(name))


def _audience(owner: str, spec: ToolSpec) -> Callable[[Principal], bool]:
    """Who may see and call a tool of ``owner`` with ``spec``'s scope."""

    def allowed(principal: Principal) -> bool:
        return may_call(principal, owner, spec)

    return allowed
