"""Per-turn budgets: steps, tokens, cost and wall time."""

from __future__ import annotations

import time
from collections.abc import Callable

from masterai.llm import ModelResponse, Usage
from masterai.settings import AgentSettings


class Budget:
    """Counts what a turn has spent and says which limit, if any, it has reached."""

    def __init__(
        self, settings: AgentSettings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._started = clock()
        self.steps = 0
        self.usage = Usage()
        self.cost_usd = 0.0

    def charge(self, response: ModelResponse) -> None:
        """Add one model call's tokens and cost."""
        self.usage = self.usage + response.usage
        self.cost_usd += response.cost_usd or 0.0

    def exhausted(self, *, for_step: bool = False) -> str | None:
        """Why the turn must stop (``None`` if it may go on).

        With ``for_step``, also checks that one more tool step fits.
        """
        s = self.settings
        if for_step and self.steps >= s.max_steps:
            return f"step budget reached ({self.steps} of max_steps={s.max_steps})"
        if self.usage.total_tokens >= s.max_tokens:
            return f"token budget reached ({self.usage.total_tokens} of max_tokens={s.max_tokens})"
        if self.cost_usd >= s.max_cost_usd > 0 or (s.max_cost_usd == 0 and self.cost_usd > 0):
            return f"cost budget reached (${self.cost_usd:.4f} of max_cost_usd=${s.max_cost_usd})"
        elapsed = self._clock() - self._started
        if elapsed >= s.max_seconds:
            return f"time budget reached ({elapsed:.1f}s of max_seconds={s.max_seconds})"
        return None
