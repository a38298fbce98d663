"""Small matplotlib charts rendered as inline SVG for HTML reports (no pyplot global state)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


_COLORS = ("#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2")


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    text = buffer.getvalue()
    # Drop the XML prolog and DOCTYPE so the SVG can be inlined in HTML.
    return text[text.index("<svg") :]


def _figure(title: str) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure  # heavy; only reports draw charts

    fig = Figure(figsize=(7.5, 2.8), dpi=96)
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=10, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    return fig, ax


def line_chart(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    band: tuple[Sequence[float], Sequence[float]] | None = None,
    band_start: int = 0,
) -> str:
    """A line chart of one or more series over ``labels`` (dates); optional interval band."""
    fig, ax = _figure(title)
    x = list(range(len(labels)))
    for i, (name, values) in enumerate(series.items()):
        ys = [float("nan") if v is None else float(v) for v in values]
        ax.plot(x[: len(ys)], ys, label=name, color=_COLORS[i % len(_COLORS)], linewidth=1.4)
    if band is not None:
        lower, upper = band
        xs = x[band_start : band_start + len(lower)]
        ax.fill_between(xs, lower, upper, color=_COLORS[1], alpha=0.15, label="interval")
    step = max(1, len(labels) // 8)
    ax.set_xticks(x[::step], [labels[i] for i in x[::step]], rotation=30, ha="right")
    if len(series) > 1 or band is not None:
        ax.legend(fontsize=8, frameon=False)
    return _svg(fig)


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float | None]) -> str:
    """A bar chart of one value per label."""
    fig, ax = _figure(title)
    ys = [0.0 if v is None else float(v) for v in values]
    ax.bar(range(len(ys)), ys, color=_COLORS[0])
    ax.set_xticks(range(len(labels)), list(labels), rotation=30, ha="right")
    return _svg(fig)
