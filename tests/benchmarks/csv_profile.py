"""The CSV profile of a generated 1,000,000-row, 8-column file: our profile (reports.work.profiling,
polars in batches) against a straightforward pandas `read_csv` + `describe()`. Each side runs in
a fresh process (see isolated.py)."""

import tempfile
from pathlib import Path

import numpy as np
import polars as pl

from .figures import Figure
from .isolated import in_fresh_process

NAME = "5. CSV profile"
# Our side runs as a worker does, with polars handing freed memory back at once (project/__init__.py);
# for comparison, it runs again with polars' default, which keeps freed pages for about a second.
JEMALLOC_DEFAULT = {"_RJEM_MALLOC_CONF": ""}
REGIONS = ["North", "South", "East", "West", "Central"]


def make_csv(path: Path, rows: int, seed: int = 7) -> Path:
    """Eight columns of the kinds people upload: ids, categories, counts, prices, dates, gaps."""
    rng = np.random.default_rng(seed)
    products = [f"Product {n:03d}" for n in range(200)]
    discount = rng.uniform(0, 0.3, rows).round(3)
    frame = pl.DataFrame(
        {
            "order_id": np.arange(1, rows + 1),
            "region": np.array(REGIONS)[rng.integers(0, len(REGIONS), rows)],
            "product": np.array(products)[rng.integers(0, len(products), rows)],
            "units": rng.integers(1, 20, rows),
            "unit_price": rng.gamma(2.0, 30.0, rows).round(2),
            "order_date": np.datetime64("2024-01-01") + rng.integers(0, 730, rows).astype("timedelta64[D]"),
            "discount": pl.Series(discount).set(pl.Series(rng.random(rows) < 0.1), None),
            "customer_email": [f"customer{n}@example.com" for n in rng.integers(0, rows // 4 + 1, rows)],
        }
    )
    frame.write_csv(path)
    return path


def ours(path: str) -> None:
    from reports.work import csv_sample, profiling

    with open(path, "rb") as upload:  # as the form checks an upload: its first bytes only
        layout = csv_sample.inspect_sample(upload.read(csv_sample.SAMPLE_BYTES), is_whole_file=False)
    profiling.profile_file(Path(path), layout.separator)


def pandas_profile(path: str) -> None:
    import pandas as pd

    pd.read_csv(path).describe(include="all")


def warm_up() -> None:
    with tempfile.TemporaryDirectory() as folder:
        small = make_csv(Path(folder) / "small.csv", 1000)
        ours(str(small))
        pandas_profile(str(small))


def run(smoke: bool = False) -> list[Figure]:
    rows = 2_000 if smoke else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        path = make_csv(Path(folder) / "orders.csv", rows)
        size_mb = path.stat().st_size / 2**20
        theirs = in_fresh_process(f"{__name__}:pandas_profile", str(path), warm_up=f"{__name__}:warm_up")
        mine = in_fresh_process(f"{__name__}:ours", str(path), warm_up=f"{__name__}:warm_up")
        kept = in_fresh_process(f"{__name__}:ours", str(path), warm_up=f"{__name__}:warm_up", env=JEMALLOC_DEFAULT)
    what = f"{rows:,} rows × 8 columns ({size_mb:.0f} MB); baseline pandas read_csv + describe(include='all')"
    return [
        Figure(NAME, "time", mine["seconds"], theirs["seconds"], "s", ratio_as="baseline/ours",
               goal="≥ 2× faster", note=what).check(lambda r: r >= 2),
        Figure(NAME, "peak memory", mine["peak_mib"], theirs["peak_mib"], "MiB",
               goal="< 1× (less)", note="ours as a worker runs it: polars hands freed memory back at once "
               "(_RJEM_MALLOC_CONF, set in project/__init__.py)").check(lambda r: r < 1),
        Figure(NAME, "time, with polars' allocator default", kept["seconds"], theirs["seconds"], "s",
               ratio_as="baseline/ours", goal="report",
               note="the same profile without the project's setting: polars' jemalloc keeps freed pages "
                    "resident for about a second (dirty_decay_ms:500, muzzy_decay_ms:1000)"),
        Figure(NAME, "peak memory, with polars' allocator default", kept["peak_mib"], theirs["peak_mib"],
               "MiB", goal="report"),
    ]  # fmt: skip
