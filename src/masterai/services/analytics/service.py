"""``AnalyticsService``: the one entry point of conversation analytics (tools, CLI, HTTP)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from masterai.services.analytics.conversations import ConversationAnalysis, analyze_conversations
from masterai.services.analytics.copy import AnalyticsCopy, SyncReport
from masterai.services.analytics.costs import CostAnalysis, analyze_costs
from masterai.services.analytics.failures import FailureAnalysis, identify_failures
from masterai.services.analytics.forecast import METRICS, UsageForecast, predict_usage
from masterai.services.analytics.patterns import PatternAnalysis, identify_patterns
from masterai.services.analytics.satisfaction import SatisfactionAnalysis, measure_satisfaction
from masterai.services.analytics.scope import Scope
from masterai.services.errors import InvalidInputError, NotFoundError
from masterai.settings import AnalyticsSettings, Settings
from masterai.store import Database
from masterai.store.models import Company

MAX_CONVERSATION_IDS = 10_000


class AnalyticsService:
    """Analytics over one store, computed by DuckDB on a columnar copy of it.

    Args:
        database: The store.
        settings: Master AI settings (``analytics`` section, ``home`` for the copy).
        copy_dir: Override where the DuckDB copy lives (``None``: settings; tests pass a
            temporary directory).
    """

    def __init__(
        self, database: Database, settings: Settings, *, copy_dir: Path | None = None
    ) -> None:
        self.database = database
        self.settings: AnalyticsSettings = settings.analytics
        directory = copy_dir or settings.analytics.cache_dir or settings.home / "analytics"
        self.copy = AnalyticsCopy(database, directory)

    def refresh(self, *, rebuild: bool = False) -> SyncReport:
        """Bring the analytics copy up to date now (it is also refreshed before every query).

        Args:
            rebuild: copy everything again instead of only what changed.
        """
        if rebuild:
            self.copy.reset()
        with self.copy.connect():
            pass
        return self.copy.last_report

    def scope(self, **kwargs: Any) -> Scope:
        """Parse a scope (see :meth:`Scope.parse`) and check that its companies exist."""
        scope = Scope.parse(**kwargs)
        if scope.company_ids:
            self.check_companies(scope.company_ids)
        return scope

    def company_ids(self) -> list[str]:
        """Every company id in the store, sorted."""
        with self.database.session() as session:
            return list(session.scalars(sa.select(Company.id).order_by(Company.id)))

    def check_companies(self, company_ids: Sequence[str]) -> None:
        """Raise :class:`NotFoundError` naming any company that does not exist."""
        with self.database.session() as session:
            found = set(session.scalars(sa.select(Company.id).where(Company.id.in_(company_ids))))
        missing = [c for c in company_ids if c not in found]
        if missing:
            raise NotFoundError(f"unknown company {', '.join(repr(m) for m in missing)}")

    def analyze_conversations(self, scope: Scope) -> ConversationAnalysis:
        """Volume, response times, outcomes, tokens and cost per conversation, daily trend."""
        with self.copy.connect() as con:
            return analyze_conversations(con, scope)

    def identify_patterns(self, scope: Scope, *, top: int = 10) -> PatternAnalysis:
        """Topics, recurring phrases, peak hours and questions that end badly."""
        if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 100:
            raise InvalidInputError(f"top must be an integer from 1 to 100, got {top!r}")
        with self.copy.connect() as con:
            return identify_patterns(
                con, scope, low_rating_max=self.settings.low_satisfaction_max, top=top
            )

    def identify_failures(
        self, scope: Scope, *, slow_ms: int | None = None, examples: int | None = None
    ) -> FailureAnalysis:
        """Escalations, fallback answers, errors, slow responses and low ratings, with examples."""
        slow = self.settings.slow_response_ms if slow_ms is None else slow_ms
        if isinstance(slow, bool) or not isinstance(slow, int) or slow < 1:
            raise InvalidInputError(f"slow_ms must be a positive integer, got {slow!r}")
        n = self.settings.examples_per_group if examples is None else examples
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 50:
            raise InvalidInputError(f"examples must be an integer from 0 to 50, got {n!r}")
        with self.copy.connect() as con:
            return identify_failures(
                con,
                scope,
                slow_ms=slow,
                low_rating_max=self.settings.low_satisfaction_max,
                examples=n,
            )

    def measure_satisfaction(
        self, scope: Scope, *, conversation_ids: Sequence[str] | None = None
    ) -> SatisfactionAnalysis:
        """Rating distribution, CSAT and the drivers of satisfaction."""
        if conversation_ids is not None:
            if isinstance(conversation_ids, str) or not all(
                isinstance(c, str) for c in conversation_ids
            ):
                raise InvalidInputError(
                    f"conversation_ids must be a list of strings, got {conversation_ids!r}"
                )
            if not 1 <= len(conversation_ids) <= MAX_CONVERSATION_IDS:
                raise InvalidInputError(
                    f"conversation_ids must hold 1 to {MAX_CONVERSATION_IDS} ids, "
                    f"got {len(conversation_ids)}"
                )
        with self.copy.connect() as con:
            return measure_satisfaction(
                con,
                scope,
                slow_ms=self.settings.slow_response_ms,
                conversation_ids=conversation_ids,
            )

    def analyze_costs(self, scope: Scope, *, period: str = "day") -> CostAnalysis:
        """Spend by company, model and period, recorded and priced by the price table."""
        with self.copy.connect() as con:
            return analyze_costs(con, scope, prices=self.settings.prices, period=period)

    def predict_usage(
        self,
        scope: Scope,
        *,
        horizon_days: int = 30,
        interval: float = 0.95,
        metrics: Sequence[str] = METRICS,
    ) -> UsageForecast:
        """Forecast daily conversations, tokens and cost with prediction intervals."""
        with self.copy.connect() as con:
            return predict_usage(
                con, scope, horizon_days=horizon_days, interval=interval, metrics=tuple(metrics)
            )
