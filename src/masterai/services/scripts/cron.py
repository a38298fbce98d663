"""Cron times in IANA time zones (cronsim) and the ticks a schedule owes.

Daylight-saving time: cronsim yields each local wall time once, so a daily ``30 2 * * *`` fires
once on the night the clocks go back (at the first 02:30, summer time), and on the night they go
forward (02:00-03:00 does not exist) at 03:00, the next valid minute. Expressions that name
every minute or hour still fire at each real instant of the repeated hour.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from masterai.services.errors import InvalidInputError

MAX_TICKS = 1000
"""Most ticks looked at in one pass (a schedule far behind is caught up over passes)."""


def check_cron(expression: str) -> str:
    """``expression`` if cronsim accepts it (five fields).

    Raises:
        InvalidInputError: naming the expression and what cronsim said.
    """
    try:
        CronSim(expression, datetime.now(UTC))
    except CronSimError as e:
        raise InvalidInputError(
            f"invalid cron expression {expression!r}: {e}. Expected five fields "
            "'minute hour day-of-month month day-of-week', such as '0 2 * * *'"
        ) from e
    return expression


def check_timezone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``.

    Raises:
        InvalidInputError: no such zone.
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise InvalidInputError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/Paris' or 'UTC'"
        ) from e


def ticks(expression: str, timezone: str, after: datetime) -> Iterator[datetime]:
    """The fire times of ``expression`` in ``timezone`` strictly after ``after``, in UTC."""
    zone = ZoneInfo(timezone)
    for local in CronSim(expression, after.astimezone(zone)):
        yield local.astimezone(UTC)


def due_ticks(expression: str, timezone: str, after: datetime, until: datetime) -> list[datetime]:
    """Fire times in ``(after, until]`` (at most :data:`MAX_TICKS`), oldest first."""
    due: list[datetime] = []
    for tick in ticks(expression, timezone, after):
        if tick > until or len(due) >= MAX_TICKS:
            break
        due.append(tick)
    return due


def next_tick(expression: str, timezone: str, after: datetime) -> datetime | None:
    """The first fire time after ``after`` (``None`` if the expression never fires)."""
    return next(ticks(expression, timezone, after), None)


def grace(seconds: float) -> timedelta:
    """A misfire grace as a :class:`timedelta`."""
    return timedelta(seconds=seconds)
