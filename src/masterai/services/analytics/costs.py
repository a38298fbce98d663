"""``analyze_costs``: spend by company, model and period, against the settings' price table.

Two figures are reported side by side: the *recorded* cost (``messages.cost_usd``, what the
platform logged) and the *priced* cost (tokens x the price table in
``settings.analytics.prices``). A gap between them shows a stale price table or a provider
billing differently; models missing from the table are listed as unpriced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from masterai.services.analytics.results import AnalyticsResult, describe_scope, money, num
from masterai.services.analytics.scope import Scope, query
from masterai.services.errors import InvalidInputError
from masterai.settings import ModelPrice

PERIODS = ("day", "week", "month")


@dataclass(frozen=True, kw_only=True)
class CostLine:
    """Spend of one company, model or period."""

    key: str
    conversations: int
    prompt_tokens: int
    completion_tokens: int
    recorded_cost_usd: float
    priced_cost_usd: float | None
    """Tokens x price table; ``None`` when no model of the line is in the table."""
    cost_per_conversation: float | None


@dataclass(frozen=True, kw_only=True)
class CostAnalysis(AnalyticsResult):
    """Result of ``analyze_costs``."""

    scope: dict[str, Any]
    period: str
    total: CostLine
    by_company: list[CostLine]
    by_model: list[CostLine]
    by_period: list[CostLine]
    """Keys are the first day of each period (ISO date)."""
    unpriced_models: list[str]

    def summary(self) -> str:
        """Readable summary."""
        t = self.total
        lines = [
            f"Cost ({describe_scope(self.scope)}): recorded {money(t.recorded_cost_usd)}, "
            f"priced {money(t.priced_cost_usd)} for {t.conversations} conversations "
            f"({money(t.cost_per_conversation)} each); "
            f"{t.prompt_tokens:,} prompt + {t.completion_tokens:,} completion tokens."
        ]
        lines.extend(
            f"- model {m.key}: {money(m.recorded_cost_usd)} "
            f"({m.prompt_tokens + m.completion_tokens:,} tokens)"
            for m in self.by_model[:5]
        )
        lines.extend(
            f"- company {c.key}: {money(c.recorded_cost_usd)}" for c in self.by_company[:5]
        )
        if self.unpriced_models:
            lines.append(f"Models missing from the price table: {', '.join(self.unpriced_models)}")
        return "\n".join(lines)


def check_period(period: Any) -> str:
    """Validate a period name."""
    if period not in PERIODS:
        raise InvalidInputError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    return str(period)


def analyze_costs(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    prices: Mapping[str, ModelPrice],
    period: str = "day",
) -> CostAnalysis:
    """Break down the spend of ``scope`` by company, model and ``period``."""
    period = check_period(period)
    ctes, params = scope.ctes()
    # The price table travels as list parameters (no DataFrame needed).
    ctes += (
        ", price_table AS (SELECT unnest($price_models::VARCHAR[]) AS model, "
        "unnest($price_in::DOUBLE[]) AS input_per_mtok, "
        "unnest($price_out::DOUBLE[]) AS output_per_mtok)"
    )
    params = {
        **params,
        "price_models": list(prices),
        "price_in": [p.input_per_mtok for p in prices.values()],
        "price_out": [p.output_per_mtok for p in prices.values()],
    }
    lines = {}
    for name, key in (
        ("total", "'all'"),
        ("company", "mp.company_id"),
        ("model", "mp.model_name"),
        ("period", f"CAST(date_trunc('{period}', mp.started_at) AS DATE)::VARCHAR"),
    ):
        lines[name] = _lines(con, ctes, params, key)
    unpriced = [
        r[0]
        for r in query(
            con,
            f"""{ctes} SELECT DISTINCT coalesce(m.model, c.model, 'unknown') AS model
            FROM m JOIN c ON c.id = m.conversation_id
            WHERE m.role = 'assistant' AND coalesce(m.model, c.model, 'unknown')
                NOT IN (SELECT model FROM price_table) ORDER BY 1""",
            params,
        ).fetchall()
    ]
    empty = CostLine(
        key="all",
        conversations=0,
        prompt_tokens=0,
        completion_tokens=0,
        recorded_cost_usd=0.0,
        priced_cost_usd=None,
        cost_per_conversation=None,
    )
    return CostAnalysis(
        scope=scope.to_dict(),
        period=period,
        total=lines["total"][0] if lines["total"] else empty,
        by_company=lines["company"],
        by_model=lines["model"],
        by_period=sorted(lines["period"], key=lambda line: line.key),
        unpriced_models=unpriced,
    )


def _lines(
    con: duckdb.DuckDBPyConnection, ctes: str, params: dict[str, Any], key: str
) -> list[CostLine]:
    rows = query(
        con,
        f"""{ctes},
        mp AS (
            SELECT m.*, c.started_at, coalesce(m.model, c.model, 'unknown') AS model_name,
                p.input_per_mtok, p.output_per_mtok
            FROM m JOIN c ON c.id = m.conversation_id
            LEFT JOIN price_table p ON p.model = coalesce(m.model, c.model, 'unknown')
        )
        SELECT {key} AS k,
            count(DISTINCT mp.conversation_id), sum(mp.prompt_tokens),
            sum(mp.completion_tokens), sum(mp.cost_usd),
            sum((mp.prompt_tokens * mp.input_per_mtok
                + mp.completion_tokens * mp.output_per_mtok) / 1e6)
        FROM mp GROUP BY 1 ORDER BY 5 DESC, 1""",
        params,
    ).fetchall()
    return [
        CostLine(
            key=str(k),
            conversations=int(n),
            prompt_tokens=int(pt or 0),
            completion_tokens=int(ct or 0),
            recorded_cost_usd=num(cost, 6) or 0.0,
            priced_cost_usd=num(priced, 6),
            cost_per_conversation=num(cost / n, 6) if n else None,
        )
        for k, n, pt, ct, cost, priced in rows
    ]
