"""Scopes and SQL literals: parsing rules and a round trip of arbitrary values through DuckDB."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from masterai.services.analytics.scope import Scope, sql_literal
from masterai.services.configs import diff_fields, merge
from masterai.services.errors import InvalidInputError

con = duckdb.connect()
TEXT = st.text().filter(lambda t: "\x00" not in t)


@settings(max_examples=200, deadline=None)
@given(st.one_of(TEXT, st.integers(-(2**62), 2**62), st.lists(TEXT, max_size=4)))
def test_any_value_survives_the_trip_through_a_sql_literal(value: object) -> None:
    row = con.execute(f"SELECT {sql_literal(value)}").fetchone()
    assert row is not None
    assert row[0] == value


def test_text_with_nul_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="NUL"):
        sql_literal("a\x00b")


def test_days_counts_back_from_the_end_date_inclusively() -> None:
    scope = Scope.parse(days=7, end_date="2024-05-31")
    assert (scope.start, scope.end) == (datetime(2024, 5, 25), datetime(2024, 6, 1))
    assert Scope.parse(days=1, today=date(2024, 1, 1)).to_dict()["start_date"] == "2024-01-01"
    with pytest.raises(InvalidInputError, match="either days or start_date"):
        Scope.parse(days=3, start_date="2024-01-01")
    with pytest.raises(InvalidInputError, match="days must be an integer from 1 to 3660, got 0"):
        Scope.parse(days=0)
    with pytest.raises(InvalidInputError, match="company_ids must be a list"):
        Scope.parse(company_ids="acme")


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 3), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "d"]), st.none() | st.integers(0, 3), max_size=3),
)
def test_settings_merge_then_diff_reports_exactly_what_changed(
    current: dict[str, int], change: dict[str, int | None]
) -> None:
    old = {"model": "m", "settings": current}
    new = merge(old, {"settings": change})
    expected = {k: v for k, v in {**current, **change}.items() if v is not None}
    assert new["settings"] == expected
    changes, text = diff_fields(old, new)
    assert [c.field for c in changes] == ([] if expected == current else ["settings"])
    assert bool(text) == (expected != current)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01", "9999-12-31"),
        ("2024-01-01", "9999-12-31"),
        ("1969-12-31", "2024-01-01"),
        (None, "2100-01-01"),
    ],
)
def test_dates_outside_the_supported_range_are_refused_not_a_crash(
    start: str | None, end: str
) -> None:
    with pytest.raises(InvalidInputError, match=r"outside the supported range 1970-01-01\.\."):
        Scope.parse(start_date=start, end_date=end)


def test_the_edges_of_the_supported_range_are_accepted() -> None:
    scope = Scope.parse(start_date="1970-01-01", end_date="2099-12-31")
    assert scope.to_dict() == {
        "company_ids": None,
        "start_date": "1970-01-01",
        "end_date": "2099-12-31",
    }


@pytest.mark.parametrize("company", ["ACME", "acme.retail", "acme\n", "*", "../etc", " acme"])
def test_a_scope_takes_company_ids_by_the_rule_of_company_add(company: str) -> None:
    with pytest.raises(InvalidInputError, match="must be a company id"):
        Scope.parse(company_id=company)
    assert Scope.parse(company_ids=["acme-retail", "globex_2"]).company_ids == (
        "acme-retail",
        "globex_2",
    )
