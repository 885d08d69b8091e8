"""Statistics that add up: each batch of a file is summarised on its own and the summaries are
merged, so a file larger than memory is profiled in one pass. Exact where that is cheap (counts,
sums, moments, extremes, duplicate rows); approximate, with a stated error, where exact would
need a whole column in memory (distinct counts past a few thousand values, quantiles past a
million rows).
"""

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

HASH_SEED = 20261204


@dataclass
class Moments:
    """Count, mean and the second to fourth central moments (sums of squared, cubed and fourth
    powers of deviations), merged with the pairwise formulas of Chan et al. and Pébay: no sum of
    squares of large values, so no cancellation."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    m3: float = 0.0
    m4: float = 0.0

    def add(self, n: int, mean: float, m2: float, m3: float, m4: float) -> None:
        if n == 0:
            return
        if self.n == 0:
            self.n, self.mean, self.m2, self.m3, self.m4 = n, mean, m2, m3, m4
            return
        na, nb = self.n, n
        total = na + nb
        delta = mean - self.mean
        self.m4 = (
            self.m4 + m4
            + delta**4 * na * nb * (na * na - na * nb + nb * nb) / total**3
            + 6 * delta**2 * (na * na * m2 + nb * nb * self.m2) / total**2
            + 4 * delta * (na * m3 - nb * self.m3) / total
        )  # fmt: skip
        self.m3 = (
            self.m3 + m3
            + delta**3 * na * nb * (na - nb) / total**2
            + 3 * delta * (na * m2 - nb * self.m2) / total
        )  # fmt: skip
        self.m2 = self.m2 + m2 + delta**2 * na * nb / total
        self.mean = self.mean + delta * nb / total
        self.n = total

    @property
    def std(self) -> float | None:
        """The sample standard deviation (n − 1), as pandas and spreadsheets give it."""
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else None

    @property
    def skewness(self) -> float | None:
        """The adjusted Fisher–Pearson skewness (pandas' `skew()`, which ydata-profiling shows)."""
        if self.n < 3 or self.m2 <= 0:
            return None
        g1 = math.sqrt(self.n) * self.m3 / self.m2**1.5
        return g1 * math.sqrt(self.n * (self.n - 1)) / (self.n - 2)

    @property
    def kurtosis(self) -> float | None:
        """Excess kurtosis, unbiased (pandas' `kurt()`, which ydata-profiling shows): 0 for a normal."""
        n = self.n
        if n < 4 or self.m2 <= 0:
            return None
        return n * (n + 1) * (n - 1) * self.m4 / ((n - 2) * (n - 3) * self.m2**2) - 3 * (n - 1) ** 2 / (
            (n - 2) * (n - 3)
        )


class Distinct:
    """HyperLogLog with 2**14 registers over polars' 64-bit hashes: a distinct count within
    about 1.6 % (two standard errors, 1.04/√16384 each) in 16 KB, mergeable batch by batch."""

    P = 14
    M = 1 << P
    RELATIVE_ERROR = 2 * 1.04 / math.sqrt(M)

    def __init__(self):
        self.registers = np.zeros(self.M, dtype=np.uint8)

    @classmethod
    def expression(cls, column: str) -> pl.Expr:
        """Registers and ranks of one batch's values: the low bits pick the register, the
        leading zeros of the hash (plus one) are the rank."""
        hashed = pl.col(column).drop_nulls().hash(HASH_SEED)
        return pl.struct(
            (hashed & (cls.M - 1)).cast(pl.UInt32).alias("register"),
            (hashed.bitwise_leading_zeros().cast(pl.UInt8) + 1).clip(upper_bound=64 - cls.P + 1).alias("rank"),
        )

    def add(self, registers: pl.Series, ranks: pl.Series) -> None:
        """Each value's register and rank (`expression`): the register keeps the largest rank."""
        np.maximum.at(self.registers, registers.to_numpy(), ranks.to_numpy())

    def estimate(self) -> int:
        m = self.M
        alpha = 0.7213 / (1 + 1.079 / m)
        raw = alpha * m * m / float(np.sum(np.ldexp(1.0, -self.registers.astype(np.int64))))
        zeros = int(np.count_nonzero(self.registers == 0))
        if raw <= 2.5 * m and zeros:
            return round(m * math.log(m / zeros))  # linear counting: better for small counts
        return round(raw)


class RowSample:
    """A uniform random sample of up to `size` rows (bottom-k by a random key per row): the whole
    file when it has no more rows, so its quantiles are then exact.

    Until the file has more than `size` rows every row is kept as it came, batch by batch, with
    no key and no copy (a file that fits is its own sample). The first time it would hold more,
    each row gets a random key and the `size` smallest are kept; from then on a row whose key
    cannot make the sample is dropped as it arrives, and the sample is trimmed when its size in
    candidates has gathered, so a long file costs about size·ln(rows/size) rows of work. Its
    rows are in no particular order.

    Each batch may bring other columns (`add`'s `columns`): a row has missing values in a column
    its batch did not bring."""

    def __init__(self, size: int, seed: int = 7):
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.kept: pl.DataFrame | None = None  # keyed, once the file has outgrown the sample
        self.waiting: list[pl.DataFrame] = []
        self.waiting_rows = 0
        self.threshold = 1.0
        self.seen = 0
        self.key = ""  # its column of random keys, named like none of the file's

    def add(self, batch: pl.DataFrame, columns: list[str]) -> None:
        """The batch's rows (of those `columns`) as candidates for the sample."""
        self.seen += batch.height
        self.key = self.key or unused_prefix(batch.columns) + "key"
        batch = batch.select(columns)
        if batch.width == 0:  # no column wanted: the rows are counted, not kept
            return
        if self.kept is None:  # everything so far fits: no keys yet
            self.waiting.append(batch)
            self.waiting_rows += batch.height
            if self.seen > self.size:
                self.trim()
            return
        keys = self.rng.random(batch.height)
        wanted = keys < self.threshold  # only the rows that can make the sample get a key column
        chosen = batch.filter(pl.Series(wanted)).with_columns(pl.Series(self.key, keys[wanted]))
        if chosen.height:
            # A few rows picked from a batch would keep the whole batch's text in memory; many
            # rows cost little more than the batch, and copying them would.
            self.waiting.append(compact(chosen) if chosen.height < batch.height // 4 else chosen)
            self.waiting_rows += chosen.height
        # Trimmed when a whole sample's size waits: half as many trims as at half a sample
        # (16M rows: 7.1 -> 6.75 s) for a higher peak at each (710 -> 780 MiB).
        if self.waiting_rows >= max(self.size, 1):
            self.trim()

    def trim(self) -> None:
        if self.kept is None:  # the first time: every row so far draws its key
            merged = pl.concat(self.waiting, how="diagonal_relaxed")
            merged = merged.with_columns(pl.Series(self.key, self.rng.random(merged.height)))
        else:
            merged = pl.concat([self.kept, *self.waiting], how="diagonal_relaxed")
        if merged.height > self.size:
            # The rows of the `size` smallest keys, in the order they came (half the time of
            # polars' bottom_k, which sorts them by key).
            keys = merged[self.key].to_numpy()
            smallest = np.sort(np.argpartition(keys, self.size - 1)[: self.size])
            merged = compact(merged[pl.Series(smallest)])
            self.threshold = float(keys[smallest].max())
        self.kept, self.waiting, self.waiting_rows = merged, [], 0

    def rows(self) -> pl.DataFrame:
        """The sample, its batches chained rather than copied into one."""
        if self.kept is None:
            return pl.concat(self.waiting, how="diagonal_relaxed", rechunk=False) if self.waiting else pl.DataFrame()
        self.trim()
        return self.kept.drop(self.key)

    @property
    def held(self) -> int:
        """The rows the sample stands for: the whole file's, or `size` of them (whichever columns
        it was asked to keep of each)."""
        return min(self.seen, self.size)

    @property
    def is_whole(self) -> bool:
        return self.seen <= self.size


def unused_prefix(names: list[str]) -> str:
    """A prefix no name in `names` starts with, for columns of our own beside a file's."""
    prefix = "__profile_"
    while any(name.startswith(prefix) for name in names):
        prefix = "_" + prefix
    return prefix


def compact(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with its text copied out: polars' text columns picked from a larger frame are
    views into that frame's buffers, so a few sampled rows would keep every batch they came from
    in memory (a 5 GB file's sample grew past 2 GB that way)."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(pl.concat_str([pl.col(name), pl.lit("")]) for name in text) if text else frame


def quantile_error(sample_size: int) -> float:
    """How far a quantile taken from a uniform sample of this many rows may sit from the true
    one, in quantile points (0.01 = one percentile), at about 95 % confidence: 2·√(q(1−q)/k) at
    its widest (the median)."""
    return 2 * math.sqrt(0.25 / sample_size) if sample_size else 1.0


class RowHashes:
    """Exact duplicate rows of a file too large to hold: each row's 64-bit hash is written to
    one of 16 files on disk by its top bits, and each file is counted alone at the end (an
    eighth of a gigabyte per file for 70 million rows). Two different rows share a 64-bit hash
    with odds of about one in 7,000 for 70 million rows, so the count is exact in practice."""

    PARTS = 16

    def __init__(self, folder: Path | None = None):
        self.folder = tempfile.TemporaryDirectory(dir=folder, prefix="row-hashes-")
        self.files = [open(Path(self.folder.name) / f"{part:02d}.u64", "wb") for part in range(self.PARTS)]  # noqa: SIM115
        self.rows = 0

    def add(self, batch: pl.DataFrame) -> None:
        hashes = batch.hash_rows(seed=HASH_SEED).to_numpy()
        self.rows += hashes.size
        parts = (hashes >> np.uint64(60)).astype(np.uint8)
        order = np.argsort(parts, kind="stable")  # a radix sort, for bytes
        bounds = np.searchsorted(parts[order], np.arange(self.PARTS + 1))
        for part in range(self.PARTS):
            hashes[order[bounds[part] : bounds[part + 1]]].tofile(self.files[part])

    def duplicates(self) -> int:
        """Rows that repeat an earlier row (a row seen three times counts twice)."""
        repeated = 0
        for handle in self.files:
            handle.close()
            hashes = np.fromfile(handle.name, dtype=np.uint64)
            repeated += hashes.size - pl.Series(hashes).n_unique()
        self.folder.cleanup()
        return repeated

    def close(self) -> None:
        for handle in self.files:
            handle.close()
        self.folder.cleanup()
