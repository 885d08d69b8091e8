"""Server-side SVG charts with matplotlib's object API (never pyplot: it keeps global state).

Drawn 5 inches wide with 11-point text, so on a phone (the chart shrunk from 480 to ~340 px) the text is
still about 10 px; on a wide screen the page shows it at its own size rather than enlarged.
"""

import io

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

INK = "#1f2933"
MUTED = "#5b6775"
ACCENT = "#3454d1"
GRID = "#e4e7eb"
WIDTH = 5.0  # inches: matplotlib writes SVG in points, so 360 pt, 480 CSS px
TEXT = 11  # points
TITLE = 13


def compact_number(value: float, _position=None) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.2g}"


def money(value: float, _position=None) -> str:
    """$1.2M, $12k, $170.12, $35."""
    if abs(value) >= 1000:
        return "$" + compact_number(value)
    return f"${value:,.2f}".removesuffix(".00")


def bar_chart_svg(
    labels: list[str],
    values: list[float],
    title: str,
    *,
    chronological: bool = False,
    average: bool = False,
    value_format=compact_number,
) -> bytes:
    """A chart as SVG: columns for a time series, horizontal bars for ranked categories, each
    with its value written at its end. `average`: values that are averages, shown as dots on an
    axis fitted to them: bars must start at zero, and averages of 167 to 173 would all look alike."""
    rows = max(len(labels), 1)
    figure = Figure(figsize=(WIDTH, 3.6 if chronological else max(2.4, 0.42 * rows + 1.1)), dpi=100)
    axes = figure.add_subplot()
    if chronological:
        if average:
            axes.plot(range(len(values)), values, color=ACCENT, marker="o", markersize=4, linewidth=1.5)
            fit_axis(axes.set_ylim, values)
        else:
            axes.bar(range(len(values)), values, color=ACCENT, width=0.75)
        step = max(1, len(labels) // 8)
        axes.set_xticks(range(0, len(labels), step), labels[::step], rotation=45, ha="right")
        axes.yaxis.set_major_formatter(FuncFormatter(value_format))
        axes.grid(axis="y", color=GRID)
    else:
        positions = list(range(len(values)))[::-1]
        if average:
            axes.scatter(values, positions, color=ACCENT, s=36, zorder=3)
            fit_axis(axes.set_xlim, values)
        else:
            bars = axes.barh(positions, values, color=ACCENT, height=0.65)
            axes.bar_label(bars, labels=[value_format(v) for v in values], padding=3, color=INK, fontsize=TEXT - 1)
            axes.set_xlim(0, max(values, default=1) * 1.18 or 1)  # room for the last label
        if average:
            for value, position in zip(values, positions, strict=True):
                axes.annotate(value_format(value), (value, position), xytext=(6, 0), textcoords="offset points",
                              va="center", color=INK, fontsize=TEXT - 1)  # fmt: skip
        axes.set_yticks(positions, labels)
        axes.xaxis.set_major_formatter(FuncFormatter(value_format))
        axes.grid(axis="x", color=GRID)
    axes.set_axisbelow(True)
    axes.set_title(title, loc="left", color=INK, fontsize=TITLE, pad=10)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(GRID)
    axes.tick_params(colors=MUTED, labelcolor=INK, length=0, labelsize=TEXT)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def fit_axis(set_limits, values: list[float]) -> None:
    """An axis around the values, with room for their labels: not from zero (see bar_chart_svg)."""
    low, high = min(values, default=0), max(values, default=1)
    spread = (high - low) or abs(high) or 1
    set_limits(low - spread * 0.25, high + spread * 0.45)
