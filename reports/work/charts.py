"""Server-side SVG charts with matplotlib's object API (never pyplot: it keeps global state)."""

import io

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

INK = "#1f2933"
MUTED = "#7b8794"
ACCENT = "#3454d1"
GRID = "#e4e7eb"


def compact_number(value: float, _position=None) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.2g}"


def bar_chart_svg(labels: list[str], values: list[float], title: str, *, chronological: bool = False) -> bytes:
    """A bar chart as SVG: horizontal bars for ranked categories, columns for a time series."""
    figure = Figure(figsize=(7, 4 if chronological else max(2.4, 0.38 * len(labels) + 1.0)), dpi=100)
    axes = figure.add_subplot()
    if chronological:
        axes.bar(range(len(values)), values, color=ACCENT, width=0.75)
        step = max(1, len(labels) // 12)
        axes.set_xticks(range(0, len(labels), step), labels[::step], rotation=45, ha="right")
        axes.yaxis.set_major_formatter(FuncFormatter(compact_number))
        axes.grid(axis="y", color=GRID)
    else:
        positions = range(len(values))[::-1]
        axes.barh(list(positions), values, color=ACCENT, height=0.65)
        axes.set_yticks(list(positions), labels)
        axes.xaxis.set_major_formatter(FuncFormatter(compact_number))
        axes.grid(axis="x", color=GRID)
    axes.set_axisbelow(True)
    axes.set_title(title, loc="left", color=INK, fontsize=12, pad=10)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(GRID)
    axes.tick_params(colors=MUTED, labelcolor=INK, length=0)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()
