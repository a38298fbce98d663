"""Execution monitoring: call counts by tool and status, and durations."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ToolStats:
    """Totals for one tool."""

    calls: int
    by_status: dict[str, int]
    total_ms: float
    max_ms: float

    @property
    def mean_ms(self) -> float:
        """Mean duration of a call in milliseconds."""
        return self.total_ms / self.calls if self.calls else 0.0


class ToolMonitor:
    """Thread-safe counters the registry updates after every call."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: dict[str, Counter[str]] = {}
        self._total_ms: dict[str, float] = {}
        self._max_ms: dict[str, float] = {}

    def record(self, tool: str, status: str, duration_ms: float) -> None:
        """Count one call of ``tool`` that ended with ``status``."""
        with self._lock:
            self._status.setdefault(tool, Counter())[status] += 1
            self._total_ms[tool] = self._total_ms.get(tool, 0.0) + duration_ms
            self._max_ms[tool] = max(self._max_ms.get(tool, 0.0), duration_ms)

    def stats(self) -> dict[str, ToolStats]:
        """A snapshot of the totals by tool name."""
        with self._lock:
            return {
                tool: ToolStats(
                    calls=sum(counts.values()),
                    by_status=dict(counts),
                    total_ms=self._total_ms[tool],
                    max_ms=self._max_ms[tool],
                )
                for tool, counts in self._status.items()
            }
