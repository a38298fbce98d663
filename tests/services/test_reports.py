"""Reports: each type in each format, written atomically into the workspace."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from masterai.services.analytics import AnalyticsService
from masterai.services.analytics.reports import generate_report
from masterai.services.demo import seed_demo
from masterai.services.errors import InvalidInputError
from masterai.settings import Settings
from masterai.store import Database


def test_comparison_and_cost_reports_carry_the_figures(
    analytics: AnalyticsService, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    comparison = generate_report(
        analytics,
        "comparison",
        analytics.scope(),
        fmt_="json",
        workspace=workspace,
        filename="cmp.json",
    )
    assert comparison.path == "reports/cmp.json"
    data = json.loads((workspace / "reports" / "cmp.json").read_text())
    assert data["data"]["companies"]["acme"]["conversations"] == 3
    assert data["data"]["companies"]["globex"]["conversations"] == 2
    costs = generate_report(
        analytics,
        "costs",
        analytics.scope(company_id="acme"),
        fmt_="markdown",
        workspace=workspace,
    )
    text = (workspace / costs.path).read_text()
    assert text.startswith("# Cost report: acme")
    assert "| mystery-model |" in text and "Forecast, next 30 days | n/a" in text
    assert not list((workspace / "reports").glob(".report-*"))  # no temporary files left


def test_bad_report_arguments_are_rejected_before_anything_is_written(
    analytics: AnalyticsService, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInputError, match="unknown report type 'weekly'"):
        generate_report(analytics, "weekly", analytics.scope(), workspace=tmp_path)
    with pytest.raises(InvalidInputError, match="unknown format 'pdf'"):
        generate_report(analytics, "costs", analytics.scope(), fmt_="pdf", workspace=tmp_path)
    with pytest.raises(InvalidInputError, match="exactly one company_id"):
        generate_report(analytics, "company_summary", analytics.scope(), workspace=tmp_path)
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_cost_report_in_html_has_charts_and_a_forecast(database: Database, tmp_path: Path) -> None:
    seed_demo(database, companies=2, conversations=300, days=21, end_date=date(2024, 6, 30))
    service = AnalyticsService(database, Settings(home=tmp_path), copy_dir=tmp_path / "copy")
    report = generate_report(service, "costs", service.scope(), workspace=tmp_path / "ws")
    html = (tmp_path / "ws" / report.path).read_text()
    assert html.count("<svg") == 3
    assert "Daily cost and 30-day forecast" in html and "Forecast, next 30 days" in html
