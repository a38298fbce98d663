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
from ai_tool._validation import CompiledOperation, CompiledTool, compile_tool
from ai_tool.ai_tool_call import AIToolCall
from ai_tool.ai_tool_definition import AIToolDefinition
from ai_tool.ai_tool_exceptions import (
    AIToolAuthorizationDenied,
    AIToolCancelledError,
    AIToolError,
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
    argument, checks the arguments and runs the handler. Legacy tools override
    :meth:`execute` instead.

    The definitions are read once per instance, on first use, and cached; call
    :meth:`clear_definition_cache` after changing what they return.
    """

    type_check_arguments: bool = True
    """Check argument types against the declared parameters; set ``False`` on a tool class
    to opt out (routing and allowed/required checks still run)."""

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

    def _prepare(
        self, arguments: dict[str, Any]
    ) -> tuple[_ToolState, CompiledOperation, dict[str, Any]]:
        state = self._state()
        compiled = state.compiled
        if not compiled.operations:
            raise NotImplementedError(
                f"{type(self).__name__} must either define operations or override execute()"
            )
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
        operation = compiled.route(arguments)
        operation.check_names(arguments)
        if self.type_check_arguments:
            operation.check_types(arguments)
        if state.has_extra_checks:
            self.check_operation_arguments(operation.definition, arguments)
        return state, operation, arguments

    def check_operation_arguments(
        self, operation: AIToolOperationDefinition, arguments: dict[str, Any]
    ) -> None:
        """Hook for checks beyond names and types; runs in ``validate_arguments`` too.

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

    def validate_arguments(self, arguments: dict[str, Any]) -> AIToolOperationDefinition | None:
        """Run the checks :meth:`execute` runs before a handler, without running it.

        Returns:
            The operation the arguments select, or ``None`` for a legacy tool (one with no
            operations, whose own ``execute()`` does its checking).

        Raises:
            AIToolValidationError: The arguments are not valid; ``path`` says where.
        """
        if not self._state().compiled.operations:
            return None
        return self._prepare(arguments)[1].definition

    async def execute(
        self,
        tool_call: AIToolCall,
        requester_ref: Any,
        request_authorization: AIToolAuthorizationCallback,
    ) -> AIToolResult:
        """Route to the operation's handler after checking the arguments.

        Arguments whose value is ``None`` are treated as absent. When
        :meth:`requires_authorization` says so (by default: for a destructive operation),
        ``request_authorization`` is asked first.

        Raises:
            AIToolValidationError: The arguments were rejected (nothing ran).
            AIToolExecutionError: The handler failed; unexpected exceptions are wrapped as
                ``"<tool name> operation failed: <error>"``.
            AIToolAuthorizationDenied: Authorization was refused.
            AIToolTimeoutError: The operation's ``timeout`` expired (the handler is cancelled).
            AIToolCancelledError: :meth:`cancel` stopped this execution.
            NotImplementedError: The tool has no operations and does not override this.
        """
        state, operation, arguments = self._prepare(tool_call.arguments)
        op = operation.definition
        if arguments is not tool_call.arguments:
            tool_call = AIToolCall(id=tool_call.id, name=tool_call.name, arguments=arguments)
        task = asyncio.current_task()
        if task is not None:
            state.running.add(task)
        state.logger.debug("%s operation requested: %s", state.tool_name, op.name)
        try:
            approve = (
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
        except AIToolError:
            raise
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
                raise  # the handler's own TimeoutError: execute() wraps it like any other
            raise AIToolTimeoutError(
                f"{state.tool_name} operation '{op.name}' timed out after {op.timeout:g}s",
                op.timeout,
            ) from e

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
