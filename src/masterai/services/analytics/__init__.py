"""Conversation analytics computed by DuckDB on a columnar copy of the store.

Entry point: :class:`AnalyticsService` (``analyze_conversations``, ``identify_patterns``,
``identify_failures``, ``measure_satisfaction``, ``analyze_costs``, ``predict_usage``) and
:func:`masterai.services.analytics.reports.generate_report`. Every result is a frozen
dataclass with ``to_dict()`` (JSON) and ``summary()`` (readable text).
"""

from __future__ import annotations

from masterai.services.analytics.scope import Scope
from masterai.services.analytics.service import AnalyticsService

__all__ = ["AnalyticsService", "Scope"]
