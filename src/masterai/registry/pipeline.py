"""The steps of a registry call, each a small wrapper around the next one.

A call passes two kinds of step. :class:`RequestStep` wrappers see the raw
:class:`~masterai.registry.calls.CallRequest` and the final result (audit, monitor, error
translation, redaction); then :data:`PREPARE` checks the request once into a
:class:`~masterai.registry.calls.PreparedCall`; :class:`CallStep` wrappers take that prepared
call (approval, time limit) around the final :func:`execute`. The default order::

    audit -> monitor -> structured_errors -> protect_sensitive -> PREPARE -> approve
          -> time_limit -> execute

:func:`compose` refuses any other shape (a call step before ``PREPARE``, no ``PREPARE``), so
no order of steps can reach a step without what it needs. Inner steps signal failure by
raising :class:`~masterai.registry.errors.RegistryError`; ``structured_errors`` turns those
(and the framework's own errors) into results. Anything else is a programming error: it is
audited as ``failed`` and re-raised.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from ai_tool import (
    AITool,
    AIToolAuthorizationCallback,
    AIToolAuthorizationDenied,
    AIToolCall,
    AIToolExecutionError,
    AIToolNotFoundError,
    AIToolTimeoutError,
    AIToolUnavailableError,
    AIToolValidationError,
)
from masterai.audit import AuditEntry
from masterai.registry.approval import Approval, ApprovalRequest, ApprovedToolCall, Preview
from masterai.registry.approval import PreviewingTool as _PreviewingTool
from masterai.registry.calls import CallRequest, PreparedCall
from masterai.registry.context import ToolResult
from masterai.registry.errors import (
    InvalidArguments,
    PermissionDenied,
    PipelineError,
    RegistryError,
    TargetNotFound,
    ToolFailed,
    ToolTimeout,
    ToolUnavailable,
)
from masterai.security import ParameterRole, redact, scrub_text

if TYPE_CHECKING:
    from masterai.registry.registry import ToolRegistry

RequestHandler = Callable[[CallRequest], Awaitable[ToolResult]]
CallHandler = Callable[[PreparedCall], Awaitable[ToolResult]]


@dataclass(frozen=True)
class RequestStep:
    """A step around the whole call: it sees the raw request and every outcome."""

    run: Callable[[ToolRegistry, CallRequest, RequestHandler], Awaitable[ToolResult]]


@dataclass(frozen=True)
class CallStep:
    """A step around a prepared call."""

    run: Callable[[ToolRegistry, PreparedCall, CallHandler], Awaitable[ToolResult]]


class _Prepare:
    def __repr__(self) -> str:
        return "PREPARE"


PREPARE: Final = _Prepare()
"""The point where a request becomes a prepared call (``ToolRegistry.prepare``)."""

Step = RequestStep | CallStep | _Prepare


def compose(registry: ToolRegistry, steps: Sequence[Step]) -> RequestHandler:
    """Nest ``steps`` (outermost first) around :func:`execute`.

    Raises:
        PipelineError: not request steps, then exactly one ``PREPARE``, then call steps.
    """
    kinds = [type(s) for s in steps]
    if kinds.count(_Prepare) != 1:
        raise PipelineError("The steps must contain PREPARE exactly once")
    cut = kinds.index(_Prepare)
    outer, inner = steps[:cut], steps[cut + 1 :]
    misplaced = [s for s in outer if not isinstance(s, RequestStep)] + [
        s for s in inner if not isinstance(s, CallStep)
    ]
    if misplaced:
        raise PipelineError(
            f"Misplaced step(s) {misplaced!r}: request steps come before PREPARE, "
            "steps over the prepared call after it"
        )
    call_handler: CallHandler = functools.partial(execute, registry)
    for step in reversed(inner):
        assert isinstance(step, CallStep)
        call_handler = functools.partial(step.run, registry, next_step=call_handler)  # type: ignore[call-arg]

    async def prepare_then(request: CallRequest) -> ToolResult:
        return await call_handler(registry.prepare(request))

    handler: RequestHandler = prepare_then
    for step in reversed(outer):
        assert isinstance(step, RequestStep)
        handler = functools.partial(step.run, registry, next_step=handler)  # type: ignore[call-arg]
    return handler


def failure(
    request: CallRequest,
    error: RegistryError | None,
    status: str | None = None,
    text: str | None = None,
) -> ToolResult:
    """A failed result for ``request`` (status and text default to ``error``'s)."""
    call = error.call if error is not None else None
    if error is not None:
        status = status or error.status
        text = text or str(error)
    assert status is not None and text is not None
    return ToolResult(
        ok=False,
        tool=call.tool.name if call else request.tool_label,
        operation=call.operation_name if call else request.operation_label,
        status=status,
        error=text,
        error_path=error.path if error is not None else None,
        request_id=request.context.request_id,
        call=call,
    )


# --- request steps --------------------------------------------------------------------


async def _audit(
    registry: ToolRegistry, request: CallRequest, next_step: RequestHandler
) -> ToolResult:
    """Write one audit record for the call, whatever happened; add its id to the result."""
    try:
        result = await next_step(request)
    except BaseException as e:
        failed = failure(request, None, "failed", f"internal error: {type(e).__name__}: {e}")
        await append_audit(registry, request, failed)
        raise
    record_id = await append_audit(registry, request, result)
    return replace(result, audit_id=record_id)


async def append_audit(registry: ToolRegistry, request: CallRequest, result: ToolResult) -> int:
    """Write the audit record of ``request`` ending in ``result``; its id."""
    principal = request.context.principal
    call = result.call
    secrets = call.secret_keys if call else frozenset()
    if call is not None:
        params: Any = (
            {"operation": call.operation_name, **call.arguments}
            if call.operation
            else call.arguments
        )
        companies = call.companies
    else:
        params = (
            request.params if isinstance(request.params, dict) else {"_raw": repr(request.params)}
        )
        companies = registry.companies_named(request)
    entry = AuditEntry(
        tool=result.tool,
        operation=result.operation,
        params=params,
        status=result.status,
        result_summary=_summary(result, secrets),
        error=result.error,
        duration_ms=result.duration_ms or (time.perf_counter() - request.started) * 1000,
        user_id=principal.user_id,
        user_name=principal.name,
        token_id=principal.token_id,
        client_address=request.context.client_address,
        company_id=request.context.company_id or (companies[0] if companies else None),
        company_ids=companies,
        request_id=request.context.request_id,
        sensitive_keys=secrets,
        public_keys=call.tool.public_keys if call else frozenset(),
    )
    record = await registry.audit_log.append_async(entry)
    return record.id


def _summary(result: ToolResult, secrets: frozenset[str]) -> str | None:
    """The result as stored: JSON results lose secret values, whoever the caller was.

    ``protect_sensitive`` only redacts for principals without ``sensitive_data``; the audit
    log is read by others, so it always stores the redacted form (text is scrubbed later).
    """
    if result.data is not None:
        return json.dumps(redact(result.data, sensitive_keys=secrets), ensure_ascii=False)
    return result.content or None


async def _monitor(
    registry: ToolRegistry, request: CallRequest, next_step: RequestHandler
) -> ToolResult:
    """Time the call and count it by tool and status."""
    result = await next_step(request)
    duration = round((time.perf_counter() - request.started) * 1000, 3)
    registry.monitor.record(result.tool, result.status, duration)
    return replace(result, duration_ms=duration)


async def _structured_errors(
    registry: ToolRegistry, request: CallRequest, next_step: RequestHandler
) -> ToolResult:
    """Turn registry and framework errors into a failed :class:`ToolResult`."""
    try:
        return await next_step(request)
    except RegistryError as e:
        return failure(request, e, e.status, str(e))
    except AIToolValidationError as e:
        return failure(request, None, "invalid", str(e))
    except AIToolAuthorizationDenied as e:
        return failure(request, None, "denied", str(e))
    except AIToolTimeoutError as e:
        return failure(request, None, "timeout", str(e))
    except AIToolNotFoundError as e:
        return failure(request, None, "not_found", str(e))
    except AIToolUnavailableError as e:
        return failure(request, None, "unavailable", str(e))
    except AIToolExecutionError as e:
        return failure(request, None, "failed", str(e))


async def _protect_sensitive(
    registry: ToolRegistry, request: CallRequest, next_step: RequestHandler
) -> ToolResult:
    """Redact secrets from results for principals without ``data_access.sensitive_data``.

    JSON results lose the values of secret-named keys and of parameters declared secret; any
    text, error text included, loses credential-looking substrings.
    """
    if request.context.principal.permissions.data_access.sensitive_data:
        return await next_step(request)
    try:
        result = await next_step(request)
    except RegistryError as e:
        # An error message may quote what failed (a URL with a password, a configuration).
        text = scrub_text(str(e))
        if text == str(e):
            raise
        return failure(request, e, e.status, text)
    if result.error:
        result = replace(result, error=scrub_text(result.error))
    if not result.content:
        return result
    keys = result.call.secret_keys if result.call else frozenset()
    if result.data is not None:
        data = redact(result.data, sensitive_keys=keys)
        if data == result.data:
            return result
        return replace(result, data=data, content=json.dumps(data, ensure_ascii=False))
    content = scrub_text(result.content)
    return result if content == result.content else replace(result, content=content)


# --- steps over the prepared call ------------------------------------------------------


async def _approve(
    registry: ToolRegistry, call: PreparedCall, next_step: CallHandler
) -> ToolResult:
    """Ask the face's approver before a call that needs approval, with its preview.

    What was approved is what runs: the prepared call carries the approval (and the tool's
    previewed plan) into execution.
    """
    if not call.needs_approval:
        return await next_step(call)
    preview = await preview_call(call)
    request = approval_request(call, preview)
    approver = call.context.approver
    if approver is None or not await approver(request):
        raise PermissionDenied(
            f"Authorization denied for {call.tool.name} operation {call.operation_name!r}",
            call=call,
        )
    return await next_step(replace(call, approval=Approval(request=request, preview=preview)))


def approval_request(call: PreparedCall, preview: Preview | None) -> ApprovalRequest:
    """What the approver of ``call`` is shown (with the preview :func:`preview_call` made)."""
    kind = "the destructive operation" if call.operation and call.operation.destructive else ""
    return ApprovalRequest(
        tool=call.tool.name,
        operation=call.operation_name,
        arguments=call.arguments,
        reason=f"The {call.tool.name} tool wants to run {kind or 'the operation'} "
        f"{call.operation_name!r}",
        preview=preview.text if preview else None,
        effects=call.effects,
        companies=call.companies,
    )


async def preview_call(call: PreparedCall) -> Preview | None:
    """What ``call`` would do, as the approval step shows it (``None``: nothing to show).

    Raises:
        ToolFailed: the tool cannot make the call (an unknown company, ...).
    """
    tool = call.tool.tool
    changes = call.operation is not None and tool.requires_authorization(
        call.operation, call.arguments
    )
    # A tool previews what its own approval rule is about (the change it makes); a call a
    # face asks about for another reason (it spends money on a model) is described by its
    # context line.
    if changes and isinstance(tool, _PreviewingTool) and call.checked is not None:
        try:
            return await tool.preview_call(call.checked, call.context.principal)
        except AIToolExecutionError as e:
            raise ToolFailed(str(e), call=call) from e
    text = tool.extract_context(_tool_call(call))
    return Preview(text=text) if text else None


CODE_TIMEOUT_GRACE = 15.0
"""Seconds a program may run past its own time limit (sandbox set-up, clean-up)."""


def _limit(registry: ToolRegistry, call: PreparedCall) -> float:
    limit = (
        (call.operation.timeout if call.operation else None)
        or call.tool.timeout
        or registry.settings.default_timeout
    )
    # A program's own time limit (already bounded by the caller's code_execution limit in
    # the policy) must not be cut short by the registry's shorter default.
    for requested in call.values(ParameterRole.TIME_LIMIT):
        numeric = isinstance(requested, int | float) and not isinstance(requested, bool)
        if numeric and math.isfinite(requested):
            limit = max(limit, requested + CODE_TIMEOUT_GRACE)
    return limit


async def _time_limit(
    registry: ToolRegistry, call: PreparedCall, next_step: CallHandler
) -> ToolResult:
    """Cancel the call when it runs past its limit (operation, tool, then registry default).

    A call with a declared time limit gets at least that plus :data:`CODE_TIMEOUT_GRACE`.
    """
    limit = _limit(registry, call)
    try:
        async with asyncio.timeout(limit):
            return await next_step(call)
    except TimeoutError as e:
        raise ToolTimeout(
            f"{call.tool.name} call timed out after {limit:g}s"
            + (f" (operation {call.operation_name!r})" if call.operation else ""),
            call=call,
        ) from e


def _tool_call(call: PreparedCall) -> ApprovedToolCall:
    return ApprovedToolCall(
        id=call.context.request_id,
        name=call.tool.name,
        arguments=call.arguments,
        approval=call.approval,
    )


def _ask_approver(call: PreparedCall) -> AIToolAuthorizationCallback:
    """The seed's authorization callback for a handler that asks on its own."""
    approver = call.context.approver

    async def ask(
        tool_name: str,
        arguments: dict[str, Any],
        reason: str,
        context: str | None,
        destructive: bool,
    ) -> bool:
        if approver is None:
            return not destructive
        return await approver(
            ApprovalRequest(
                tool=tool_name,
                operation=call.operation_name,
                arguments=arguments,
                reason=reason,
                preview=context,
                effects=call.effects,
                companies=call.companies,
                destructive=destructive,
            )
        )

    return ask


async def execute(registry: ToolRegistry, call: PreparedCall) -> ToolResult:
    """Run the tool on the prepared arguments (the innermost step); nothing is re-checked."""
    tool = call.tool.tool
    tool_call = _tool_call(call)
    ask = _ask_approver(call)
    principal = call.context.principal
    try:
        if call.checked is None or type(tool).execute is not AITool.execute:
            # A legacy tool (its own execute() checks its arguments).
            result = await tool.execute(
                AIToolCall(tool_call.id, tool_call.name, dict(call.arguments)), principal, ask
            )
        else:
            result = await tool.execute_checked(
                tool_call, call.checked, principal, ask, authorized=call.approval is not None
            )
    except AIToolValidationError as e:
        raise InvalidArguments(str(e), call=call, path=e.path or None) from e
    except AIToolAuthorizationDenied as e:
        raise PermissionDenied(str(e), call=call) from e
    except AIToolTimeoutError as e:
        raise ToolTimeout(str(e), call=call) from e
    except AIToolNotFoundError as e:
        raise TargetNotFound(str(e), call=call) from e
    except AIToolUnavailableError as e:
        raise ToolUnavailable(str(e), call=call) from e
    except AIToolExecutionError as e:
        raise ToolFailed(str(e), call=call) from e
    if result.error:
        raise ToolFailed(result.error, call=call)
    return ToolResult(
        ok=True,
        tool=call.tool.name,
        operation=call.operation_name,
        status="ok",
        content=result.content,
        data=_parse_json(result.content),
        request_id=call.context.request_id,
        call=call,
    )


def _parse_json(content: str) -> Any:
    text = content.lstrip()
    if not text.startswith(("{", "[")):
        return None
    try:
        return json.loads(content)
    except ValueError:
        return None


audit = RequestStep(_audit)
monitor = RequestStep(_monitor)
structured_errors = RequestStep(_structured_errors)
protect_sensitive = RequestStep(_protect_sensitive)
approve = CallStep(_approve)
time_limit = CallStep(_time_limit)

DEFAULT_STEPS: tuple[Step, ...] = (
    audit,
    monitor,
    structured_errors,
    protect_sensitive,
    PREPARE,
    approve,
    time_limit,
)
