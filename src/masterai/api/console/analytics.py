"""The Analytics pages: a dashboard per company, the comparison, failures, reports.

Each figure comes from an ``analytics`` call (``analyze_conversations``, ``predict_usage``,
``identify_failures``, ``generate_report``) as the logged-in user; charts are drawn on the
server from the results.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from masterai.api.console import charts
from masterai.api.console.configs import companies_of
from masterai.api.console.core import Console, ConsoleUser, structured
from masterai.registry import ToolResult

FORECAST_DAYS = 14
REPORT_TYPES = ("company_summary", "comparison", "costs")
REPORT_FORMATS = {"html": ("html", "text/html"), "markdown": ("md", "text/markdown")} | {
    "json": ("json", "application/json")
}


def _scope(company_id: str | None, start_date: str | None, end_date: str | None) -> dict[str, Any]:
    given = {"company_id": company_id, "start_date": start_date, "end_date": end_date}
    return {k: v.strip() for k, v in given.items() if v and v.strip()}


def _kpis(summary: dict[str, Any]) -> list[tuple[str, str]]:
    rt = summary.get("response_time_ms") or {}

    def pct(value: Any) -> str:
        return "-" if value is None else f"{value:.1%}"

    def ms(value: Any) -> str:
        return "-" if value is None else f"{value:,.0f} ms"

    satisfaction = summary.get("satisfaction")
    return [
        ("Conversations", f"{summary.get('conversations', 0):,}"),
        ("Messages", f"{summary.get('messages', 0):,}"),
        ("Resolution", pct(summary.get("resolution_rate"))),
        ("Escalation", pct(summary.get("escalation_rate"))),
        ("Fallback", pct(summary.get("fallback_rate"))),
        ("Errors", pct(summary.get("error_rate"))),
        (
            "Satisfaction",
            "-"
            if satisfaction is None
            else f"{satisfaction:.2f}/5 ({summary.get('rated_conversations', 0)} rated)",
        ),
        ("Response p50", ms(rt.get("p50"))),
        ("Response p90", ms(rt.get("p90"))),
        ("Response p95", ms(rt.get("p95"))),
        ("Response p99", ms(rt.get("p99"))),
        ("Total cost", f"${summary.get('total_cost_usd', 0):,.4f}"),
        ("Cost per conversation", f"${summary.get('cost_per_conversation', 0):,.4f}"),
    ]


def _daily_charts(summary: dict[str, Any]) -> list[charts.Chart]:
    daily = summary.get("daily") or []
    if not daily:
        return []
    days = [d["day"] for d in daily]

    def series(key: str, scale: float = 1.0) -> list[float | None]:
        return [None if d.get(key) is None else round(d[key] * scale, 4) for d in daily]

    return [
        charts.line("Conversations per day", days, {"conversations": series("conversations")}),
        charts.line(
            "Median response time per day (ms)", days, {"p50 ms": series("p50_response_ms")}
        ),
        charts.line(
            "Resolution and escalation per day (%)",
            days,
            {
                "resolution": series("resolution_rate", 100),
                "escalation": series("escalation_rate", 100),
            },
        ),
        charts.line("Cost per day (USD)", days, {"cost": series("cost_usd")}),
    ]


def _forecast_chart(summary: dict[str, Any], forecast: dict[str, Any]) -> charts.Chart | None:
    series = next(
        (f for f in forecast.get("forecasts", []) if f["metric"] == "conversations"), None
    )
    daily = summary.get("daily") or []
    if series is None or not series.get("points"):
        return None
    points = series["points"]
    return charts.forecast(
        f"Conversations: next {len(points)} days ({series.get('model', 'forecast')})",
        [d["day"] for d in daily],
        [d.get("conversations") for d in daily],
        [p["day"] for p in points],
        [p["mean"] for p in points],
        [p["lower"] for p in points],
        [p["upper"] for p in points],
        float(forecast.get("interval", 0.95)),
    )


def router(console: Console) -> APIRouter:
    """``/analytics``, ``/analytics/compare`` and ``/analytics/report``."""
    routes = APIRouter(include_in_schema=False)
    console.pages.add("analytics")

    async def call(
        request: Request, user: ConsoleUser, operation: str, params: dict[str, Any]
    ) -> ToolResult:
        return await console.call(request, user, "analytics", {"operation": operation, **params})

    @routes.get("/analytics")
    async def dashboard(
        request: Request,
        company_id: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
    ) -> HTMLResponse:
        user = await console.user(request)
        companies = await companies_of(console, request, user)
        company = company_id or (companies[0] if companies else None)
        scope = _scope(company, start_date, end_date)
        summary_result = await call(request, user, "analyze_conversations", scope)
        forecast_result = await call(
            request,
            user,
            "predict_usage",
            {**scope, "horizon_days": FORECAST_DAYS, "metrics": ["conversations", "cost_usd"]},
        )
        failures_result = await call(request, user, "identify_failures", {**scope, "examples": 2})
        summary = structured(summary_result) if summary_result.ok else {}
        forecast = structured(forecast_result) if forecast_result.ok else {}
        drawn = await asyncio.to_thread(_daily_charts, summary)
        forecast_chart = await asyncio.to_thread(_forecast_chart, summary, forecast)
        return console.render(
            request,
            "analytics.html",
            user,
            companies=companies,
            company=company,
            start_date=start_date or "",
            end_date=end_date or "",
            summary_result=summary_result,
            kpis=_kpis(summary) if summary else [],
            charts=drawn,
            forecast_result=forecast_result,
            forecast=forecast,
            forecast_chart=forecast_chart,
            failures_result=failures_result,
            failures=structured(failures_result) if failures_result.ok else {},
            report_types=REPORT_TYPES,
            report_formats=list(REPORT_FORMATS),
        )

    @routes.get("/analytics/compare")
    async def compare(
        request: Request, start_date: str | None = None, end_date: str | None = None
    ) -> HTMLResponse:
        user = await console.user(request)
        params = {
            "report_type": "comparison",
            "format": "json",
            "include_content": True,
            **_scope(None, start_date, end_date),
        }
        result = await call(request, user, "generate_report", params)
        report: dict[str, Any] = {}
        drawn: list[charts.Chart] = []
        if result.ok:
            report = json.loads(structured(result)["content"])
            per_company = report.get("data", {}).get("companies", {})
            names = list(per_company)
            drawn = await asyncio.to_thread(
                lambda: [
                    charts.bars(
                        "Conversations by company",
                        names,
                        [per_company[n].get("conversations") for n in names],
                    ),
                    charts.bars(
                        "Resolution rate by company (%)",
                        names,
                        [
                            None
                            if per_company[n].get("resolution_rate") is None
                            else round(per_company[n]["resolution_rate"] * 100, 1)
                            for n in names
                        ],
                    ),
                ]
            )
        return console.render(
            request,
            "analytics_compare.html",
            user,
            result=result,
            report=report,
            charts=drawn,
            start_date=start_date or "",
            end_date=end_date or "",
        )

    @routes.post("/analytics/report")
    async def report(request: Request) -> Response:
        user = await console.user(request)
        form = await console.form(request, user)
        report_type = str(form.get("report_type") or "company_summary")
        fmt = str(form.get("format") or "html")
        company = form.get("company_id") if report_type != "comparison" else None
        params = {
            "report_type": report_type,
            "format": fmt,
            "include_content": True,
            **_scope(
                company if isinstance(company, str) else None,
                str(form.get("start_date") or ""),
                str(form.get("end_date") or ""),
            ),
        }
        result = await call(request, user, "generate_report", params)
        if not result.ok:
            return console.page(
                request,
                user,
                "page.html",
                "result.html",
                title="Report",
                result=result,
                status_code=422,
            )
        body = structured(result)
        extension, media_type = REPORT_FORMATS.get(fmt, ("txt", "text/plain"))
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{report_type}-{params.get('company_id', 'all')}")
        name = f"{stem}.{extension}"
        return Response(
            body["content"],
            media_type=media_type,
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    return routes
