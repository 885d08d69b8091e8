"""Sparklines: a series as a small inline SVG line, drawn here as markup. charts.py draws the
reports' charts with matplotlib in the workers; the web process never loads matplotlib, and a
line of a few dozen points needs nothing of it.

Readable without colour: the line, the highest point marked with a filled triangle (▲) and the
lowest with an open one (▽), the latest value written beside the line; and for screen readers
the same numbers in words, in the aria-label and the <title>."""

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# The palette of charts.py and the stylesheet (--accent, --ink).
ACCENT = "#3454d1"
INK = "#1f2933"

WIDTH, HEIGHT = 100, 28  # the line's area, in CSS pixels
TEXT_WIDTH = 40  # room for the latest value, on the right
PAD = 5  # keeps the markers inside the box
MARK = 3.5  # half a marker's width


def number_words(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def description(values: Sequence[float | None], what: str) -> str:
    """The numbers in words: 'Sales summary: jobs finished per hour, 24 intervals: latest 3,
    highest 14, lowest 0.'"""
    known = [value for value in values if value is not None]
    if not known:
        return f"{what}: no data in this window."
    words = f"{what}, {len(values)} intervals: latest {number_words(known[-1])}"
    if min(known) == max(known):
        words += ", the same in every interval with data"
    else:
        words += f", highest {number_words(max(known))}, lowest {number_words(min(known))}"
    missing = len(values) - len(known)
    return words + (f"; no data for {missing} of them." if missing else ".")


def triangle(x: float, y: float, pointing: int) -> str:
    """A marker's points around (x, y): pointing 1 is up (▲), -1 down (▽)."""
    tip, base = y - pointing * MARK, y + pointing * MARK * 0.7
    return f"{x:.1f},{tip:.1f} {x - MARK:.1f},{base:.1f} {x + MARK:.1f},{base:.1f}"


def sparkline(values: Sequence[float | None], what: str) -> SafeString:
    """An <svg> of `values` (None: no data, a gap in the line) oldest first, labelled `what`.

    Safe to put in a page as it is: every piece of text in it goes through format_html, which
    escapes it."""
    label = description(values, what)
    known = [value for value in values if value is not None]
    box = format_html(
        '<svg class="sparkline" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" width="{}" height="{}" '
        'viewBox="0 0 {} {}"><title>{}</title>',
        label, WIDTH + TEXT_WIDTH, HEIGHT, WIDTH + TEXT_WIDTH, HEIGHT, label,
    )  # fmt: skip
    if not known:
        return format_html(
            '{}<text x="0" y="{}" dominant-baseline="middle" font-size="12" fill="currentColor">no data</text></svg>',
            box, HEIGHT // 2,
        )  # fmt: skip
    lowest, highest = min(0, min(known)), max(known)
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)

    def point(index: int, value: float) -> tuple[float, float]:
        if highest == lowest:  # a flat line: along the bottom if it is zero, else half-way up
            return PAD + index * step, HEIGHT - PAD if highest == 0 else HEIGHT / 2
        height = (value - lowest) / (highest - lowest)
        return PAD + index * step, PAD + (1 - height) * (HEIGHT - 2 * PAD)

    # One polyline per run of known values; a value alone between gaps is a dot.
    runs: list[list[tuple[float, float]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append(point(index, value))
    lines = format_html_join(
        "",
        '<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5" stroke-linejoin="round"/>',
        ((" ".join(f"{x:.1f},{y:.1f}" for x, y in run), ACCENT) for run in runs if len(run) > 1),
    )
    dots = format_html_join(
        "", '<circle cx="{}" cy="{}" r="1.5" fill="{}"/>',
        ((f"{run[0][0]:.1f}", f"{run[0][1]:.1f}", ACCENT) for run in runs if len(run) == 1),
    )  # fmt: skip
    marks = ""
    if max(known) > min(known):
        marks = format_html(
            '<polygon points="{}" fill="{}"/><polygon points="{}" fill="#ffffff" stroke="{}"/>',
            triangle(*point(values.index(max(known)), max(known)), 1), INK,
            triangle(*point(values.index(min(known)), min(known)), -1), INK,
        )  # fmt: skip
    return format_html(
        '{}{}{}{}<text x="{}" y="{}" text-anchor="end" dominant-baseline="middle" font-size="12" '
        'fill="currentColor">{}</text></svg>',
        box, lines, dots, marks, WIDTH + TEXT_WIDTH - 2, HEIGHT // 2, number_words(known[-1]),
    )  # fmt: skip
