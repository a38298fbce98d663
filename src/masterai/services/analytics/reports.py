"""``generate_report``: company summary, cross-company comparison and cost reports.

Each report is built from the analytics results (one data dict), then rendered as HTML with
inline SVG charts, as Markdown, or as JSON (:func:`render_report`). Text taken from
conversations and names is escaped in HTML and Markdown alike, so a message holding raw HTML
shows as text. :func:`report_name` checks a requested file name (a whole-string match) or
makes one. The ``analytics`` tool writes reports through the company-isolated workspace
(``companies/<id>/reports/``, ``users/<name>/reports/``; see ``docs/workspace.md``);
:func:`generate_report` is the library's direct writer (temporary file, then rename) into
``<workspace>/reports/`` or an explicit output path.
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import sqlalchemy as sa

from masterai.services.analytics import charts
from masterai.services.analytics.costs import CostAnalysis
from masterai.services.analytics.failures import FailureAnalysis
from masterai.services.analytics.forecast import MIN_HISTORY_DAYS, UsageForecast
from masterai.services.analytics.patterns import PatternAnalysis
from masterai.services.analytics.results import describe_scope, fmt, money, pct
from masterai.services.analytics.satisfaction import SatisfactionAnalysis
from masterai.services.analytics.scope import Scope
from masterai.services.analytics.service import AnalyticsService
from masterai.services.errors import InvalidInputError, ServiceError
from masterai.store.models import Company

REPORT_TYPES = ("company_summary", "comparison", "costs")
FORMATS = {"html": "html", "markdown": "md", "json": "json"}
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,120}")
"""A report file name, matched as a whole string (``fullmatch``: no trailing newline)."""


@dataclass(frozen=True, kw_only=True)
class ReportFile:
    """A written report."""

    report_type: str
    format: str
    title: str
    path: str
    """Where it was written (relative to the workspace when inside it)."""
    bytes: int
    summary: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dict(self.__dict__)


def check_report_args(report_type: Any, fmt_: Any) -> tuple[str, str]:
    """Validate the report type and format names."""
    if report_type not in REPORT_TYPES:
        raise InvalidInputError(
            f"unknown report type {report_type!r}; allowed: {', '.join(REPORT_TYPES)}"
        )
    if fmt_ not in FORMATS:
        raise InvalidInputError(f"unknown format {fmt_!r}; allowed: {', '.join(FORMATS)}")
    return str(report_type), str(fmt_)


@dataclass(frozen=True, kw_only=True)
class RenderedReport:
    """A report built and rendered, not written anywhere yet."""

    report_type: str
    format: str
    title: str
    summary: str
    text: str
    """The whole report in ``format``."""

    @property
    def bytes(self) -> int:
        """Size of :attr:`text` encoded as UTF-8."""
        return len(self.text.encode())


def render_report(
    service: AnalyticsService, report_type: str, scope: Scope, *, fmt_: str = "html"
) -> RenderedReport:
    """Build a report and render it in ``fmt_``; nothing is written."""
    report_type, fmt_ = check_report_args(report_type, fmt_)
    if report_type == "company_summary" and (not scope.company_ids or len(scope.company_ids) != 1):
        raise InvalidInputError("the company_summary report needs exactly one company_id")
    builder = {"company_summary": _summary, "comparison": _comparison, "costs": _costs}
    data = builder[report_type](service, scope)
    return RenderedReport(
        report_type=report_type,
        format=fmt_,
        title=data["title"],
        summary=data["summary"],
        text=_render(data, fmt_),
    )


def generate_report(
    service: AnalyticsService,
    report_type: str,
    scope: Scope,
    *,
    fmt_: str = "html",
    workspace: Path,
    out: Path | None = None,
    filename: str | None = None,
) -> ReportFile:
    """Build a report, render it in ``fmt_`` and write it; return where it went."""
    report_type, fmt_ = check_report_args(report_type, fmt_)
    target = _target(workspace, out, filename, report_type, scope, fmt_)  # checks filename
    report = render_report(service, report_type, scope, fmt_=fmt_)
    _write_atomic(target, report.text)
    shown = target.relative_to(workspace) if target.is_relative_to(workspace) else target
    return ReportFile(
        report_type=report.report_type,
        format=report.format,
        title=report.title,
        path=str(shown),
        bytes=report.bytes,
        summary=report.summary,
    )


def check_filename(filename: Any) -> str:
    """``filename`` if it is a plain report file name (the whole string is checked).

    Raises:
        InvalidInputError: not letters, digits, ``-``, ``_`` and ``.`` starting with a letter
            or digit, or holding ``..``.
    """
    if not isinstance(filename, str) or not _NAME_RE.fullmatch(filename) or ".." in filename:
        raise InvalidInputError(
            f"filename must be a plain file name (letters, digits, '-', '_', '.'), got {filename!r}"
        )
    return filename


def report_name(report_type: str, scope: Scope, fmt_: str, filename: str | None = None) -> str:
    """The file name of a report: ``filename`` checked, else ``<type>-<companies>-<time>.<ext>``.

    Raises:
        InvalidInputError: ``filename`` is not a plain file name.
    """
    if filename is not None:
        return check_filename(filename)
    who = "-".join(scope.company_ids) if scope.company_ids else "all"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{report_type}-{who[:60]}-{stamp}.{FORMATS[fmt_]}"


def _target(
    workspace: Path,
    out: Path | None,
    filename: str | None,
    report_type: str,
    scope: Scope,
    fmt_: str,
) -> Path:
    if out is not None:
        return out
    return workspace / "reports" / report_name(report_type, scope, fmt_, filename)


def _write_atomic(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".report-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- report contents: a title, a summary, sections of key figures, tables and charts -------


def _summary_tables(
    failures: FailureAnalysis, patterns: PatternAnalysis, sat: SatisfactionAnalysis
) -> list[dict[str, Any]]:
    return [
        _table(
            "Failures",
            ["Failure", "Count", "Rate", "Example"],
            [
                [g.label, g.count, pct(g.rate), g.examples[0].user_message if g.examples else ""]
                for g in failures.groups
            ],
        ),
        _table(
            "Topics",
            ["Topic", "Conversations", "Escalation", "Satisfaction"],
            [
                [t.topic, t.conversations, pct(t.escalation_rate), fmt(t.satisfaction)]
                for t in patterns.topics
            ],
        ),
        _table(
            "Satisfaction drivers",
            ["Factor", "Mean with", "Mean without", "Impact"],
            [[d.factor, fmt(d.mean_with), fmt(d.mean_without), fmt(d.impact)] for d in sat.drivers],
        ),
    ]


def _summary(service: AnalyticsService, scope: Scope) -> dict[str, Any]:
    conv = service.analyze_conversations(scope)
    failures = service.identify_failures(scope)
    sat = service.measure_satisfaction(scope)
    patterns = service.identify_patterns(scope, top=8)
    costs = service.analyze_costs(scope, period="day")
    days = [p.day.isoformat() for p in conv.daily]
    rt = conv.response_time_ms
    return {
        "title": f"Company summary: {describe_scope(scope.to_dict())}",
        "summary": conv.summary(),
        "figures": {
            "Conversations": f"{conv.conversations:,}",
            "Resolution rate": pct(conv.resolution_rate),
            "Escalation rate": pct(conv.escalation_rate),
            "Fallback rate": pct(conv.fallback_rate),
            "Satisfaction": f"{fmt(sat.mean)}/5 (CSAT {pct(sat.csat)})",
            "Response time p50 / p95": f"{fmt(rt.p50, 0)} / {fmt(rt.p95, 0)} ms",
            "Total cost": money(conv.total_cost_usd),
        },
        "tables": _summary_tables(failures, patterns, sat),
        "charts": [
            charts.line_chart(
                "Conversations per day",
                days,
                {"conversations": [p.conversations for p in conv.daily]},
            ),
            charts.line_chart(
                "Median response time per day (ms)",
                days,
                {"p50": [p.p50_response_ms for p in conv.daily]},
            ),
            charts.bar_chart("Ratings", list(sat.distribution), list(sat.distribution.values())),
        ],
        "data": {
            "conversations": conv.to_dict(),
            "failures": failures.to_dict(),
            "satisfaction": sat.to_dict(),
            "patterns": patterns.to_dict(),
            "costs": costs.to_dict(),
        },
    }


def _companies(service: AnalyticsService, scope: Scope) -> list[str]:
    if scope.company_ids:
        return list(scope.company_ids)
    with service.database.session() as session:
        return list(session.scalars(sa.select(Company.id).order_by(Company.id)))


def _comparison(service: AnalyticsService, scope: Scope) -> dict[str, Any]:
    rows = []
    for company in _companies(service, scope):
        part = Scope(company_ids=(company,), start=scope.start, end=scope.end)
        conv = service.analyze_conversations(part)
        rows.append((company, conv))
    rows.sort(key=lambda r: -r[1].conversations)
    names = [c for c, _ in rows]
    return {
        "title": f"Cross-company comparison: {describe_scope(scope.to_dict())}",
        "summary": "\n".join(f"{c}: {a.summary()}" for c, a in rows),
        "figures": {
            "Companies": str(len(rows)),
            "Conversations": f"{sum(a.conversations for _, a in rows):,}",
            "Total cost": money(sum(a.total_cost_usd for _, a in rows)),
        },
        "tables": [
            _table(
                "Per company",
                [
                    "Company",
                    "Conversations",
                    "Resolution",
                    "Escalation",
                    "Fallback",
                    "Satisfaction",
                    "p95 ms",
                    "Cost/conv.",
                ],
                [
                    [
                        c,
                        a.conversations,
                        pct(a.resolution_rate),
                        pct(a.escalation_rate),
                        pct(a.fallback_rate),
                        fmt(a.satisfaction),
                        fmt(a.response_time_ms.p95, 0),
                        money(a.cost_per_conversation),
                    ]
                    for c, a in rows
                ],
            )
        ],
        "charts": [
            charts.bar_chart("Conversations", names, [a.conversations for _, a in rows]),
            charts.bar_chart("Escalation rate", names, [a.escalation_rate for _, a in rows]),
            charts.bar_chart("Mean satisfaction", names, [a.satisfaction for _, a in rows]),
        ],
        "data": {"companies": {c: a.to_dict() for c, a in rows}},
    }


def _cost_forecast(service: AnalyticsService, scope: Scope, days: int) -> UsageForecast | None:
    if days < MIN_HISTORY_DAYS:
        return None
    try:
        return service.predict_usage(scope, horizon_days=30, metrics=("cost_usd",))
    except ServiceError:
        return None


def _daily_cost_chart(costs: CostAnalysis, forecast: UsageForecast | None) -> str:
    days = [p.key for p in costs.by_period]
    daily = [p.recorded_cost_usd for p in costs.by_period]
    if forecast is None:
        return charts.line_chart("Daily cost (USD)", days, {"recorded": daily})
    points = forecast.forecasts[0].points
    return charts.line_chart(
        "Daily cost and 30-day forecast (USD)",
        days + [p.day.isoformat() for p in points],
        {"recorded": daily, "forecast": [None] * len(days) + [p.mean for p in points]},
        band=([p.lower for p in points], [p.upper for p in points]),
        band_start=len(days),
    )


def _cost_tables(costs: CostAnalysis) -> list[dict[str, Any]]:
    by_model = [
        [m.key, m.conversations, m.prompt_tokens + m.completion_tokens,
         money(m.recorded_cost_usd), money(m.priced_cost_usd)]
        for m in costs.by_model
    ]  # fmt: skip
    by_company = [
        [c.key, c.conversations, money(c.recorded_cost_usd), money(c.cost_per_conversation)]
        for c in costs.by_company
    ]
    return [
        _table("By model", ["Model", "Conversations", "Tokens", "Recorded", "Priced"], by_model),
        _table(
            "By company", ["Company", "Conversations", "Recorded", "Per conversation"], by_company
        ),
    ]


def _costs(service: AnalyticsService, scope: Scope) -> dict[str, Any]:
    costs = service.analyze_costs(scope, period="day")
    forecast = _cost_forecast(service, scope, len(costs.by_period))
    t = costs.total
    ahead = money(forecast.forecasts[0].forecast_total) if forecast else "n/a"
    return {
        "title": f"Cost report: {describe_scope(scope.to_dict())}",
        "summary": costs.summary() + ("\n" + forecast.summary() if forecast else ""),
        "figures": {
            "Recorded cost": money(t.recorded_cost_usd),
            "Priced cost (price table)": money(t.priced_cost_usd),
            "Cost per conversation": money(t.cost_per_conversation),
            "Tokens": f"{t.prompt_tokens + t.completion_tokens:,}",
            "Forecast, next 30 days": ahead,
        },
        "tables": _cost_tables(costs),
        "charts": [
            _daily_cost_chart(costs, forecast),
            charts.bar_chart(
                "Cost by model (USD)",
                [m.key for m in costs.by_model],
                [m.recorded_cost_usd for m in costs.by_model],
            ),
            charts.bar_chart(
                "Cost by company (USD)",
                [c.key for c in costs.by_company],
                [c.recorded_cost_usd for c in costs.by_company],
            ),
        ],
        "data": {"costs": costs.to_dict(), "forecast": forecast.to_dict() if forecast else None},
    }


def _table(title: str, header: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"title": title, "header": header, "rows": [[str(v) for v in r] for r in rows]}


# --- rendering -----------------------------------------------------------------------------

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("masterai.services.analytics", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
)


def _render(data: dict[str, Any], fmt_: str) -> str:
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if fmt_ == "json":
        payload = {k: v for k, v in data.items() if k != "charts"}
        return json.dumps({**payload, "generated_at": generated}, indent=2, default=str) + "\n"
    if fmt_ == "markdown":
        return _markdown(data, generated)
    template = _ENV.get_template("report.html.j2")
    return template.render(
        title=data["title"],
        generated=generated,
        summary=data["summary"],
        figures=data["figures"],
        tables=data["tables"],
        charts=[markupsafe.Markup(svg) for svg in data["charts"]],
    )


def _text(value: str) -> str:
    """Markdown text with raw HTML shown as text (``<script>`` becomes ``&lt;script&gt;``).

    Conversation text and company names reach reports; Markdown passes raw HTML through to
    whatever renders it, so ``<``, ``>`` and ``&`` are escaped as entities.
    """
    return html.escape(value, quote=False)


def _cell(value: str) -> str:
    return _text(value).replace("|", "\\|").replace("\n", " ")


def _markdown(data: dict[str, Any], generated: str) -> str:
    title, summary = _text(data["title"]), _text(data["summary"])
    lines = [f"# {title}", "", f"_Generated {generated}_", "", summary, ""]
    lines += ["| Figure | Value |", "|---|---|"]
    lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in data["figures"].items()]
    for table in data["tables"]:
        lines += ["", f"## {_text(table['title'])}", ""]
        lines.append("| " + " | ".join(_cell(h) for h in table["header"]) + " |")
        lines.append("|" + "---|" * len(table["header"]))
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table["rows"]]
    return "\n".join(lines) + "\n"
