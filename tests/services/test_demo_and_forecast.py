"""Demo data set (deterministic, every failure mode present) and usage forecasts on it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from masterai.services.analytics import AnalyticsService
from masterai.services.demo import has_demo_data, seed_demo
from masterai.services.errors import ConflictError, InvalidInputError
from masterai.settings import Settings
from masterai.store import Database

END = date(2024, 6, 30)


def test_demo_seed_is_deterministic_and_shows_every_failure_mode(
    database: Database, tmp_path: Path
) -> None:
    summary = seed_demo(database, conversations=600, seed=3, end_date=END)
    assert summary.companies == [
        "acme-retail",
        "globex-bank",
        "initech-saas",
        "umbrella-health",
        "stark-travel",
    ]
    assert (summary.conversations, summary.start_date) == (600, date(2024, 4, 2))
    service = AnalyticsService(database, Settings(home=tmp_path), copy_dir=tmp_path / "a")
    first = service.analyze_conversations(service.scope()).to_dict()
    kinds = {g.kind for g in service.identify_failures(service.scope()).groups}
    assert kinds == {"escalation", "fallback", "error", "slow_response", "low_rating"}
    assert has_demo_data(database)
    with pytest.raises(ConflictError, match="demo data exists already"):
        seed_demo(database, conversations=600, seed=3, end_date=END)
    again = seed_demo(database, conversations=600, seed=3, end_date=END, replace=True)
    assert again.messages == summary.messages
    second = service.analyze_conversations(service.scope()).to_dict()
    # DuckDB sums floats in parallel, so the last digits may differ between runs.
    for key in ("conversations", "messages", "rated_conversations", "total_tokens"):
        assert second[key] == first[key]
    for key in ("resolution_rate", "escalation_rate", "satisfaction", "total_cost_usd"):
        assert second[key] == pytest.approx(first[key], rel=1e-3)
    costs = service.analyze_costs(service.scope())
    assert costs.unpriced_models == ["llama-3.1-70b"]


def test_demo_seed_rejects_bad_sizes(database: Database) -> None:
    with pytest.raises(
        InvalidInputError, match="companies must be an integer from 1 to 100, got 0"
    ):
        seed_demo(database, companies=0)
    assert not has_demo_data(database)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_forecast_has_intervals_around_a_plausible_level(
    database: Database, tmp_path: Path
) -> None:
    seed_demo(database, companies=1, conversations=900, days=60, seed=1, end_date=END)
    service = AnalyticsService(database, Settings(home=tmp_path), copy_dir=tmp_path / "a")
    result = service.predict_usage(service.scope(), horizon_days=14, metrics=["conversations"])
    (forecast,) = result.forecasts
    assert result.history_end == END
    assert [p.day for p in forecast.points][:2] == [date(2024, 7, 1), date(2024, 7, 2)]
    assert len(forecast.points) == 14
    assert all(p.lower <= p.mean <= p.upper for p in forecast.points)
    # ~15 conversations a day at the end of the history, growing slowly
    assert 8 < forecast.forecast_total / 14 < 30
    assert forecast.points[-1].upper > forecast.points[-1].lower
    with pytest.raises(InvalidInputError, match="horizon_days must be from 1 to 365, got 0"):
        service.predict_usage(service.scope(), horizon_days=0)
    with pytest.raises(InvalidInputError, match="not enough history"):
        service.predict_usage(service.scope(start_date="2024-06-29"), horizon_days=3)
