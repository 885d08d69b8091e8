"""A benchmark's figures and the table `make bench` prints and writes: figure, ours, baseline,
ratio, goal, and whether the goal holds."""

import os
import platform
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass
class Figure:
    benchmark: str
    figure: str
    ours: float | None
    baseline: float | None
    unit: str = ""
    # How to read the ratio: "ours/baseline" (less is better for times) or "baseline/ours"
    # (more is better: a speed-up), or "" when there is no baseline to divide by.
    ratio_as: str = "ours/baseline"
    goal: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.baseline is None or not self.ratio_as:
            return None
        top, bottom = (self.ours, self.baseline) if self.ratio_as == "ours/baseline" else (self.baseline, self.ours)
        return top / bottom if bottom else None

    def check(self, holds) -> "Figure":
        """Set `met` from a predicate of the ratio (or of the figure itself when there is none)."""
        self.met = bool(holds(self.ratio if self.ratio is not None else self.ours))
        return self


def number(value: float | None) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def verdict(figure: Figure) -> str:
    return {True: "yes", False: "NO", None: ""}[figure.met]


def machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores, {memory:.0f} GiB, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def rows(figures: list[Figure]) -> list[list[str]]:
    return [
        [
            f.benchmark,
            f"{f.figure} ({f.unit})" if f.unit else f.figure,
            number(f.ours),
            number(f.baseline),
            f"{f.ratio:.2f}×" if f.ratio is not None else "",
            f.goal,
            verdict(f),
        ]
        for f in figures
    ]


HEADER = ["benchmark", "figure", "ours", "baseline", "ratio", "goal", "met"]


def text_table(figures: list[Figure]) -> str:
    table = [HEADER, *rows(figures)]
    widths = [max(len(line[column]) for line in table) for column in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    notes = [f"- {f.benchmark}, {f.figure}: {f.note}" for f in figures if f.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def markdown(figures: list[Figure], command: str, when: str) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `{command}` on {when}, on this machine: {machine()}.",
        "Each figure ran side by side with its baseline in the same run; the ratio is what the goal is about.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
        *("| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in rows(figures)),
    ]
    notes = [f"- **{f.benchmark}, {f.figure}**: {f.note}" for f in figures if f.note]
    if notes:
        lines += ["", "## Notes", "", *notes]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
