"""Job durations, computed in SQL, and their percentiles: seconds between two timestamps on
PostgreSQL and SQLite, PostgreSQL's percentile_cont, the interpolation it does (for SQLite,
which has none), the log-spaced histogram bins of the hourly roll-up, and Duration, a number of
seconds as the page shows it."""

import math
from collections import Counter
from dataclasses import dataclass

from django.db import NotSupportedError
from django.db.models import Aggregate, F, FloatField, Func, Value
from django.db.models.functions import Floor, Greatest, Ln

PERCENTILES = (0.5, 0.95)
# Histogram bins of JobHour: bin b holds durations from BIN_FLOOR × BIN_GROWTH^b to the next bin
# (shorter ones count in bin 0). Bins 10 % apart: a percentile read as a bin's middle is within 5 %.
BIN_FLOOR = 0.001
BIN_GROWTH = 1.1


@dataclass(frozen=True, order=True)
class Duration:
    """Seconds, shown as a person reads them: 40 ms, 2.5 s, 12 s, 3 min 5 s, 2 h 4 min. (Not a
    float subclass: templates print floats as numbers, not through __str__.)"""

    seconds: float

    def __str__(self) -> str:
        if self.seconds < 1:
            return f"{self.seconds * 1000:.0f} ms"
        if self.seconds < 9.95:
            return f"{self.seconds:.1f} s"
        return whole_seconds(round(self.seconds))


def whole_seconds(seconds: int) -> str:
    """12 s, 3 min 5 s, 2 h 4 min: as precise as a person watching wants."""
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


class ElapsedSeconds(Func):
    """end - start in seconds, as a float, on PostgreSQL and SQLite."""

    arity = 2
    output_field = FloatField()

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError("ElapsedSeconds is written for PostgreSQL and SQLite only.")

    def as_postgresql(self, compiler, connection, **extra_context):
        # date_part, not EXTRACT: since PostgreSQL 14 EXTRACT returns numeric, which sorts slower.
        return super().as_sql(
            compiler, connection, template="date_part('epoch', %(expressions)s)", arg_joiner=" - ", **extra_context
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler, connection, template="((julianday(%(expressions)s)) * 86400.0)", arg_joiner=") - julianday(",
            **extra_context,
        )  # fmt: skip


class PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont: the value at `fraction` of the ordered values, interpolated
    between its neighbours; NULLs are left out. Aggregates over the same ordering share one sort."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


RUN = ElapsedSeconds(F("finished_at"), F("started_at"))  # NULL for a job cancelled before it started
WAIT = ElapsedSeconds(F("started_at"), F("created_at"))
MEASURES = {"run": RUN, "wait": WAIT}


def interpolate(value_at, total: int, fraction: float) -> float:
    """percentile_cont from the values at the positions either side of fraction × (total - 1)."""
    rank = fraction * (total - 1)
    below = int(rank)
    if below + 1 >= total or rank == below:
        return value_at(below)
    return value_at(below) + (rank - below) * (value_at(below + 1) - value_at(below))


def bin_of(seconds) -> Floor:
    """The histogram bin of a duration, in SQL."""
    return Floor(Ln(Greatest(seconds, Value(BIN_FLOOR)) / BIN_FLOOR) / math.log(BIN_GROWTH))


def percentile_of_bins(bins: Counter, fraction: float) -> Duration | None:
    """percentile_cont of a histogram, each duration taken as the middle of its bin."""
    ordered = sorted((int(bin), count) for bin, count in bins.items() if count)
    total = sum(count for _, count in ordered)
    if not total:
        return None

    def value_at(position: int) -> float:
        seen = 0
        for bin, count in ordered:
            seen += count
            if position < seen:
                return BIN_FLOOR * BIN_GROWTH ** (bin + 0.5)
        raise IndexError(position)

    return Duration(interpolate(value_at, total, fraction))
