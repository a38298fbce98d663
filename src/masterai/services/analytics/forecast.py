"""``predict_usage``: daily forecasts of conversations, tokens and cost with prediction intervals.

The daily history comes from the analytics copy (days without conversations count as zero).
Each metric is fitted with statsmodels' ETS (error-trend-seasonality) state-space model: additive
errors, a damped additive trend and, with at least three weeks of history, a weekly additive
season. Its simulation-free prediction intervals come from the state-space form. Forecasts and
lower bounds are clipped at zero (usage cannot be negative).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import duckdb

from masterai.services.analytics.results import AnalyticsResult, describe_scope, num
from masterai.services.analytics.scope import Scope, query
from masterai.services.errors import InvalidInputError

if TYPE_CHECKING:
    import pandas as pd

METRICS = ("conversations", "tokens", "cost_usd")
MIN_HISTORY_DAYS = 7
MAX_HORIZON_DAYS = 365


@dataclass(frozen=True, kw_only=True)
class ForecastPoint:
    """The forecast of one day."""

    day: date
    mean: float
    lower: float
    upper: float


@dataclass(frozen=True, kw_only=True)
class MetricForecast:
    """The forecast of one metric over the horizon."""

    metric: str
    model: str
    """The fitted model, e.g. ``ETS(A,Ad,A) weekly``."""
    history_total: float
    """Sum of the metric over the history used."""
    forecast_total: float
    """Sum of the daily forecast means over the horizon."""
    points: list[ForecastPoint]


@dataclass(frozen=True, kw_only=True)
class UsageForecast(AnalyticsResult):
    """Result of ``predict_usage``."""

    scope: dict[str, Any]
    horizon_days: int
    interval: float
    """Coverage of the prediction intervals, e.g. 0.95."""
    history_start: date
    history_end: date
    forecasts: list[MetricForecast]

    def summary(self) -> str:
        """Readable summary."""
        days = (self.history_end - self.history_start).days + 1
        lines = [
            f"Forecast for the next {self.horizon_days} days ({describe_scope(self.scope)}, "
            f"{days} days of history, {self.interval:.0%} intervals):"
        ]
        for f in self.forecasts:
            last = f.points[-1]
            lines.append(
                f"- {f.metric}: {f.forecast_total:,.2f} in total; on {last.day.isoformat()} "
                f"{last.mean:,.2f} [{last.lower:,.2f}, {last.upper:,.2f}] ({f.model})"
            )
        return "\n".join(lines)


def daily_history(con: duckdb.DuckDBPyConnection, scope: Scope) -> pd.DataFrame:
    """Daily conversations, tokens and cost of ``scope``, missing days filled with zero."""
    import pandas as pd

    ctes, params = scope.ctes()
    frame = query(
        con,
        f"""{ctes},
        s AS (SELECT conversation_id, sum(prompt_tokens + completion_tokens) AS tokens,
                sum(cost_usd) AS cost FROM m GROUP BY 1)
        SELECT CAST(c.started_at AS DATE) AS day, count(*) AS conversations,
            coalesce(sum(s.tokens), 0)::DOUBLE AS tokens,
            coalesce(sum(s.cost), 0)::DOUBLE AS cost_usd
        FROM c LEFT JOIN s ON s.conversation_id = c.id GROUP BY 1 ORDER BY 1""",
        params,
    ).df()
    if frame.empty:
        return frame
    frame["day"] = pd.to_datetime(frame["day"])
    full = pd.date_range(frame["day"].min(), frame["day"].max(), freq="D")
    return frame.set_index("day").reindex(full, fill_value=0).astype(float)


def predict_usage(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    horizon_days: int,
    interval: float = 0.95,
    metrics: tuple[str, ...] = METRICS,
) -> UsageForecast:
    """Forecast ``metrics`` of ``scope`` for ``horizon_days`` days after its history."""
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int):
        raise InvalidInputError(f"horizon_days must be an integer, got {horizon_days!r}")
    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise InvalidInputError(
            f"horizon_days must be from 1 to {MAX_HORIZON_DAYS}, got {horizon_days!r}"
        )
    if not isinstance(interval, float | int) or not 0.5 <= interval < 1:
        raise InvalidInputError(f"interval must be in [0.5, 1), got {interval!r}")
    for metric in metrics:
        if metric not in METRICS:
            raise InvalidInputError(f"unknown metric {metric!r}; allowed: {', '.join(METRICS)}")
    history = daily_history(con, scope)
    if len(history) < MIN_HISTORY_DAYS:
        raise InvalidInputError(
            f"not enough history to forecast {scope.describe()}: {len(history)} days with "
            f"data, at least {MIN_HISTORY_DAYS} needed"
        )
    start = history.index[0].date()
    end = history.index[-1].date()
    return UsageForecast(
        scope=scope.to_dict(),
        horizon_days=horizon_days,
        interval=float(interval),
        history_start=start,
        history_end=end,
        forecasts=[
            _forecast(history[m], metric=m, horizon=horizon_days, interval=float(interval))
            for m in metrics
        ],
    )


def _forecast(series: pd.Series, *, metric: str, horizon: int, interval: float) -> MetricForecast:
    import numpy as np
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    seasonal = len(series) >= 21
    values = series.to_numpy(dtype=float)
    frame = pd.Series(values, index=pd.RangeIndex(len(values)))
    with warnings.catch_warnings():
        # Convergence chatter from the optimiser is not actionable for the caller.
        warnings.simplefilter("ignore")
        model = ETSModel(
            frame,
            error="add",
            trend="add",
            damped_trend=True,
            seasonal="add" if seasonal else None,
            seasonal_periods=7 if seasonal else None,
        )
        fit = model.fit(disp=False, maxiter=200)
        pred = fit.get_prediction(start=len(values), end=len(values) + horizon - 1)
        table = pred.summary_frame(alpha=1 - interval)
    last = series.index[-1].date()
    means = np.clip(table["mean"].to_numpy(), 0, None)
    lowers = np.clip(table["pi_lower"].to_numpy(), 0, None)
    uppers = np.clip(table["pi_upper"].to_numpy(), 0, None)
    digits = 6 if metric == "cost_usd" else 2
    return MetricForecast(
        metric=metric,
        model="ETS(A,Ad,A) weekly" if seasonal else "ETS(A,Ad,N)",
        history_total=num(values.sum(), digits) or 0.0,
        forecast_total=num(means.sum(), digits) or 0.0,
        points=[
            ForecastPoint(
                day=last + timedelta(days=i + 1),
                mean=num(means[i], digits) or 0.0,
                lower=num(lowers[i], digits) or 0.0,
                upper=num(uppers[i], digits) or 0.0,
            )
            for i in range(horizon)
        ],
    )
