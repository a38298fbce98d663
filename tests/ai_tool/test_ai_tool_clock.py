"""The clock reference tool."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ai_tool import AIToolCall, AIToolCancelledError, AIToolExecutionError, AIToolValidationError
from ai_tool.clock import ClockAITool


async def run(tool: ClockAITool, **arguments: object) -> str:
    result = await tool.execute(AIToolCall("c1", "clock", dict(arguments)), None, None)  # type: ignore[arg-type]
    assert result.error is None
    return result.content


async def test_get_time_returns_iso_time_in_the_requested_timezone():
    before = datetime.now(UTC)
    text = await run(ClockAITool(), operation="get_time", timezone="Asia/Kolkata")
    now = datetime.fromisoformat(text)
    assert now.utcoffset() == timedelta(hours=5, minutes=30)
    assert before <= now <= datetime.now(UTC)


async def test_get_time_defaults_to_utc_iso_and_can_return_a_timestamp():
    assert datetime.fromisoformat(await run(ClockAITool(), operation="get_time")).utcoffset() == (
        timedelta(0)
    )
    before = time.time()
    stamp = float(await run(ClockAITool(), operation="get_time", format="timestamp"))
    assert before <= stamp <= time.time()


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", ""])
async def test_unknown_timezones_are_rejected_with_a_hint(zone):
    with pytest.raises(AIToolExecutionError) as caught:
        await run(ClockAITool(), operation="get_time", timezone=zone)
    assert str(caught.value) == (
        f"Unknown timezone {zone!r}; use an IANA name such as 'UTC' or 'Europe/London'"
    )


def test_format_must_be_one_of_the_enum_when_type_checking_is_forced():
    with pytest.raises(AIToolValidationError) as caught:
        ClockAITool().check_call({"operation": "get_time", "format": "rfc2822"}, check_types=True)
    assert str(caught.value) == "'format' must be one of 'iso', 'timestamp'; got 'rfc2822'"
    assert caught.value.path == "format"


async def test_an_unknown_format_falls_back_to_iso_like_the_seed_clock():
    before = datetime.now(UTC)
    now = datetime.fromisoformat(await run(ClockAITool(), operation="get_time", format="weird"))
    assert before <= now <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"operation": "get_time", "timezone": 5}, "'timezone' must be a string"),
        ({"operation": "sleep", "duration": "1"}, "'duration' must be a number; got '1'"),
        ({"operation": "sleep", "duration": True}, "'duration' must be a number; got True"),
        ({"operation": "alarm", "time": 1700000000}, "'time' must be a string"),
        ({"operation": "alarm", "time": "2001-01-01", "message": 3}, "'message' must be a string"),
    ],
)
async def test_clock_handlers_check_their_own_argument_types(arguments, message):
    with pytest.raises(AIToolExecutionError) as caught:
        await run(ClockAITool(), **arguments)
    assert str(caught.value) == message


async def test_sleep_waits_and_reports():
    assert await run(ClockAITool(), operation="sleep", duration=0) == "Slept for 0 seconds"


@pytest.mark.parametrize("duration", [-1, 301, float("nan"), float("inf")])
async def test_sleep_is_bounded(duration):
    with pytest.raises(AIToolExecutionError, match="'duration' must be between 0 and 300 seconds"):
        await run(ClockAITool(), operation="sleep", duration=duration)


async def test_a_long_sleep_is_cancellable():
    clock = ClockAITool(max_sleep_seconds=3600)
    task = asyncio.create_task(run(clock, operation="sleep", duration=3600))
    async with asyncio.timeout(5):
        while not task.done():  # cancel() reaches the sleep as soon as it has started
            clock.cancel()
            await asyncio.sleep(0)
        with pytest.raises(AIToolCancelledError, match="clock operation 'sleep' was cancelled"):
            await task


async def test_an_alarm_fires_at_its_time_with_its_message():
    when = datetime.now(UTC) + timedelta(milliseconds=30)
    text = await run(ClockAITool(), operation="alarm", time=when.isoformat(), message="Tea")
    assert datetime.now(UTC) >= when
    assert text == f"Tea ({when.isoformat()})"


async def test_an_alarm_without_offset_is_read_in_the_given_timezone():
    zone_now = datetime.now(UTC).astimezone(ZoneInfo("America/New_York"))
    naive = (zone_now + timedelta(milliseconds=20)).replace(tzinfo=None).isoformat()
    text = await run(ClockAITool(), operation="alarm", time=naive, timezone="America/New_York")
    assert text.startswith("Alarm (")
    assert text.endswith(("-05:00)", "-04:00)"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("tomorrow", "'time' must be an ISO 8601 date and time"),
        ("2001-01-01T00:00:00+00:00", "is in the past"),
        ("2999-01-01T00:00:00+00:00", "the limit is 86400s"),
    ],
)
async def test_bad_alarm_times_are_rejected(value, message):
    with pytest.raises(AIToolExecutionError, match=message):
        await run(ClockAITool(), operation="alarm", time=value)


def test_clock_operations_are_read_only():
    assert all(op.read_only for op in ClockAITool().get_operation_definitions().values())
