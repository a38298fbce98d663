"""The ``AITool`` base class: operation routing, argument checking, timeouts, cancellation."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ai_tool import _help
from ai_tool._redaction import REDACTED, redact
from ai_tool._validation import CompiledTool, compile_tool
from ai_tool.ai_tool_call import AIToolCall
from ai_tool.ai_tool_checked_call import AIToolCheckedCall
from ai_tool.ai_tool_definition import AIToolDefinition
from ai_tool.ai_tool_exceptions import (
    AIToolAuthorizationDenied,
    AIToolCancelledError,
    AIToolExecutionError,
    AIToolTimeoutError,
    AIToolValidationError,
)
from ai_tool.ai_tool_operation_definition import (
    AIToolAuthorizationCallback,
    AIToolOperationDefinition,
)
from ai_tool.ai_tool_parameter import AIToolParameter
from ai_tool.ai_tool_result import AIToolResult

__all__ = ["AITool", "AIToolAuthorizationCallback"]

# Marker between a definition's description prefix and its operation list; schema export
# uses it to list only the operations it exports.
OPERATIONS_HEADING = "\n\nAvailable operations:\n\n"


class _OperationTimedOut(Exception):
    """An operation's own ``timeout`` expired (unlike a ``TimeoutError`` of its handler)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout)
        self.timeout = timeout


@dataclass(slots=True)
class _ToolState:
    """Per-instance caches and bookkeeping, created on first use.

    Kept out of ``__init__`` because seed-era subclasses define ``__init__`` without calling
    ``super().__init__()``.
    """

    compiled: CompiledTool
    logger: logging.Logger
    tool_name: str
    has_extra_checks: bool
    has_authorization_hook: bool
    running: set[asyncio.Task[Any]] = field(default_factory=set)
    cancel_requested: set[asyncio.Task[Any]] = field(default_factory=set)


class AITool(ABC):
    """Base class of every tool.

    Operation-based tools implement :meth:`get_definition` and
    :meth:`get_operation_definitions`; :meth:`execute` then routes on the ``operation``
    argument, checks the arguments and runs the handler. A caller that must look at a call
    before running it (a registry asking for approval, say) checks it once with
    :meth:`check_call` and runs the result with :meth:`execute_checked`. Legacy tools
    override :meth:`execute` instead.

    The definitions are read once per instance, on first use, and cached; call
    :meth:`clear_definition_cache` after changing what they return.
    """

    type_check_arguments: bool = False
    """Check argument types and ``enum`` values against the declared parameters.

    Off by default, as in seed 003, whose handlers check their own types with their own
    messages; set ``True`` on a tool class to opt in. Routing on ``operation`` and the
    allowed/required checks run either way. ``check_call(..., check_types=True)`` forces the
    type checks for one call."""

    @abstractmethod
    def get_definition(self) -> AIToolDefinition:
        """Return the definition shown to models."""

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """Return the operations by name; empty for legacy tools."""
        return {}

    # --- cached state ------------------------------------------------------------------

    def _state(self) -> _ToolState:
        state: _ToolState | None = self.__dict__.get("_ai_tool_state")
        if state is None:
            operations = self.get_operation_definitions()
            definition = self.get_definition() if operations else None
            state = _ToolState(
                compiled=compile_tool(operations, definition.parameters if definition else []),
                logger=self.get_logger(),
                # Messages and approval prompts use the name the model calls the tool by; the
                # class-derived name differs for classes not ending in ``AITool``.
                tool_name=(definition.name if definition else "") or self.get_tool_name(),
                # Skip the hook call entirely for the (common) tools that do not override it.
                has_extra_checks=(
                    type(self).check_operation_arguments is not AITool.check_operation_arguments
                ),
                has_authorization_hook=(
                    type(self).requires_authorization is not AITool.requires_authorization
                ),
            )
            self.__dict__["_ai_tool_state"] = state
        return state

    def clear_definition_cache(self) -> None:
        """Forget cached definitions and compiled checkers (running executions continue)."""
        state: _ToolState | None = self.__dict__.pop("_ai_tool_state", None)
        if state is not None and state.running:
            # Keep cancel() able to reach executions that started before the reset.
            self.__dict__["_ai_tool_state"] = dataclasses.replace(
                self._state(), running=state.running, cancel_requested=state.cancel_requested
            )

    # --- validation and execution -----------------------------------------------------

    def _check(
        self, state: _ToolState, arguments: dict[str, Any], check_types: bool | None
    ) -> tuple[AIToolOperationDefinition, dict[str, Any]]:
        """Run every check ``execute()`` runs before a handler (the tool has operations)."""
        if not isinstance(arguments, dict):
            raise AIToolValidationError(
                f"Arguments must be a JSON object; got {type(arguments).__name__}: "
                f"{arguments!r:.100}",
                "",
            )
        if None in arguments.values():
            # A null argument means "not given": OpenAI strict mode sends null for every
            # optional parameter it does not use.
            arguments = {k: v for k, v in arguments.items() if v is not None}
        operation = state.compiled.route(arguments)
        operation.check_names(arguments)
        if self.type_check_arguments if check_types is None else check_types:
            operation.check_types(arguments)
        if state.has_extra_checks:
            self.check_operation_arguments(operation.definition, arguments)
        return operation.definition, arguments

    def check_operation_arguments(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> None:
        """Hook for checks beyond names and types; runs in :meth:`check_call` too.

        Called after the built-in checks pass, before any authorization prompt or handler,
        so a registry that validates before asking a human never asks about a bad call.
        Raise :class:`AIToolValidationError` to reject. The default does nothing.
        """
        return None

    def requires_authorization(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> bool:
        """Say whether :meth:`execute` must ask the authorization callback before this call.

        The default is the operation's ``destructive`` flag. Override it to decide per call:
        for example, let a preview (``dry_run``) of a destructive operation run unasked, or
        ask before a normally harmless operation when some argument makes it risky. When
        this returns ``True`` the callback is asked with ``destructive=True`` and a refusal
        raises :class:`AIToolAuthorizationDenied`; when ``False`` nothing is asked here (the
        handler may still ask).

        Args:
            operation: The operation the arguments select.
            arguments: The checked arguments (after validation; ``None`` values removed).
        """
        return operation.destructive

    def check_call(
        self, arguments: dict[str, Any], *, check_types: bool | None = None
    ) -> AIToolCheckedCall | None:
        """Run the checks :meth:`execute` runs before a handler, and keep the result.

        Routing on ``operation``, the allowed and required names, the type and ``enum``
        checks (see ``check_types``) and :meth:`check_operation_arguments`, in that order.
        Pass the result to :meth:`execute_checked` to run the call without checking again.

        Args:
            arguments: The call's arguments.
            check_types: ``None`` follows the class attribute :attr:`type_check_arguments`;
                ``True`` or ``False`` turns the type and ``enum`` checks on or off for this
                call (a registry that promises checked arguments forces them on).

        Returns:
            The selected operation and the checked arguments (``None`` values removed), or
            ``None`` for a legacy tool (one with no operations, whose own ``execute()`` does
            its checking).

        Raises:
            AIToolValidationError: The arguments are not valid; ``path`` says where.
        """
        state = self._state()
        if not state.compiled.operations:
            return None
        operation, checked = self._check(state, arguments, check_types)
        return AIToolCheckedCall(operation=operation, arguments=checked)

    def validate_arguments(self, arguments: dict[str, Any]) -> AIToolOperationDefinition | None:
        """Run the checks :meth:`execute` runs before a handler, without running it.

        The same as :meth:`check_call` with the class's own type-checking setting, keeping
        only the operation.

        Returns:
            The operation the arguments select, or ``None`` for a legacy tool (one with no
            operations, whose own ``execute()`` does its checking).

        Raises:
            AIToolValidationError: The arguments are not valid; ``path`` says where.
        """
        checked = self.check_call(arguments)
        return checked.operation if checked is not None else None

    async def execute(
        self,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
    ) -> AIToolResult:
        """Check the arguments once, then run the operation's handler.

        The checks are those of :meth:`check_call` (types and ``enum`` values only when
        :attr:`type_check_arguments` is set). Arguments whose value is ``None`` are treated
        as absent. When :meth:`requires_authorization` says so (by default: for a
        destructive operation), ``request_authorization`` is asked first.

        What a handler raises reaches the caller as in seed 003: ``AIToolExecutionError``
        (with its subclasses) and ``AIToolAuthorizationDenied`` unchanged, and
        ``asyncio.CancelledError`` as cancellation. Every other exception, an
        ``AIToolTimeoutError`` or ``TimeoutError`` of the handler's own included, is wrapped
        as ``AIToolExecutionError("<tool name> operation failed: <error>")`` with the
        original as ``__cause__``. ``AIToolTimeoutError`` comes only from the operation's
        own ``timeout``.

        Raises:
            AIToolValidationError: The arguments were rejected (nothing ran).
            AIToolExecutionError: The handler failed (see above).
            AIToolAuthorizationDenied: Authorization was refused.
            AIToolTimeoutError: The operation's ``timeout`` expired (the handler is cancelled).
            AIToolCancelledError: :meth:`cancel` stopped this execution.
            NotImplementedError: The tool has no operations and does not override this.
        """
        state = self._state()
        if not state.compiled.operations:
            raise NotImplementedError(
                f"{type(self).__name__} must either define operations or override execute()"
            )
        operation, arguments = self._check(state, tool_call.arguments, None)
        return await self._ai_tool_run(
            state, operation, arguments, tool_call, requester_ref, request_authorization, False
        )

    async def execute_checked(
        self,
        tool_call: AIToolCall,
        checked: AIToolCheckedCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
        *,
        authorized: bool = False,
    ) -> AIToolResult:
        """Run a call that :meth:`check_call` accepted, without checking it again.

        Everything else is as in :meth:`execute`: the approval asked for by
        :meth:`requires_authorization`, the operation's ``timeout``, :meth:`cancel`, and
        the same exceptions. The handler sees ``checked.arguments`` (set ``tool_call``'s
        arguments to them; a call carrying other arguments is given them).

        A tool that overrides :meth:`execute` owns its execution: its ``execute()`` runs,
        with the checked arguments, and does whatever checking and asking it does.

        Args:
            tool_call: The call; its ``id`` and ``name`` go into the result.
            checked: What this tool's :meth:`check_call` returned for the call's arguments.
            requester_ref: Passed to the handler unchanged.
            request_authorization: The authorization callback.
            authorized: The caller already obtained approval for exactly this call: do not
                ask the callback before the handler (the handler may still ask).
        """
        if type(self).execute is not AITool.execute:
            if tool_call.arguments is not checked.arguments:
                tool_call = AIToolCall(tool_call.id, tool_call.name, checked.arguments)
            return await self.execute(tool_call, requester_ref, request_authorization)
        return await self._ai_tool_run(
            self._state(),
            checked.operation,
            checked.arguments,
            tool_call,
            requester_ref,
            request_authorization,
            authorized,
        )

    async def _ai_tool_run(
        self,
        state: _ToolState,
        op: AIToolOperationDefinition,
        arguments: dict[str, Any],
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
        authorized: bool,
    ) -> AIToolResult:
        """Everything after checking: approval, time limit, cancellation, error wrapping."""
        if arguments is not tool_call.arguments:
            tool_call = AIToolCall(id=tool_call.id, name=tool_call.name, arguments=arguments)
        task = asyncio.current_task()
        if task is not None:
            state.running.add(task)
        state.logger.debug("%s operation requested: %s", state.tool_name, op.name)
        try:
            approve = not authorized and (
                self.requires_authorization(op, arguments)
                if state.has_authorization_hook
                else op.destructive
            )
            if approve or op.timeout is not None:
                return await self._run_guarded(
                    op, state, tool_call, requester_ref, request_authorization, approve
                )
            # The common case awaits the handler directly: no extra coroutine per call.
            return await op.handler(tool_call, requester_ref, request_authorization)
        except (AIToolExecutionError, AIToolAuthorizationDenied):
            raise  # the seed lets exactly these through unchanged
        except _OperationTimedOut as e:
            raise AIToolTimeoutError(
                f"{state.tool_name} operation '{op.name}' timed out after {e.timeout:g}s",
                e.timeout,
            ) from e.__cause__
        except asyncio.CancelledError:
            if task is not None and task in state.cancel_requested:
                state.cancel_requested.discard(task)
                if task.uncancel() == 0:
                    raise AIToolCancelledError(
                        f"{state.tool_name} operation '{op.name}' was cancelled"
                    ) from None
            raise
        except Exception as e:
            state.logger.error(
                "Unexpected error in %s operation '%s': %s", state.tool_name, op.name, e
            )
            raise AIToolExecutionError(f"{state.tool_name} operation failed: {e}") from e
        finally:
            if task is not None:
                state.running.discard(task)
                if task in state.cancel_requested:
                    # cancel() raced with a handler that swallowed CancelledError: undo the
                    # request so later timeouts in the caller's task still work.
                    state.cancel_requested.discard(task)
                    task.uncancel()

    async def _run_guarded(
        self,
        op: AIToolOperationDefinition,
        state: _ToolState,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
        approve: bool,
    ) -> AIToolResult:
        """Run a handler that needs approval first, a time limit, or both."""
        if approve:
            await self._authorize(op, state, tool_call, request_authorization)
        if op.timeout is None:
            return await op.handler(tool_call, requester_ref, request_authorization)
        limit = asyncio.timeout(op.timeout)
        try:
            async with limit:
                return await op.handler(tool_call, requester_ref, request_authorization)
        except TimeoutError as e:
            if not limit.expired():
                raise  # the handler's own TimeoutError: _ai_tool_run() wraps it like any other
            raise _OperationTimedOut(op.timeout) from e

    async def _authorize(
        self,
        op: AIToolOperationDefinition,
        state: _ToolState,
        tool_call: AIToolCall,
        request_authorization: AIToolAuthorizationCallback,
    ) -> None:
        kind = "the destructive operation" if op.destructive else "the operation"
        reason = f"The {state.tool_name} tool wants to run {kind} '{op.name}'"
        context = self.extract_context(tool_call)
        approved = await request_authorization(
            state.tool_name, tool_call.arguments, reason, context, True
        )
        if not approved:
            raise AIToolAuthorizationDenied(
                f"Authorization denied for {state.tool_name} operation '{op.name}'"
            )

    def redact_arguments(
        self, arguments: dict[str, Any], *, mask: str = REDACTED
    ) -> dict[str, Any]:
        """Return a copy of ``arguments`` safe to log: ``sensitive`` values become ``mask``.

        Nested object fields and array items are followed; undeclared keys are kept as-is.
        """
        return redact(self.get_definition().parameters, arguments, mask)

    def cancel(self) -> None:
        """Cancel every execution of this tool instance that is running now.

        Each affected ``execute()`` raises :class:`AIToolCancelledError`; its handler sees
        ``asyncio.CancelledError`` at its current ``await``. Legacy tools that override
        ``execute()`` should override this too.
        """
        state: _ToolState | None = self.__dict__.get("_ai_tool_state")
        if state is None:
            return
        for task in list(state.running):
            if task not in state.cancel_requested:
                state.cancel_requested.add(task)
                task.cancel()

    def extract_context(self, tool_call: AIToolCall) -> str | None:
        """Return the operation's context text for this call, or ``None``."""
        operations = self._state().compiled.operations
        operation = tool_call.arguments.get("operation")
        if not isinstance(operation, str) or operation not in operations:
            return None
        extract = operations[operation].definition.extract_context
        if extract is None:
            return None
        try:
            return extract(tool_call.arguments)
        except AIToolExecutionError:
            return None

    # --- names and logging ------------------------------------------------------------

    def get_logger(self) -> logging.Logger:
        """Return the logger for this tool (named after the class)."""
        return logging.getLogger(type(self).__name__)

    def get_tool_name(self) -> str:
        """Return the class name without an ``AITool`` suffix, lower-cased."""
        name = type(self).__name__
        return (name[: -len("AITool")] if name.endswith("AITool") else name).lower()

    # --- definition and help ----------------------------------------------------------

    def _build_definition_from_operations(
        self,
        name: str,
        description_prefix: str,
        additional_parameters: list[AIToolParameter] | None = None,
    ) -> AIToolDefinition:
        """Build a definition: an ``operation`` parameter first, then the others.

        The description is the prefix followed by each operation and its description.
        """
        operations = self.get_operation_definitions()
        lines = "\n".join(f"- {n}: {op.description}" for n, op in operations.items())
        parameters = [
            AIToolParameter(
                name="operation",
                type="string",
                description=f"{name.capitalize()} operation to perform",
                required=True,
                enum=list(operations),
            ),
            *(additional_parameters or []),
        ]
        return AIToolDefinition(
            name=name,
            description=f"{description_prefix}{OPERATIONS_HEADING}{lines}",
            parameters=parameters,
        )

    def get_brief_description(self) -> str:
        """Return the first sentence of the description (for system prompts)."""
        return _help.first_sentence(self.get_definition().description)

    def get_operation_summary(self) -> dict[str, str]:
        """Return each operation's first sentence, by operation name."""
        return _help.operation_summary(self.get_operation_definitions())

    def get_detailed_help(self, operation: str | None = None) -> str:
        """Return markdown help generated from the definitions.

        Args:
            operation: Limit the help to this operation; an unknown name gets a one-line
                answer listing the available operations.
        """
        return _help.detailed_help(
            self.get_definition(),
            self.get_operation_definitions(),
            operation,
            self.get_definition().description.split(OPERATIONS_HEADING)[0],
        )

    # --- seed helpers for handlers ----------------------------------------------------

    def _get_required_str_value(self, key: str, arguments: dict[str, Any]) -> str:
        """Return a required string argument."""
        if key not in arguments:
            raise AIToolExecutionError(f"No '{key}' argument provided")
        value = arguments[key]
        if not isinstance(value, str):
            raise AIToolExecutionError(f"'{key}' must be a string")
        return value

    def _get_optional_str_value(
        self, key: str, arguments: dict[str, Any], default: str | None = None
    ) -> str | None:
        """Return an optional string argument, or ``default`` when absent."""
        value = arguments.get(key)
        if value is None:
            return default if key not in arguments else None
        if not isinstance(value, str):
            raise AIToolExecutionError(f"'{key}' must be a string")
        return value

    def _get_optional_int_value(
        self, key: str, arguments: dict[str, Any], default: int | None = None
    ) -> int | None:
        """Return an optional integer argument (booleans rejected), or ``default``."""
        value = arguments.get(key)
        if value is None:
            return default if key not in arguments else None
        if not isinstance(value, int) or isinstance(value, bool):
            raise AIToolExecutionError(f"'{key}' must be an integer")
        return value

    def _get_optional_bool_value(
        self, key: str, arguments: dict[str, Any], default: bool = False
    ) -> bool:
        """Return an optional boolean argument, or ``default`` when absent."""
        if key not in arguments:
            return default
        value = arguments[key]
        if not isinstance(value, bool):
            raise AIToolExecutionError(f"'{key}' must be a boolean")
        return value

    def _get_optional_list_value(
        self, key: str, arguments: dict[str, Any], default: list[Any] | None = None
    ) -> list[Any] | None:
        """Return an optional list argument, or ``default`` when absent."""
        value = arguments.get(key)
        if value is None:
            return default if key not in arguments else None
        if not isinstance(value, list):
            raise AIToolExecutionError(f"'{key}' must be a list")
        return value
