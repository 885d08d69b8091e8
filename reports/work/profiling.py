"""The CSV profile: every column's type and statistics, and the file's duplicate rows and
correlations, in one streaming pass over the file (polars batches, merged with `sketches`).

Memory stays flat however large the file: a batch at a time, a row sample of bounded size, a
bounded table of exact value counts per column, 16 KB of HyperLogLog registers per column, and
the rows' hashes spilled to disk. What is exact and what is approximate is recorded in the result
(`exact` on each figure that can be either), and the page says so.
"""

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from reports.engine.progress import Progress, ignore
from reports.work.csv_sample import SAMPLE_BYTES, CsvProblem
from reports.work.sketches import (
    Distinct,
    Moments,
    RowHashes,
    RowSample,
    quantile_error,
    unused_prefix,
)

BATCH_ROWS = 250_000
DATE_SAMPLE_ROWS = 100
SAMPLE_ROWS = 1_000_000  # quantiles, histograms and common values are exact up to this many rows
SAMPLE_MEMORY = 160 * 2**20  # ...or fewer for wide rows: the sample's rough size in memory
EXACT_VALUES = 10_000  # a column's values are counted exactly until it has more distinct ones
CORRELATION_COLUMNS = 20  # more numeric columns than this: no correlation table (n² pairs)
HIGH_CORRELATION = 0.9
TOP_VALUES = 5
HISTOGRAM_BINS = 10
QUANTILES = {"p05": 0.05, "p25": 0.25, "median": 0.5, "p75": 0.75, "p95": 0.95}
BOOLEAN_WORDS = [{"true", "false"}, {"yes", "no"}, {"y", "n"}, {"t", "f"}]
CATEGORY_VALUES = 50  # text with at most this many distinct values (each seen twice on average)
ID_NAME = re.compile(r"(^|[^a-z])(id|uuid|guid|key|code|number|no)$|^id[^a-z]", re.IGNORECASE)
# Numbers a spreadsheet or a person wrote as text: "1,234.50", " 42 ". Not "007": a code.
THOUSANDS = r"^\s*[+-]?\d{1,3}(,\d{3})+(\.\d+)?\s*$"
NUMBERS_SHARE = 0.95
NUMBER_TEXT = r"^\s*[+-]?(\d{1,3}(,\d{3})+|[1-9]\d*|0)(\.\d+)?\s*$"


def estimate_rows(path: Path) -> int:
    """Rows in the file, guessed from its size and the length of its first lines (for progress)."""
    size = Path(path).stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    lines = max(head.count(b"\n"), 1)
    return max(int(size / (len(head) / lines)) - 1, 1)


def date_columns(path: Path, separator: str) -> dict:
    """The columns that hold dates or times, judged from the first rows.

    Letting polars try dates while it guesses types from 10,000 rows tries every text value
    against every date pattern; the first DATE_SAMPLE_ROWS rows tell as much. A value further
    down that is not a date fails the read, and `read_batches` reads that column as text."""
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    lines = head.split(b"\n")
    head = b"\n".join(lines[: DATE_SAMPLE_ROWS + 1]) if len(lines) > DATE_SAMPLE_ROWS + 1 else head
    try:  # only those lines: polars would parse further, and one late value must not fail the probe
        sample = pl.read_csv(head, separator=separator, infer_schema_length=None, try_parse_dates=True)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError):
        return {}  # the read proper says what is wrong with the file
    return {name: dtype for name, dtype in sample.schema.items() if dtype.is_temporal()}


def human_bytes(size: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1000
    return ""


NOT_PARSED = re.compile(r"could not parse `(?P<value>.*?)` as dtype `(?P<dtype>\w+)` at column '(?P<column>.*?)'")


def read_problem(exc: Exception) -> CsvProblem:
    message = str(exc)
    if "more fields than defined" in message or "found more fields" in message:
        return CsvProblem(
            "Some rows have more fields than the header. Check for a missing or extra separator or an unclosed quote."
        )
    if "invalid utf-8" in message.lower() or "utf8" in message.lower():
        return CsvProblem("Part of the file is not UTF-8 text. Save it as “CSV UTF-8” and upload it again.")
    first_line = re.sub(r"\s+", " ", message.splitlines()[0] if message else "unknown error")[:200]
    return CsvProblem(f"The file could not be read as CSV: {first_line}")


def text_shape(dtype: pl.DataType) -> str:
    """How a date, a time or a date and time is written in the profile."""
    if dtype == pl.Date:
        return "%Y-%m-%d"
    if dtype == pl.Time:
        return "%H:%M:%S%.f"
    return "%Y-%m-%d %H:%M:%S%.f"


def column_type(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "decimal"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype == pl.Date:
        return "date"
    if dtype == pl.Time:
        return "time"
    if dtype.is_temporal():
        return "datetime"
    if dtype == pl.Null:
        return "empty"
    return "text"


def plain(value):
    """A statistic as JSON can hold it: finite numbers, ISO dates, strings."""
    if value is None:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "hour"):  # a date and time: written as people and spreadsheets write it
        return value.isoformat(sep=" ")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (int, bool, str)):
        return value
    return str(value)


def bin_edges(values: np.ndarray, integers: bool) -> np.ndarray | int:
    """Ten equal bins, but for whole numbers bins of whole numbers, edges half-way between them:
    ten equal bins over 1..12 would hold two values in some and one in others, and a uniform
    column would look U-shaped."""
    low, high = int(values.min()), int(values.max())
    # Past 2**51 (values or span) a float cannot hold every half-way edge exactly.
    if not integers or max(abs(low), abs(high), high - low) > 2**51:
        return HISTOGRAM_BINS
    width = max(1, math.ceil((high - low + 1) / HISTOGRAM_BINS))
    return np.arange(low, high + width + 1, width)[: math.ceil((high - low + 1) / width) + 1] - 0.5


def histogram(series: pl.Series, integers: bool, scale: float = 1.0, exact: bool = True) -> dict | None:
    """Bins of a column's values (its row sample's, counts scaled to the whole column when the
    sample is not the whole file)."""
    values = series.drop_nulls().cast(pl.Float64).to_numpy()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    bins = bin_edges(values, integers)
    if isinstance(bins, int):
        counts, edges = np.histogram(values, bins=bins)
    else:  # bins of whole numbers, of one width: counted by division (np.histogram would sort)
        edges = bins
        width = edges[1] - edges[0] if edges.size > 1 else 1.0
        counts = np.bincount(((values - edges[0]) // width).astype(np.int64), minlength=edges.size - 1)
    # "whole": bins of whole numbers, edges half-way between them (the axis reads 1 to 12, not 0.5 to 12.5).
    return {
        "counts": [round(int(count) * scale) for count in counts],
        "edges": [plain(float(edge)) for edge in edges],
        "whole": not isinstance(bins, int),
        "exact": exact,
    }


@dataclass
class Column:
    """What one column has added up to so far."""

    name: str
    index: int
    dtype: pl.DataType = pl.Null
    written_as: str = ""  # "thousands separators" or "text": numbers read from text
    missing: int = 0
    not_numbers: int = 0
    moments: Moments = field(default_factory=Moments)
    low: object = None
    high: object = None
    zeros: int = 0
    negatives: int = 0
    infinite: int = 0
    fractional: bool = False  # numbers read from text: has any a fraction?
    rises: bool = False  # some value is above the one before it (nulls skipped)
    falls: bool = False
    repeats: bool = False  # some value equals the one before it (nulls skipped)
    previous_last: object = None
    length_low: int | None = None
    length_high: int | None = None
    length_total: int = 0
    counts: pl.DataFrame | None = None  # value -> count, while it has at most EXACT_VALUES values
    counting: bool = True
    # Not a number and no longer counted: its exact counts up to the batch before the one where
    # counting stopped (the sample has its values from that batch on; none if it was the first).
    before: pl.DataFrame | None = None
    distinct: Distinct = field(default_factory=Distinct)
    scratch: str = "__profile_"  # what the names of its columns of our own start with (see `measured`)

    @property
    def tally(self) -> str:
        """The name of its counts' second column: never its own name."""
        return f"{self.name} (count)"

    @property
    def tag(self) -> str:
        return f"c{self.index}_"

    @property
    def numeric(self) -> bool:
        return self.dtype.is_numeric() and self.dtype != pl.Boolean

    @property
    def temporal(self) -> bool:
        return self.dtype.is_temporal()

    @property
    def text(self) -> bool:
        return self.dtype == pl.String

    def stat_expressions(self, finite_only: bool = False) -> list[pl.Expr]:
        """This column's statistics of one batch. `finite_only`: its moments over the finite
        values only (asked again for a batch that holds an infinity, which makes every moment inf)."""
        column, tag = pl.col(self.name), self.tag
        values = self.numbers
        if finite_only:
            values = values.filter(values.is_finite())
            deviation = values - values.mean()
        else:
            deviation = pl.col(self.scratch_name("deviation"))  # see `measured`
        squared = deviation * deviation
        moments = [
            values.count().alias(f"{tag}finite"),
            values.mean().alias(f"{tag}mean"),
            squared.sum().alias(f"{tag}m2"),
            (squared * deviation).sum().alias(f"{tag}m3"),
            (squared * squared).sum().alias(f"{tag}m4"),
        ]
        if finite_only:
            return moments
        expressions = [column.null_count().alias(f"{tag}nulls"), column.count().alias(f"{tag}count")]
        if self.numeric:
            expressions += moments + [
                column.min().alias(f"{tag}min"),
                column.max().alias(f"{tag}max"),
                (column == 0).sum().alias(f"{tag}zeros"),
                (column < 0).sum().alias(f"{tag}negatives"),
                count_of(values.is_infinite()).alias(f"{tag}infinite"),
            ]
            if self.written_as and not self.fractional:
                finite = values.filter(values.is_finite())
                expressions.append((finite != finite.floor()).any().alias(f"{tag}fraction"))
            if self.tracks_order:
                # Each value against the one before it, over missing ones (see `measured`): by
                # comparing, not subtracting (a difference of large integers wraps around).
                filled = pl.col(self.scratch_name("filled"))
                before = filled.shift(1)
                expressions += [
                    # No step down (or up) inside the batch, nor from the last batch's last value.
                    (filled < before).any().alias(f"{tag}down"),
                    (filled > before).any().alias(f"{tag}up"),
                    # A value equal to the one before it (a missing one repeats it: not counted).
                    ((filled == before) & column.is_not_null()).any().alias(f"{tag}flat"),
                    column.drop_nulls().first().alias(f"{tag}first"),
                    column.drop_nulls().last().alias(f"{tag}last"),
                ]
        elif self.temporal:  # as numbers: a Python date cannot hold year 0, which a file can ("0-1-1")
            expressions += [
                column.min().to_physical().alias(f"{tag}min"),
                column.max().to_physical().alias(f"{tag}max"),
            ]
        elif self.text:
            length = column.str.len_chars()
            expressions += [
                length.min().alias(f"{tag}lmin"),
                length.max().alias(f"{tag}lmax"),
                length.sum().alias(f"{tag}lsum"),
            ]
        return expressions

    @property
    def numbers(self) -> pl.Expr:
        """Its values as numbers to add up: integers and floats as they are (a cast costs as
        much as a moment), anything else as floats."""
        column = pl.col(self.name)
        return column if self.dtype.is_integer() or self.dtype.is_float() else column.cast(pl.Float64)

    @property
    def strictly_monotonic(self) -> bool:
        """Every value above (or below) the one before it: all different, known without
        counting them (an id column, most often)."""
        return self.numeric and (self.rises != self.falls) and not self.repeats

    @property
    def in_sample(self) -> bool:
        """Its values go to the sample: numbers (for quantiles, histograms, correlations) and
        values too varied to count, from the batch where counting stopped (the earlier ones are
        in `before`); a column still counted has everything in its counts."""
        return self.numeric or not self.counting

    @property
    def tracks_order(self) -> bool:
        """Monotonic until it has gone both up and down."""
        return self.numeric and not (self.rises and self.falls)

    def scratch_name(self, what: str) -> str:
        """A name for a column of ours beside this one's values (no file's column has it)."""
        return f"{self.scratch}{self.index}_{what}"

    def measured(self) -> list[pl.Expr]:
        """Columns of its own the batch's statistics share, each worked out once: written into
        each expression that uses it, polars worked it out again for each (the deviation with
        its mean for every power; an integer column's moments took three times a float's)."""
        if not self.numeric:
            return []
        values = self.numbers
        shared = [(values - values.mean()).alias(self.scratch_name("deviation"))]
        if self.tracks_order:  # each missing value replaced by the one before it
            shared.append(pl.col(self.name).forward_fill().alias(self.scratch_name("filled")))
        return shared

    def add_stats(self, row: dict) -> None:
        tag = self.tag
        self.missing += row[f"{tag}nulls"]
        count = row[f"{tag}count"]
        if self.numeric and count:
            self.moments.add(row[f"{tag}finite"], row[f"{tag}mean"], row[f"{tag}m2"], row[f"{tag}m3"], row[f"{tag}m4"])
            self.zeros += row[f"{tag}zeros"]
            self.negatives += row[f"{tag}negatives"]
            self.infinite += row[f"{tag}infinite"]
            self.fractional |= bool(row.get(f"{tag}fraction"))
            if f"{tag}first" in row:
                first, last = row[f"{tag}first"], row[f"{tag}last"]
                if self.previous_last is not None:
                    self.falls |= first < self.previous_last
                    self.rises |= first > self.previous_last
                    self.repeats |= first == self.previous_last
                self.falls |= bool(row[f"{tag}down"])
                self.rises |= bool(row[f"{tag}up"])
                self.repeats |= bool(row[f"{tag}flat"])
                self.previous_last = last
        if (self.numeric or self.temporal) and count:
            low, high = row[f"{tag}min"], row[f"{tag}max"]
            self.low = low if self.low is None else min(self.low, low)
            self.high = high if self.high is None else max(self.high, high)
        if self.text and count:
            low, high = row[f"{tag}lmin"], row[f"{tag}lmax"]
            self.length_low = low if self.length_low is None else min(self.length_low, low)
            self.length_high = high if self.length_high is None else max(self.length_high, high)
            self.length_total += row[f"{tag}lsum"]

    def counts_plan(self, batch: pl.LazyFrame) -> pl.LazyFrame:
        """The counts so far plus this batch's, as one plan (run with the batch's others)."""
        counted = batch.drop_nulls(self.name).group_by(self.name).agg(pl.len().alias(self.tally))
        if self.counts is None:
            return counted
        return pl.concat([self.counts.lazy(), counted]).group_by(self.name).agg(pl.col(self.tally).sum())

    def take_counts(self, merged: pl.DataFrame) -> None:
        if merged.height <= EXACT_VALUES:
            self.counts = merged
            return
        # Too many values to count: from here on the sample and the HyperLogLog. Every value seen
        # so far is in the counts once, which is all a HyperLogLog needs of them.
        self.distinct.add(*registers_and_ranks(merged.lazy(), self.name).collect())
        if not self.numeric:  # the sample holds none of its earlier values: keep their counts
            self.before = self.counts
        self.counting, self.counts = False, None

    def distinct_plan(self, batch: pl.LazyFrame) -> pl.LazyFrame:
        return registers_and_ranks(batch, self.name)


def registers_and_ranks(frame: pl.LazyFrame, name: str) -> pl.LazyFrame:
    return frame.select(Distinct.expression(name).alias("s")).unnest("s")


class Reading:
    """One pass over the file: each batch's statistics merged into each Column."""

    def __init__(self, columns: list[Column], sample_rows: int, scratch: Path | None):
        self.columns = columns
        self.rows = 0
        self.sample = RowSample(sample_rows)
        self.hashes = RowHashes(scratch)

    def add(self, batch: pl.DataFrame) -> None:
        self.rows += batch.height
        self.hashes.add(batch)  # the rows as written: "1,000" and 1000 are different rows
        # NaN counts as missing, as pandas and ydata-profiling count it (and it would poison every moment).
        floats = [name for name, dtype in batch.schema.items() if dtype.is_float()]
        if floats:
            batch = batch.with_columns(pl.col(floats).fill_nan(None))
        failures = [
            (column, (pl.col(column.name).is_not_null() & converted(column).is_null()).sum())
            for column in self.columns
            if column.written_as
        ]
        if failures:
            counted = batch.select(expression.alias(column.name) for column, expression in failures).row(0)
            for (column, _), failed in zip(failures, counted, strict=True):
                column.not_numbers += failed
            batch = batch.with_columns(converted(column).alias(column.name) for column, _ in failures)
        expressions = [expression for column in self.columns for expression in column.stat_expressions()]
        lazy = batch.lazy()
        measured = batch.with_columns(expression for column in self.columns for expression in column.measured()).lazy()
        # A column's values are counted exactly, or (once there are too many) sketched: never both.
        counted = [column for column in self.columns if column.counting]
        sketched = [column for column in self.columns if not column.counting]
        plans = [measured.select(expressions)]
        plans += [column.counts_plan(lazy) for column in counted]
        plans += [column.distinct_plan(lazy) for column in sketched]
        stats, *results = pl.collect_all(plans)
        row = stats.row(0, named=True)
        if infinite := [column for column in self.columns if row.get(f"{column.tag}infinite")]:
            again = batch.select(expression for column in infinite for expression in column.stat_expressions(True))
            row |= again.row(0, named=True)
        for column in self.columns:
            column.add_stats(row)
        for column, counts in zip(counted, results[: len(counted)], strict=True):
            column.take_counts(counts)
        for column, registers in zip(sketched, results[len(counted) :], strict=True):
            column.distinct.add(*registers)
        self.sample.add(batch, [column.name for column in self.columns if column.in_sample])


def count_of(condition: pl.Expr) -> pl.Expr:
    return condition.sum().cast(pl.Int64)


def converted(column: Column) -> pl.Expr:
    """A column of numbers written as text, as numbers ("1,234.50" → 1234.5); null where not one."""
    cleaned = pl.col(column.name).str.strip_chars().str.replace_all(",", "")
    return cleaned.cast(column.dtype, strict=False)


def numbers_written_as_text(values: pl.Series) -> tuple[str, pl.DataType] | None:
    """Whether a text column's first values are numbers (at least NUMBERS_SHARE of them: a few
    "n/a" do not make a column of prices text), how they are written, and as what type."""
    values = values.drop_nulls()
    if values.len() == 0:
        return None
    numbers = values.filter(values.str.contains(NUMBER_TEXT))
    if numbers.len() < NUMBERS_SHARE * values.len():
        return None
    how = "thousands separators" if numbers.str.contains(THOUSANDS).any() else "text"
    # Read as decimals: a "1,234.5" further down must not count as "not a number" in a column
    # whose first values were whole. Whether they were all whole is told at the end (Column.fractional).
    return how, pl.Float64


def read_batches(path: Path, separator: str, batch_rows: int, overrides: dict):
    frame = pl.scan_csv(
        path,
        separator=separator,
        infer_schema_length=10_000,
        schema_overrides={**date_columns(path, separator), **overrides},
        raise_if_empty=True,
    )
    return frame.collect_batches(chunk_size=batch_rows)


def profile_file(
    path: Path,
    separator: str = ",",
    progress: Progress = ignore,
    batch_rows: int = BATCH_ROWS,
    sample_rows: int = SAMPLE_ROWS,
    scratch: Path | None = None,
    max_columns: int | None = None,
) -> dict:
    """The whole profile of a CSV file, read once in batches of `batch_rows` rows. A value far
    down that does not fit the type guessed from the first rows starts the read again with that
    column read as text (its numbers are still profiled as numbers: see `converted`)."""
    path = Path(path)
    size = path.stat().st_size
    expected = estimate_rows(path)
    # The sample's rows cost about what they cost in the file, twice over while it is trimmed.
    sample_rows = max(1_000, min(sample_rows, int(SAMPLE_MEMORY / max(size / expected, 1) / 2)))
    overrides: dict = {}
    while True:
        try:
            return read_and_profile(
                path, separator, progress, batch_rows, sample_rows, scratch, overrides, size, expected, max_columns
            )
        except pl.exceptions.NoDataError:
            raise CsvProblem("The file is empty.") from None
        except pl.exceptions.ComputeError as exc:
            found = NOT_PARSED.search(str(exc))
            if not found or overrides.get(found["column"]) == pl.String:
                raise read_problem(exc) from None
            try:  # a decimal in whole numbers makes the column decimal; anything else, text
                float(found["value"].replace(",", ""))
                overrides[found["column"]] = pl.Float64 if found["column"] not in overrides else pl.String
            except ValueError:
                overrides[found["column"]] = pl.String
            progress(
                0, f"Reading the file again: column “{found['column']}” has a value that is not like the first ones"
            )


def read_and_profile(
    path, separator, progress, batch_rows, sample_rows, scratch, overrides, size, expected, max_columns
) -> dict:
    reading = None
    try:
        for batch in read_batches(path, separator, batch_rows, overrides):
            if reading is None:
                if max_columns and batch.width > max_columns:
                    raise CsvProblem(f"The file has {batch.width:,} columns; a profile takes up to {max_columns:,}.")
                reading = Reading(first_columns(batch), sample_rows, scratch)
            reading.add(batch)
            done = min(1.0, reading.rows / expected)
            progress(
                min(95.0, 95.0 * done),
                f"Read {human_bytes(size * done)} of {human_bytes(size)} ({reading.rows:,} rows)",
            )
        if reading is None or reading.rows == 0:
            raise CsvProblem("The file has a header but no data rows.")
        progress(96, "Working out the figures")
        result = finish(reading)
    except BaseException:
        if reading is not None:
            reading.hashes.close()
        raise
    progress(100, "Profile ready")
    return result


def first_columns(batch: pl.DataFrame) -> list[Column]:
    columns = []
    scratch = unused_prefix(batch.columns)
    for index, (name, dtype) in enumerate(batch.schema.items()):
        column = Column(name, index, dtype, scratch=scratch)
        if dtype == pl.String and (found := numbers_written_as_text(batch[name])):
            column.written_as, column.dtype = found
        columns.append(column)
    return columns


# --- Finishing: the figures, each exact or approximate ---------------------------------------


def finish(reading: Reading) -> dict:
    """Every figure: the merged statistics of the batches, and from the sample (each a query
    polars runs across the columns at once) the quantiles, then the counts of values too many to
    count as the file was read, then, once the alerts tell which columns are ids or constant,
    the histograms and correlations."""
    whole = reading.sample.is_whole
    held = reading.sample.held
    sample = reading.sample.rows()
    reading.sample = None  # its batches are held by `sample` alone: joined in place, they go
    in_one_piece(sample, reading.columns)
    found = sample_figures(reading.columns, sample)
    tallied = sample_counts(reading.columns, sample)
    columns = [
        finish_column(column, found, tallied.get(column.name), whole, reading.rows) for column in reading.columns
    ]
    correlations = later_figures(reading, columns, sample, found, whole)
    duplicates = reading.hashes.duplicates()
    result = {
        "rows": reading.rows,
        "columns": columns,
        "duplicate_rows": duplicates,
        "duplicate_pct": percent(duplicates, reading.rows),
        "correlations": correlations,
        "sample_rows": held,
        "exact": whole,
        "quantile_error": None if whole else quantile_error(held),
        # Pearson's r from n rows is within about 2(1 − r²)/√n of the whole file's, 95 % of the time.
        "correlation_error": None if whole else 2 / math.sqrt(max(held, 1)),
        "distinct_error": Distinct.RELATIVE_ERROR,
        "exact_values": EXACT_VALUES,
    }
    result["alerts"] = file_alerts(result)
    return result


def sample_figures(columns: list[Column], sample: pl.DataFrame) -> dict:
    """Each column's figures that come from the sample, as one row: `found[f"{tag}{figure}"]`.

    One eager query, polars running its expressions side by side (the same query made lazy took
    four times as long: 2.1's planner sends quantiles down a slower path). Quantiles skip missing
    values; a column with infinities (counted in stats["infinite"], not ranked) has them made
    missing first, once, not again for each quantile."""
    expressions = []
    for column in columns:
        if column.name not in sample.columns:
            continue
        values, tag = pl.col(column.name).drop_nulls(), column.tag
        expressions.append(values.len().alias(f"{tag}sampled"))
        if column.numeric:
            ranked = pl.col(column.scratch_name("finite") if column.infinite else column.name)
            expressions += [
                ranked.quantile(q, interpolation="linear").alias(f"{tag}{name}") for name, q in QUANTILES.items()
            ]
            # The median absolute deviation, from the same rows as the quantiles.
            expressions.append((ranked - ranked.median()).abs().median().alias(f"{tag}mad"))
    infinite = [column for column in columns if column.numeric and column.infinite and column.name in sample.columns]
    if infinite:
        sample = sample.with_columns(
            pl.when(pl.col(column.name).is_finite()).then(pl.col(column.name)).alias(column.scratch_name("finite"))
            for column in infinite
        )
    return sample.select(expressions).row(0, named=True) if expressions else {}


def in_one_piece(sample: pl.DataFrame, columns: list[Column]) -> None:
    """Each numeric column of the sample joined from its batches into one piece (each quantile
    would join them again), in place and a column at a time, so that only one column is ever
    held twice. Text is counted as well in pieces, and joining it would copy the most memory."""
    for column in columns:
        if column.numeric and column.name in sample.columns:
            index = sample.get_column_index(column.name)
            sample.replace_column(index, sample.get_column(column.name).rechunk())


def sample_counts(columns: list[Column], sample: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """How often each value occurs in the sample, for the columns whose values were too many to
    count as the file was read: their distinct values (when the sample is the whole file) and
    most common values. One query per column, run side by side."""
    uncounted = [
        column for column in columns
        if not column.counting and not column.strictly_monotonic and column.name in sample.columns
    ]  # fmt: skip
    plans = [
        sample.lazy().select(column.name).drop_nulls().group_by(column.name).agg(pl.len().alias(column.tally))
        for column in uncounted
    ]
    return {column.name: counts for column, counts in zip(uncounted, pl.collect_all(plans), strict=True)}


def estimated_counts(column: Column, tallied: pl.DataFrame, count: int) -> tuple[pl.DataFrame, float]:
    """A column's values too many to count as the file was read, each with its count over the
    whole column: exact for the rows counted before counting stopped (`before`), estimated for
    the rest from the sample (its count there times `scale`, the rest's rows per sampled row).
    Columns: the value and, named by `Column.scratch_name`, "exact" (counted), "sampled" (in the
    sample) and "estimate"."""
    name, tally = column.name, column.tally
    exact, sampled, estimate = (column.scratch_name(what) for what in ("exact", "sampled", "estimate"))
    counted_rows = int(column.before[tally].sum()) if column.before is not None else 0
    sampled_rows = int(tallied[tally].sum())
    scale = (count - counted_rows) / sampled_rows if sampled_rows else 0.0
    merged = tallied.select(pl.col(name), pl.lit(0).alias(exact), pl.col(tally).alias(sampled))
    if column.before is not None:
        counted = column.before.select(pl.col(name), pl.col(tally).alias(exact), pl.lit(0).alias(sampled))
        merged = (
            pl.concat([merged, counted], how="vertical_relaxed")
            .group_by(name)
            .agg(pl.col(exact).sum(), pl.col(sampled).sum())
        )
    return merged.with_columns((pl.col(exact) + pl.col(sampled) * scale).alias(estimate)), scale


def later_figures(reading: Reading, columns: list[dict], sample: pl.DataFrame, found: dict, whole: bool) -> dict | None:
    """The histograms (numpy) and the correlation table (one polars query)."""
    by_name = {stats["name"]: stats for stats in columns}
    for column in reading.columns:
        stats = by_name[column.name]
        if column.numeric and stats["count"] and (sampled := found.get(f"{column.tag}sampled")):
            integers = column.dtype.is_integer() or (column.written_as and not column.fractional)
            stats["histogram"] = histogram(sample[column.name], integers, stats["count"] / sampled, whole)
    pairs = correlation_pairs(reading, columns)
    if pairs is None:
        return {"off": f"More than {CORRELATION_COLUMNS} numeric columns: no correlation table."}
    if not pairs:
        return None
    values = sample.select(correlation(a, b).alias(f"r{i}") for i, (a, b) in enumerate(pairs)).row(0)
    return correlation_table(pairs, values)


def file_alerts(result: dict) -> list[dict]:
    found = []
    if duplicates := result["duplicate_rows"]:
        found.append({"kind": "duplicates", "text": f"{duplicates:,} duplicate rows ({result['duplicate_pct']:.1f} %)"})
    table = result["correlations"] or {}
    names = table.get("columns", [])
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            if (r := table["matrix"][i][j]) is not None and abs(r) >= HIGH_CORRELATION:
                found.append({"kind": "correlated", "text": f"{a} and {names[j]} are highly correlated (r = {r:.2f})"})
    return found


def percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def finish_column(column: Column, found: dict, tallied: pl.DataFrame | None, whole: bool, rows: int) -> dict:
    # A value that is not a number became null when its column was read as numbers: not missing.
    column.missing -= column.not_numbers
    count = rows - column.missing - column.not_numbers
    kind = column_type(column.dtype) if count else "empty"
    if kind == "decimal" and column.written_as and not column.fractional:
        kind = "integer"
    stats = {
        "name": column.name,
        "type": kind,
        "count": count,
        "missing": column.missing,
        "missing_pct": percent(column.missing, rows),
    }
    if column.written_as:
        stats["written_as"] = column.written_as
        stats["not_numbers"] = column.not_numbers
    # Distinct values: exact while counted, or when the sample is the whole file; else HyperLogLog.
    values = None  # for a column no longer counted: each value's count over the whole column
    if column.counting:
        distinct, distinct_exact = column.counts.height if column.counts is not None else 0, True
    elif column.strictly_monotonic:
        distinct, distinct_exact = count, True
    else:
        if tallied is None:  # none of its values made the sample (all were counted before)
            tallied = pl.DataFrame(schema={column.name: column.dtype, column.tally: pl.UInt32})
        values, scale = estimated_counts(column, tallied, count)
        if whole:
            distinct, distinct_exact = values.height, True
        else:
            distinct, distinct_exact = min(column.distinct.estimate(), count), False
    stats.update(distinct=distinct, distinct_pct=percent(distinct, count), distinct_exact=distinct_exact)
    if kind == "text" and column.counting and count:
        kind = stats["type"] = text_kind(column.counts, column.name, distinct, count)
    if column.numeric and count:
        numeric_stats(stats, column, found, whole, count)
    elif column.temporal and count:
        shape = text_shape(column.dtype)
        ends = pl.Series("v", [column.low, column.high], dtype=pl.Int64).cast(column.dtype)
        earliest, latest = ends.dt.to_string(shape).to_list()
        zone = getattr(column.dtype, "time_zone", None)
        stats.update(earliest=earliest, latest=latest, time_zone=zone)
    if column.text and count and column.length_low is not None:
        # Each value's length as often as it occurs: exact from the counts (or a whole-file sample).
        median = None
        if column.counting:
            median = weighted_median(column.counts[column.name].str.len_chars(), column.counts[column.tally])
        elif values is not None and values.height:
            median = weighted_median(values[column.name].str.len_chars(), values[column.scratch_name("estimate")])
        stats["length"] = {
            "min": column.length_low,
            "mean": column.length_total / count,
            "median": plain(median),
            "max": column.length_high,
        }
    if count:
        stats["unique"] = unique = (
            (distinct == count) if distinct_exact else (abs(distinct - count) <= Distinct.RELATIVE_ERROR * count)
        )
        if not unique and column.counting and column.counts is not None:
            counted = column.counts.select(
                column.name,
                pl.col(column.tally).alias(column.scratch_name("estimate")),
                pl.lit(0).alias(column.scratch_name("sampled")),
            )
            stats.update(top_values_shown(column, counted, 1.0, True))
        elif not unique and values is not None and values.height:
            stats.update(top_values_shown(column, values, scale, whole))
    stats["alerts"] = alerts(stats, column)
    return stats


def weighted_median(values: pl.Series, weights: pl.Series) -> float | None:
    """The median of `values` each repeated `weights` times (the middle one, or the mean of the
    middle two), without repeating them. Weights that are estimates need not be whole."""
    if values.len() == 0:
        return None
    frame = pl.DataFrame({"v": values, "w": weights}).sort("v")
    ends = frame["w"].cum_sum().to_numpy()
    total = float(ends[-1])
    last = len(ends) - 1
    lower = frame["v"][min(int(np.searchsorted(ends, (total - 1) // 2, side="right")), last)]
    upper = frame["v"][min(int(np.searchsorted(ends, total // 2, side="right")), last)]
    return (lower + upper) / 2


def text_kind(counts: pl.DataFrame, name: str, distinct: int, count: int) -> str:
    words = {str(value).strip().lower() for value in counts[name].to_list()}
    if distinct == 2 and any(words == pair for pair in BOOLEAN_WORDS):
        return "boolean"
    if distinct <= CATEGORY_VALUES and count >= 2 * distinct:
        return "category"
    return "text"


def numeric_stats(stats: dict, column: Column, found: dict, whole: bool, count: int) -> None:
    moments = column.moments
    stats.update(
        min=plain(column.low),
        max=plain(column.high),
        range=plain(column.high - column.low) if column.low is not None else None,
        mean=plain(moments.mean) if moments.n else None,
        sum=plain(moments.mean * moments.n),
        std=plain(moments.std),
        variance=plain(moments.std**2) if moments.std is not None else None,
        cv=plain(moments.std / moments.mean) if moments.std is not None and moments.mean else None,
        skewness=plain(moments.skewness),
        kurtosis=plain(moments.kurtosis),
        infinite=column.infinite,
        monotonic="increasing"
        if not column.falls and column.rises
        else "decreasing"
        if not column.rises and column.falls
        else "",
        zeros=column.zeros,
        zeros_pct=percent(column.zeros, count),
        negatives=column.negatives,
        negatives_pct=percent(column.negatives, count),
        quantiles_exact=whole,
    )
    if found.get(f"{column.tag}sampled"):
        for name in QUANTILES:
            stats[name] = plain(found[f"{column.tag}{name}"])
        low, high = stats["p25"], stats["p75"]
        stats["iqr"] = plain(high - low) if low is not None and high is not None else None
        stats["mad"] = plain(found[f"{column.tag}mad"])


def top_values_shown(column: Column, counts: pl.DataFrame, scale: float, exact: bool) -> dict:
    """The most common values, from `counts` (the value, its "estimate" over the whole column and
    how often it was "sampled", named by `Column.scratch_name`): exact from counts (or a
    whole-file sample), else each estimate give or take the 95 % margin of its sampled part."""
    estimate, sampled = column.scratch_name("estimate"), column.scratch_name("sampled")
    # The largest counts; ties go to the smallest value, so the same file always shows the same.
    top = counts.top_k(TOP_VALUES, by=[estimate, column.name], reverse=[False, True])
    top = top.sort([estimate, column.name], descending=[True, False])
    if column.temporal:  # as text: a Python date cannot hold year 0
        top = top.with_columns(pl.col(column.name).dt.to_string(text_shape(column.dtype)))
    shown = []
    for value, n, seen in top.select(column.name, estimate, sampled).iter_rows():
        # A value the sample missed may still be in the rows it stands for: one sampled row's worth at least.
        margin = round(2 * math.sqrt(max(seen, 1)) * scale)
        shown.append([plain(value), round(n)] if exact else [plain(value), round(n), margin])
    return {"top": shown, "top_exact": exact}


def alerts(stats: dict, column: Column) -> list[dict]:
    """What a person reads first, in the order they matter; each with a short sentence."""
    found = []
    count, distinct = stats["count"], stats["distinct"]
    about = "" if stats["distinct_exact"] else "about "

    def say(kind: str, text: str) -> None:
        found.append({"kind": kind, "text": text})

    if count == 0:
        say("empty", "No values at all")
        return found
    if stats["missing_pct"] >= 50:
        say("missing", f"Mostly missing ({stats['missing_pct']:.0f} %)")
    elif stats["missing_pct"] >= 5:
        say("missing", f"{stats['missing_pct']:.0f} % missing")
    if distinct == 1:
        say("constant", "The same value in every row")
    elif stats.get("unique") and count > 1:
        if looks_like_an_id(stats, column):
            say(
                "id",
                "Looks like an id: every value different"
                + (", consecutive whole numbers" if consecutive(stats) else ""),
            )
        else:
            say(
                "unique", "Every value different" if not about else "Every value different, as far as a sketch can tell"
            )
    elif stats["type"] in ("text",) and distinct > CATEGORY_VALUES:
        say("cardinality", f"High cardinality: {about}{distinct:,} distinct values")
    if stats.get("not_numbers"):
        n = stats["not_numbers"]
        say(
            "not_numbers",
            f"{n:,} value{'s are' if n != 1 else ' is'} not a number (counted as neither a value nor missing)",
        )
    if (skew := stats.get("skewness")) is not None and abs(skew) >= 2:
        say("skewed", f"Skewed (skewness {skew:.1f})")
    if stats.get("zeros_pct", 0) >= 10:
        say("zeros", f"{stats['zeros_pct']:.0f} % zeros")
    return found


def consecutive(stats: dict) -> bool:
    return (
        stats["type"] == "integer" and stats.get("min") is not None
        and stats["max"] - stats["min"] + 1 == stats["count"]
    )  # fmt: skip


def looks_like_an_id(stats: dict, column: Column) -> bool:
    return consecutive(stats) or bool(ID_NAME.search(column.name))


def correlation_pairs(reading: Reading, columns: list[dict]) -> list[tuple[str, str]] | None:
    """The pairs of numeric columns (not ids, not constant) Pearson's r is worked out for; None
    when there are too many numeric columns for a table."""
    numeric = [column for column in reading.columns if column.numeric]
    if len(numeric) > CORRELATION_COLUMNS:
        return None
    left_out = {"id", "constant", "empty"}
    by_name = {column["name"]: column for column in columns}
    names = [
        column.name for column in numeric
        if not {alert["kind"] for alert in by_name[column.name]["alerts"]} & left_out
    ]  # fmt: skip
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]] if len(names) >= 2 else []


def correlation(a: str, b: str) -> pl.Expr:
    """Pearson's r over the rows where both have a value, from the row sample (the whole file
    when it fits); null for fewer than two such rows."""
    both = pl.col(a).is_not_null() & pl.col(b).is_not_null()
    left, right = pl.col(a).cast(pl.Float64).filter(both), pl.col(b).cast(pl.Float64).filter(both)
    return pl.when(both.sum() >= 2).then(pl.corr(left, right)).otherwise(None)


def correlation_table(pairs: list[tuple[str, str]], values: tuple) -> dict:
    """For the heat map: the columns and the matrix of their r."""
    names = list(dict.fromkeys(name for pair in pairs for name in pair))
    where = {name: i for i, name in enumerate(names)}
    matrix = [[1.0] * len(names) for _ in names]
    for (a, b), r in zip(pairs, values, strict=True):
        matrix[where[a]][where[b]] = matrix[where[b]][where[a]] = plain(r)
    return {"columns": names, "matrix": matrix}
