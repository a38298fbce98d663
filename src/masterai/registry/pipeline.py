"""The steps of a registry call, each a small wrapper around the next one.

A step is ``async (call, next_step) -> ToolResult``. :func:`compose` nests them, outermost
first, around the final :func:`execute` step. The default order (``ToolRegistry.STEPS``) is::

    audit -> monitor -> structured_errors -> protect_sensitive -> lookup -> authorize
          -> validate -> time_limit -> execute

so the audit step sees every outcome (after errors became results) and the monitor times the
whole call. Inner steps signal failure by raising :class:`~masterai.registry.errors.
RegistryError`; ``structured_errors`` turns those (and the framework's own errors) into
results. Anything else is a programming error: it is audited as ``failed`` and re-raised.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ai_tool import (
    AITool,
    AIToolAuthorizationDenied,
    AIToolCall,
    AIToolExecutionError,
    AIToolOperationDefinition,
    AIToolTimeoutError,
    AIToolValidationError,
)
from masterai.audit import AuditEntry
from masterai.registry.context import ExecutionContext, ToolResult
from masterai.registry.errors import (
    InvalidArguments,
    PermissionDenied,
    RegistryError,
    ToolFailed,
    ToolNotFound,
    ToolTimeout,
)
from masterai.security import ToolAction, decide, redact, scrub_text
from masterai.security.policy import CODE_CATEGORIES

if TYPE_CHECKING:
    from masterai.registry.registry import RegisteredTool, ToolRegistry


@dataclass(kw_only=True)
class Call:
    """One call on its way through the steps (filled in as it goes)."""

    registry: ToolRegistry
    tool_name: Any
    params: Any
    context: ExecutionContext
    registered: RegisteredTool | None = None
    operation: AIToolOperationDefinition | None = None
    started: float = field(default_factory=time.perf_counter)

    @property
    def operation_name(self) -> str | None:
        """The requested operation name, if the arguments carry a string one."""
        if self.operation is not None:
            return self.operation.name
        if isinstance(self.params, dict) and isinstance(self.params.get("operation"), str):
            return str(self.params["operation"])
        return None

    @property
    def tool_label(self) -> str:
        """The tool name as text (for results and audit, even when it was not a string)."""
        return self.tool_name if isinstance(self.tool_name, str) else repr(self.tool_name)


Step = Callable[[Call], Awaitable[ToolResult]]
Wrapper = Callable[[Call, Step], Awaitable[ToolResult]]


def compose(wrappers: Sequence[Wrapper], final: Step) -> Step:
    """Nest ``wrappers`` (outermost first) around ``final``."""
    step = final
    for wrapper in reversed(wrappers):
        step = functools.partial(wrapper, next_step=step)  # type: ignore[call-arg]
    return step


def _failure(call: Call, status: str, error: str) -> ToolResult:
    return ToolResult(
        ok=False,
        tool=call.tool_label,
        operation=call.operation_name,
        status=status,
        error=error,
        request_id=call.context.request_id,
    )


async def audit(call: Call, next_step: Step) -> ToolResult:
    """Write one audit record for the call, whatever happened; add its id to the result."""
    try:
        result = await next_step(call)
    except BaseException as e:
        await _append(call, _failure(call, "failed", f"internal error: {type(e).__name__}: {e}"))
        raise
    record_id = await _append(call, result)
    return replace(result, audit_id=record_id)


async def _append(call: Call, result: ToolResult) -> int:
    principal = call.context.principal
    sensitive = call.registered.sensitive_parameters if call.registered else frozenset()
    entry = AuditEntry(
        tool=call.tool_label,
        operation=result.operation,
        params=call.params if isinstance(call.params, dict) else {"_raw": repr(call.params)},
        status=result.status,
        result_summary=_summary(result, sensitive),
        error=result.error,
        duration_ms=result.duration_ms or (time.perf_counter() - call.started) * 1000,
        user_id=principal.user_id,
        user_name=principal.name,
        token_id=principal.token_id,
        client_address=call.context.client_address,
        company_id=_company_of(call),
        request_id=call.context.request_id,
        sensitive_keys=sensitive,
    )
    record = await asyncio.to_thread(call.registry.audit_log.append, entry)
    return record.id


def _summary(result: ToolResult, sensitive: frozenset[str]) -> str | None:
    """The result as stored: JSON results lose secret values, whoever the caller was.

    ``protect_sensitive`` only redacts for principals without ``sensitive_data``; the audit
    log is read by others, so it always stores the redacted form (text is scrubbed later).
    """
    if result.data is not None:
        return json.dumps(redact(result.data, sensitive_keys=sensitive), ensure_ascii=False)
    return result.content or None


def _company_of(call: Call) -> str | None:
    if call.context.company_id is not None:
        return call.context.company_id
    if isinstance(call.params, dict):
        for key in ("company_id", "target_company_id", "source_company_id"):
            value = call.params.get(key)
            if isinstance(value, str):
                return value
        ids = call.params.get("company_ids")
        if isinstance(ids, list) and len(ids) == 1 and isinstance(ids[0], str):
            return ids[0]
    return None


async def monitor(call: Call, next_step: Step) -> ToolResult:
    """Time the call and count it by tool and status."""
    result = await next_step(call)
    duration = round((time.perf_counter() - call.started) * 1000, 3)
    call.registry.monitor.record(call.tool_label, result.status, duration)
    return replace(result, duration_ms=duration)


async def structured_errors(call: Call, next_step: Step) -> ToolResult:
    """Turn registry and framework errors into a failed :class:`ToolResult`."""
    try:
        return await next_step(call)
    except RegistryError as e:
        return _failure(call, e.status, str(e))
    except AIToolValidationError as e:
        return _failure(call, "invalid", _validation_message(e))
    except AIToolAuthorizationDenied as e:
        return _failure(call, "denied", str(e))
    except AIToolTimeoutError as e:
        return _failure(call, "timeout", str(e))
    except AIToolExecutionError as e:
        return _failure(call, "failed", str(e))


def _validation_message(e: AIToolValidationError) -> str:
    return f"{e} (at {e.path})" if e.path and e.path not in str(e) else str(e)


async def protect_sensitive(call: Call, next_step: Step) -> ToolResult:
    """Redact secrets from results for principals without ``data_access.sensitive_data``.

    JSON results lose the values of secret-named keys and of parameters the tool marks
    sensitive; any text loses credential-looking substrings.
    """
    result = await next_step(call)
    if call.context.principal.permissions.data_access.sensitive_data or not result.content:
        return result
    keys = call.registered.sensitive_parameters if call.registered else frozenset()
    if result.data is not None:
        data = redact(result.data, sensitive_keys=keys)
        if data == result.data:
            return result
        return replace(result, data=data, content=json.dumps(data, ensure_ascii=False))
    content = scrub_text(result.content)
    return result if content == result.content else replace(result, content=content)


async def lookup(call: Call, next_step: Step) -> ToolResult:
    """Find the tool; unknown names fail with the list of registered tools."""
    registered = call.registry.get(call.tool_name) if isinstance(call.tool_name, str) else None
    if registered is None:
        available = ", ".join(call.registry.names()) or "none"
        raise ToolNotFound(f"Unknown tool: {call.tool_label}. Available tools: {available}")
    call.registered = registered
    return await next_step(call)


def _resolve_operation(call: Call, tool: AITool) -> AIToolOperationDefinition | None:
    if not isinstance(call.params, dict):
        raise InvalidArguments(
            f"Arguments must be a JSON object, got {type(call.params).__name__}: "
            f"{repr(call.params)[:100]}"
        )
    operations = tool.get_operation_definitions()
    if not operations:
        return None
    # The framework's own wording (seed 003), checked here already because the policy
    # needs to know the operation.
    name = call.params.get("operation")
    if name is None:
        raise InvalidArguments("No 'operation' argument provided")
    if not isinstance(name, str):
        raise InvalidArguments("'operation' must be a string")
    if name not in operations:
        raise InvalidArguments(
            f"Unsupported operation: {name}. Available operations: {', '.join(sorted(operations))}"
        )
    return operations[name]


async def authorize(call: Call, next_step: Step) -> ToolResult:
    """Ask the policy; deny by default, with the reason."""
    assert call.registered is not None
    call.operation = _resolve_operation(call, call.registered.tool)
    action = ToolAction(
        tool=call.registered.name,
        category=call.registered.category,
        operation=call.operation.name if call.operation else None,
        read_only=bool(call.operation and call.operation.read_only),
        arguments=call.params,
        company_id=call.context.company_id,
    )
    decision = decide(call.context.principal, action)
    if not decision.allowed:
        raise PermissionDenied(f"Permission denied: {decision.reason}")
    return await next_step(call)


async def validate(call: Call, next_step: Step) -> ToolResult:
    """Check size and JSON-ness of the arguments, then the tool's own parameter checks."""
    assert call.registered is not None
    limit = call.registry.settings.max_params_bytes
    try:
        size = len(json.dumps(call.params, allow_nan=False).encode())
    except (TypeError, ValueError) as e:
        raise InvalidArguments(f"Arguments are not valid JSON: {e}") from e
    except RecursionError as e:
        raise InvalidArguments("Arguments are nested too deeply") from e
    if size > limit:
        raise InvalidArguments(
            f"Arguments too large: {size} bytes (the limit is {limit} bytes; "
            "MASTERAI_REGISTRY__MAX_PARAMS_BYTES)"
        )
    try:
        call.registered.tool.validate_arguments(call.params)
    except AIToolValidationError as e:
        raise InvalidArguments(_validation_message(e)) from e
    return await next_step(call)


CODE_TIMEOUT_GRACE = 15.0
"""Seconds a code call may run past its own ``timeout`` argument (sandbox set-up, clean-up)."""


def _limit(call: Call) -> float:
    assert call.registered is not None
    limit = (
        (call.operation.timeout if call.operation else None)
        or call.registered.timeout
        or call.registry.settings.default_timeout
    )
    # A program's own ``timeout`` (already bounded by the caller's code_execution limit in
    # the policy) must not be cut short by the registry's shorter default.
    requested = call.params.get("timeout") if isinstance(call.params, dict) else None
    if (
        call.registered.category in CODE_CATEGORIES
        and isinstance(requested, int | float)
        and not isinstance(requested, bool)
        and math.isfinite(requested)
    ):
        limit = max(limit, requested + CODE_TIMEOUT_GRACE)
    return limit


async def time_limit(call: Call, next_step: Step) -> ToolResult:
    """Cancel the call when it runs past its limit (operation, tool, then registry default).

    Code tools get at least their ``timeout`` argument plus :data:`CODE_TIMEOUT_GRACE`.
    """
    assert call.registered is not None
    limit = _limit(call)
    try:
        async with asyncio.timeout(limit):
            return await next_step(call)
    except TimeoutError as e:
        raise ToolTimeout(
            f"{call.registered.name} call timed out after {limit:g}s"
            + (f" (operation {call.operation.name!r})" if call.operation else "")
        ) from e


async def _deny_destructive(
    tool_name: str, arguments: dict[str, Any], reason: str, context: str | None, destructive: bool
) -> bool:
    """Default authorization: approve non-destructive requests, refuse destructive ones."""
    return not destructive


async def execute(call: Call) -> ToolResult:
    """Run the tool (the innermost step)."""
    assert call.registered is not None
    ctx = call.context
    tool_call = AIToolCall(id=ctx.request_id, name=call.registered.name, arguments=call.params)
    authorization = ctx.request_authorization or _deny_destructive
    result = await call.registered.tool.execute(tool_call, ctx.principal, authorization)
    if result.error:
        raise ToolFailed(result.error)
    return ToolResult(
        ok=True,
        tool=call.registered.name,
        operation=call.operation_name,
        status="ok",
        content=result.content,
        data=_parse_json(result.content),
        request_id=ctx.request_id,
    )


def _parse_json(content: str) -> Any:
    text = content.lstrip()
    if not text.startswith(("{", "[")):
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None
