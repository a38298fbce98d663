"""Clocks: the system's, and one tests move by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """The current time, aware UTC."""

    def __call__(self) -> datetime:
        """Now."""
        ...


def system_clock() -> datetime:
    """The system's time, aware UTC."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told (scheduler tests, the use-case test).

    Args:
        start: the initial time (aware).
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError(f"ManualClock needs an aware datetime, got {start!r}")
        self._now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        """The time it was last set to."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta``; the new time."""
        self._now += delta
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (aware)."""
        self._now = when.astimezone(UTC)
