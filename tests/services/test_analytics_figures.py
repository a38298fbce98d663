"""Analytics figures against hand-computed expectations (tests/services/conftest.py data)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from masterai.services.analytics import AnalyticsService
from masterai.services.errors import InvalidInputError, NotFoundError


def test_analyze_conversations_matches_hand_computed_figures(analytics: AnalyticsService) -> None:
    result = analytics.analyze_conversations(analytics.scope(company_id="acme"))
    assert result.conversations == 3
    assert result.messages == 8
    assert result.resolution_rate == pytest.approx(2 / 3, abs=1e-4)
    assert result.escalation_rate == pytest.approx(1 / 3, abs=1e-4)
    assert result.fallback_rate == pytest.approx(1 / 3, abs=1e-4)
    assert result.error_rate == pytest.approx(1 / 3, abs=1e-4)
    assert result.satisfaction == 3.5
    assert result.rated_conversations == 2
    assert result.turns_per_conversation == pytest.approx(4 / 3, abs=1e-3)
    assert result.tokens_per_conversation == pytest.approx(650 / 3, abs=1e-2)
    assert result.total_tokens == 650
    assert result.total_cost_usd == pytest.approx(0.006)
    assert result.cost_per_conversation == pytest.approx(0.002)
    rt = result.response_time_ms
    # latencies 1000, 2000, 3000, 6000 with linear interpolation between ranks
    assert (rt.count, rt.mean, rt.p50, rt.p90, rt.p95, rt.p99, rt.max) == (
        4,
        3000,
        2500,
        5100,
        5550,
        5910,
        6000,
    )
    day1, day2 = result.daily
    assert (day1.day, day1.conversations, day1.messages, day1.tokens) == (
        date(2024, 5, 1),
        2,
        6,
        550,
    )
    assert (day1.resolution_rate, day1.escalation_rate, day1.satisfaction) == (0.5, 0.5, 3.5)
    assert day1.p50_response_ms == 2000
    assert (day2.day, day2.conversations, day2.satisfaction, day2.p50_response_ms) == (
        date(2024, 5, 2),
        1,
        None,
        3000,
    )
    json.dumps(result.to_dict())
    assert "3 conversations" in result.summary()


def test_date_range_includes_the_whole_end_day_and_nothing_after(
    analytics: AnalyticsService,
) -> None:
    scope = analytics.scope(company_id="acme", start_date="2024-05-01", end_date="2024-05-01")
    result = analytics.analyze_conversations(scope)
    assert result.conversations == 2
    assert result.messages == 6
    everyone = analytics.analyze_conversations(analytics.scope(days=2, end_date="2024-05-03"))
    assert everyone.conversations == 3  # c3, g1 on May 2 and g2 on May 3


def test_unknown_company_and_bad_dates_are_rejected_with_the_value(
    analytics: AnalyticsService,
) -> None:
    with pytest.raises(NotFoundError, match="'nope'"):
        analytics.scope(company_ids=["acme", "nope"])
    with pytest.raises(InvalidInputError, match="'2024-13-01'"):
        analytics.scope(start_date="2024-13-01")
    with pytest.raises(InvalidInputError, match="before start_date"):
        analytics.scope(start_date="2024-05-02", end_date="2024-05-01")
    with pytest.raises(InvalidInputError, match="company id"):
        analytics.scope(company_id="acme; DROP TABLE x")


def test_identify_failures_groups_each_kind_with_examples(analytics: AnalyticsService) -> None:
    result = analytics.identify_failures(analytics.scope(company_id="acme"))
    groups = {g.kind: g for g in result.groups}
    assert set(groups) == {"escalation", "fallback", "error", "slow_response", "low_rating"}
    assert (groups["escalation"].count, groups["escalation"].rate) == (
        1,
        pytest.approx(1 / 3, abs=1e-4),
    )
    assert (groups["fallback"].count, groups["fallback"].rate) == (1, 0.25)
    assert groups["error"].label == "Error: provider timeout"
    assert groups["slow_response"].examples[0].detail == "6000 ms"
    assert (groups["low_rating"].count, groups["low_rating"].rate) == (1, 0.5)
    example = groups["fallback"].examples[0]
    assert (example.conversation_id, example.user_message, example.assistant_message) == (
        "c2",
        "I want a refund now",
        "Sorry, I cannot help with that.",
    )
    assert groups["error"].examples[0].user_message == "Tracking number not found for my order"
    assert "Escalated to a human: 1" in result.summary()


def test_slow_threshold_is_a_parameter(analytics: AnalyticsService) -> None:
    result = analytics.identify_failures(analytics.scope(company_id="acme"), slow_ms=1500)
    slow = next(g for g in result.groups if g.kind == "slow_response")
    assert slow.count == 3  # 2000, 3000 and 6000 ms
    with pytest.raises(InvalidInputError, match="slow_ms"):
        analytics.identify_failures(analytics.scope(), slow_ms=0)


def test_identify_patterns_finds_topics_phrases_hours_and_problem_questions(
    analytics: AnalyticsService,
) -> None:
    acme = analytics.identify_patterns(analytics.scope(company_id="acme"))
    assert [(t.topic, t.conversations) for t in acme.topics] == [("shipping", 2), ("refund", 1)]
    assert acme.topics[0].satisfaction == 5.0
    assert [(p.phrase, p.conversations) for p in acme.phrases] == [("tracking number", 2)]
    assert acme.peak_hours == [9, 10, 15]
    assert sum(acme.conversations_by_hour) == 3
    globex = analytics.identify_patterns(analytics.scope(company_id="globex"))
    (question,) = globex.problem_questions
    assert question.question == "how do i reset my password"
    assert (question.conversations, question.escalation_rate, question.low_rating_rate) == (
        2,
        0.5,
        0.5,
    )


def test_measure_satisfaction_distribution_and_drivers(analytics: AnalyticsService) -> None:
    result = analytics.measure_satisfaction(analytics.scope(company_id="acme"))
    assert (result.conversations, result.rated, result.mean, result.median) == (3, 2, 3.5, 3.5)
    assert result.csat == 0.5
    assert result.coverage == pytest.approx(2 / 3, abs=1e-4)
    assert result.distribution == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}
    drivers = {d.factor: d for d in result.drivers}
    assert (drivers["escalated"].mean_with, drivers["escalated"].mean_without) == (2, 5)
    assert drivers["escalated"].impact == -3
    assert drivers["resolved"].impact == 3
    assert drivers["slow"].impact == -3
    only = analytics.measure_satisfaction(analytics.scope(), conversation_ids=["g1", "g2"])
    assert (only.rated, only.mean, only.distribution["1"]) == (2, 2.5, 1)


def test_analyze_costs_prices_tokens_and_lists_unpriced_models(
    analytics: AnalyticsService,
) -> None:
    result = analytics.analyze_costs(analytics.scope(company_id="acme"), period="day")
    assert result.total.recorded_cost_usd == pytest.approx(0.006)
    # gpt-4o-mini at $1 / $2 per million: (100+150+200) * 1 + (50+30+20) * 2 = 650 -> 0.00065
    assert result.total.priced_cost_usd == pytest.approx(0.00065)
    models = {m.key: m for m in result.by_model}
    assert models["gpt-4o-mini"].conversations == 2
    assert models["mystery-model"].priced_cost_usd is None
    assert result.unpriced_models == ["mystery-model"]
    assert [p.key for p in result.by_period] == ["2024-05-01", "2024-05-02"]
    everyone = analytics.analyze_costs(analytics.scope(), period="month")
    assert [c.key for c in everyone.by_company] == ["acme", "globex"]
    assert everyone.by_company[1].recorded_cost_usd == pytest.approx(0.0009)
    assert [p.key for p in everyone.by_period] == ["2024-05-01"]
    with pytest.raises(InvalidInputError, match="'year'"):
        analytics.analyze_costs(analytics.scope(), period="year")


def test_values_reach_sql_as_literals_not_as_code(analytics: AnalyticsService) -> None:
    hostile = ["g1' OR '1'='1", "x'); DROP TABLE messages; --"]
    result = analytics.measure_satisfaction(analytics.scope(), conversation_ids=hostile)
    assert (result.conversations, result.rated) == (0, 0)
    assert analytics.analyze_conversations(analytics.scope()).messages == 12
