"""Charts for the console: the analytics service's SVG charts, as images.

Matplotlib's SVG styles its shapes with ``style`` attributes, which the console's CSP
(``style-src 'self'``) would refuse inline; as an ``<img>`` with a ``data:`` URL the SVG is
a separate image document (``img-src 'self' data:``), drawn as designed and unable to run
script.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from masterai.services.analytics import charts


@dataclass(frozen=True, kw_only=True)
class Chart:
    """A drawn chart and the words that stand for it."""

    title: str
    src: str
    """``data:image/svg+xml;base64,...``"""
    alt: str


def _image(title: str, svg: str, alt: str) -> Chart:
    encoded = base64.b64encode(svg.encode()).decode()
    return Chart(title=title, src=f"data:image/svg+xml;base64,{encoded}", alt=alt)


def _describe(values: Sequence[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "no data"
    return f"from {known[0]:g} to {known[-1]:g}, lowest {min(known):g}, highest {max(known):g}"


def line(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]]) -> Chart:
    """A line chart of daily series."""
    svg = charts.line_chart(title, labels, series)
    parts = "; ".join(f"{name} {_describe(values)}" for name, values in series.items())
    span = f"{labels[0]} to {labels[-1]}" if labels else "no days"
    return _image(title, svg, f"{title}, {span}: {parts}")


def forecast(
    title: str,
    history_days: Sequence[str],
    history: Sequence[float | None],
    days: Sequence[str],
    mean: Sequence[float],
    lower: Sequence[float],
    upper: Sequence[float],
    coverage: float,
) -> Chart:
    """History, then the forecast's mean with its prediction interval as a band."""
    svg = charts.line_chart(
        title,
        [*history_days, *days],
        {"recorded": list(history), "forecast": [None] * len(history) + list(mean)},
        band=(list(lower), list(upper)),
        band_start=len(history),
    )
    total = sum(mean)
    alt = (
        f"{title}: recorded {_describe(history)}; next {len(days)} days forecast "
        f"{total:g} in all, {coverage:.0%} interval per day from {min(lower, default=0):g} "
        f"to {max(upper, default=0):g}"
    )
    return _image(title, svg, alt)


def bars(title: str, labels: Sequence[str], values: Sequence[float | None]) -> Chart:
    """A bar chart of one value per label."""
    svg = charts.bar_chart(title, labels, values)
    pairs = ", ".join(f"{k} {v:g}" for k, v in zip(labels, values, strict=True) if v is not None)
    return _image(title, svg, f"{title}: {pairs}")
