"""The ``clock`` tool: ``get_time``, ``sleep`` and ``alarm``."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ai_tool.ai_tool import AITool
from ai_tool.ai_tool_call import AIToolCall
from ai_tool.ai_tool_definition import AIToolDefinition
from ai_tool.ai_tool_exceptions import AIToolExecutionError
from ai_tool.ai_tool_operation_definition import (
    AIToolAuthorizationCallback,
    AIToolOperationDefinition,
)
from ai_tool.ai_tool_parameter import AIToolParameter
from ai_tool.ai_tool_result import AIToolResult


def _zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise AIToolExecutionError(
            f"Unknown timezone {name!r}; use an IANA name such as 'UTC' or 'Europe/London'"
        ) from None


class ClockAITool(AITool):
    """Tell the time in any IANA timezone, sleep, and wait for an alarm.

    Like seed 003's clock, the tool keeps the framework's type checking off and its handlers
    check what they use; a ``format`` other than ``"timestamp"`` gets ISO text.

    Args:
        max_sleep_seconds: Longest ``sleep`` allowed.
        max_alarm_seconds: Furthest ahead an ``alarm`` may be set.
    """

    def __init__(
        self, *, max_sleep_seconds: float = 300.0, max_alarm_seconds: float = 86_400.0
    ) -> None:
        self._max_sleep = max_sleep_seconds
        self._max_alarm = max_alarm_seconds

    def get_definition(self) -> AIToolDefinition:
        """Return the ``clock`` definition."""
        return self._build_definition_from_operations(
            name="clock",
            description_prefix=(
                "The clock tool tells the current date and time in any IANA timezone, "
                "waits for a number of seconds, and waits until a given time (an alarm)."
            ),
            additional_parameters=[
                AIToolParameter(
                    "format",
                    "string",
                    "Output format: ISO 8601 text or a Unix timestamp in seconds",
                    required=False,
                    enum=["iso", "timestamp"],
                    default="iso",
                ),
                AIToolParameter(
                    "timezone",
                    "string",
                    "IANA timezone name, e.g. 'Europe/London'",
                    required=False,
                    default="UTC",
                ),
                AIToolParameter(
                    "duration",
                    "number",
                    f"Seconds to sleep, 0 to {self._max_sleep:g}",
                    required=False,
                ),
                AIToolParameter(
                    "time",
                    "string",
                    "When the alarm goes off, ISO 8601 (without an offset it is read in "
                    "'timezone')",
                    required=False,
                ),
                AIToolParameter("message", "string", "Text the alarm returns", required=False),
            ],
        )

    def get_operation_definitions(self) -> dict[str, AIToolOperationDefinition]:
        """Return the clock operations (all read-only)."""
        return {
            "get_time": AIToolOperationDefinition(
                "get_time",
                self._get_time,
                None,
                {"format", "timezone"},
                set(),
                "Get the current date and time",
                read_only=True,
            ),
            "sleep": AIToolOperationDefinition(
                "sleep",
                self._sleep,
                lambda args: f"Sleep for {args.get('duration')} seconds",
                {"duration"},
                {"duration"},
                f"Wait for a number of seconds (at most {self._max_sleep:g})",
                read_only=True,
            ),
            "alarm": AIToolOperationDefinition(
                "alarm",
                self._alarm,
                lambda args: f"Alarm at {args.get('time')}",
                {"time", "timezone", "message"},
                {"time"},
                "Wait until the given time, then return the message",
                read_only=True,
            ),
        }

    def _timezone(self, arguments: dict[str, Any]) -> tzinfo:
        name = self._get_optional_str_value("timezone", arguments, default="UTC")
        return _zone("UTC" if name is None else name)

    async def _get_time(
        self, tool_call: AIToolCall, requester_ref: Any, request_auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        now = datetime.now(self._timezone(args))
        # Any format but "timestamp" gets ISO text, as in seed 003's clock (the enum check
        # refuses other values only when type checking is on).
        text = repr(now.timestamp()) if args.get("format") == "timestamp" else now.isoformat()
        return AIToolResult(id=tool_call.id, name="clock", content=text)

    async def _sleep(
        self, tool_call: AIToolCall, requester_ref: Any, request_auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        value = tool_call.arguments["duration"]
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise AIToolExecutionError(f"'duration' must be a number; got {value!r}")
        duration = float(value)
        if not 0 <= duration <= self._max_sleep:  # also rejects NaN
            raise AIToolExecutionError(
                f"'duration' must be between 0 and {self._max_sleep:g} seconds; got {value!r}"
            )
        await asyncio.sleep(duration)
        return AIToolResult(
            id=tool_call.id, name="clock", content=f"Slept for {duration:g} seconds"
        )

    async def _alarm(
        self, tool_call: AIToolCall, requester_ref: Any, request_auth: AIToolAuthorizationCallback
    ) -> AIToolResult:
        args = tool_call.arguments
        zone = self._timezone(args)
        text = self._get_required_str_value("time", args)
        message = self._get_optional_str_value("message", args) or "Alarm"
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise AIToolExecutionError(
                f"'time' must be an ISO 8601 date and time such as '2030-01-31T09:30:00'; "
                f"got {text!r}"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=zone)
        delay = (when - datetime.now(UTC)).total_seconds()
        if delay < 0 or not math.isfinite(delay):
            raise AIToolExecutionError(f"Alarm time {text!r} is in the past")
        if delay > self._max_alarm:
            raise AIToolExecutionError(
                f"Alarm time {text!r} is {delay:.0f}s away; the limit is {self._max_alarm:g}s"
            )
        await asyncio.sleep(delay)
        return AIToolResult(
            id=tool_call.id, name="clock", content=f"{message} ({when.isoformat()})"
        )
