"""Resolving a request's limits: parse sizes, apply defaults, enforce the ceilings."""

from __future__ import annotations

import math
import re

from masterai.sandbox.errors import InvalidRequestError, LimitExceededError
from masterai.sandbox.models import CodeExecutionRequest, Limits
from masterai.settings import SandboxSettings

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1000,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1000**3,
    "gib": 1024**3,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: int | str, *, what: str = "size") -> int:
    """Bytes from an int or a size string such as ``"512m"``, ``"1.5GiB"`` or ``"100MB"``.

    Raises:
        InvalidRequestError: the value is not a positive size.
    """
    if isinstance(value, bool):
        raise InvalidRequestError(f"Invalid {what}: {value!r}. Expected bytes or '512m'")
    if isinstance(value, int):
        number, unit = float(value), ""
    else:
        match = _SIZE.match(str(value))
        if not match or match.group(2).lower() not in _UNITS:
            raise InvalidRequestError(
                f"Invalid {what}: {value!r}. Expected bytes or a size like '512m', '1GiB', "
                f"'100MB' (units: {', '.join(u for u in _UNITS if u)})"
            )
        number, unit = float(match.group(1)), match.group(2).lower()
    size = int(number * _UNITS[unit])
    if size <= 0:
        raise InvalidRequestError(f"Invalid {what}: {value!r}. It must be positive")
    return size


# Floors below which a backend cannot honour a limit (Docker refuses < 6 MiB of memory,
# CFS quotas below 1 ms per 100 ms period).
_FLOORS = {"memory": 16 * 1024**2, "storage": 1024**2, "cpus": 0.01, "output_limit": 1}


def _number(value: float | None, default: float, ceiling: float, what: str) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidRequestError(f"Invalid {what}: {value!r}. Expected a positive number")
    if value <= 0 or value < _FLOORS.get(what, 0):
        raise InvalidRequestError(
            f"Invalid {what}: {value!r}. Allowed: {_FLOORS.get(what, 'above 0')} to {ceiling!r}"
        )
    if value > ceiling:
        raise LimitExceededError(f"{what} {value!r} is above the allowed maximum {ceiling!r}")
    return float(value)


def _size(value: int | str | None, default: int, ceiling: int, what: str) -> int:
    if value is None:
        return default
    size = parse_size(value, what=what)
    if size < _FLOORS.get(what, 1):
        raise InvalidRequestError(
            f"Invalid {what}: {value!r} ({size} bytes). Allowed: {_FLOORS[what]} to {ceiling} bytes"
        )
    if size > ceiling:
        raise LimitExceededError(
            f"{what} {value!r} ({size} bytes) is above the allowed maximum {ceiling} bytes"
        )
    return size


def resolve_limits(request: CodeExecutionRequest, settings: SandboxSettings) -> Limits:
    """The limits of one run: the request's values, else the defaults, within the ceilings.

    Raises:
        InvalidRequestError: a value is malformed.
        LimitExceededError: a value is above its ceiling.
    """
    s = settings
    pids = _number(request.pids, s.default_pids, s.max_pids, "pids")
    if pids != int(pids):
        raise InvalidRequestError(f"Invalid pids: {request.pids!r}. Expected a whole number")
    return Limits(
        timeout=_number(request.timeout, s.default_timeout, s.max_timeout, "timeout"),
        memory=_size(request.memory, s.default_memory, s.max_memory, "memory"),
        cpus=_number(request.cpus, s.default_cpus, s.max_cpus, "cpus"),
        pids=int(pids),
        storage=_size(request.storage, s.default_storage, s.max_storage, "storage"),
        output_limit=_size(
            request.output_limit, s.default_output_limit, s.max_output_limit, "output_limit"
        ),
        max_output_files=s.max_output_files,
        max_output_file_size=s.max_output_file_size,
    )
