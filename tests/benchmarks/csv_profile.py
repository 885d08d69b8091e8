"""The CSV profile against what a data team would otherwise run, on the same generated files in
the same run: ydata-profiling (minimal and default modes; its own virtual environment, see
ydata_side.py) and, for continuity with earlier tables, a pandas `read_csv` + `describe()`.

1. A 1,000,000-row, 8-column file (76 MB): time and peak memory of each.
2. A file larger than memory is for a worker (5 GB by default, OFFLOAD_BENCH_LARGE_MB): our
   time, throughput and peak memory; pandas and ydata-profiling under the same memory limit
   (RLIMIT_AS), where they stop.

Each side runs in a fresh process (isolated.py, ydata_side.py)."""

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from .figures import Figure
from .isolated import ROOT, in_fresh_process

NAME = "5. CSV profile"
LARGE = "13. CSV larger than memory"
# Our side runs as a worker does, with polars handing freed memory back within a tenth of a second
# (project/__init__.py); for comparison, it runs again with polars' default, which keeps freed
# pages for about a second, and handing them back at once (the project's setting until 2026-12-04).
ALLOCATOR_VARIANTS = {  # figure label: (polars' allocator setting, note)
    "with polars' allocator default": (
        "",
        "the same profile without the project's setting: polars' jemalloc keeps freed pages resident "
        "for about a second (dirty_decay_ms:500, muzzy_decay_ms:1000)",
    ),
    "handing freed memory back at once": (
        "dirty_decay_ms:0,muzzy_decay_ms:0",
        "the same profile with dirty_decay_ms:0, muzzy_decay_ms:0 (the project's setting until "
        "2026-12-04): the lowest peak, and the slowest",
    ),
}
REGIONS = ["North", "South", "East", "West", "Central"]
YDATA_PYTHON = ROOT / ".venv-ydata" / "bin" / "python"
# What ydata-profiling computes in each mode (its documentation and its report, version 4.18).
YDATA_MODES = {
    "minimal": "types, counts, missing, distinct, zeros, min/max/mean/std, quantiles, skewness, kurtosis, "
    "histograms, common values, text lengths and characters, alerts; no duplicate rows, no correlations",
    "default": "minimal's, plus duplicate rows, correlations (auto: Pearson/Spearman/Cramér's V/phik) and "
    "missing-value diagrams",
}


def make_chunk(rows: int, seed: int = 7, first_id: int = 1) -> pl.DataFrame:
    """Eight columns of the kinds people upload: ids, categories, counts, prices, dates, gaps."""
    rng = np.random.default_rng(seed)
    products = [f"Product {n:03d}" for n in range(200)]
    discount = rng.uniform(0, 0.3, rows).round(3)
    customers = rng.integers(0, max(rows // 4, 1) + 1, rows)
    return (
        pl.DataFrame(
            {
                "order_id": np.arange(first_id, first_id + rows),
                "region": np.array(REGIONS)[rng.integers(0, len(REGIONS), rows)],
                "product": np.array(products)[rng.integers(0, len(products), rows)],
                "units": rng.integers(1, 20, rows),
                "unit_price": rng.gamma(2.0, 30.0, rows).round(2),
                "order_date": np.datetime64("2024-01-01") + rng.integers(0, 730, rows).astype("timedelta64[D]"),
                "discount": pl.Series(discount).set(pl.Series(rng.random(rows) < 0.1), None),
                "customer": customers,
            }
        )
        .with_columns(pl.format("customer{}@example.com", "customer").alias("customer_email"))
        .drop("customer")
    )


def make_csv(path: Path, rows: int, seed: int = 7) -> Path:
    make_chunk(rows, seed).write_csv(path)
    return path


def make_large_csv(path: Path, size_bytes: int, chunk_rows: int = 1_000_000) -> int:
    """A file of at least `size_bytes`, written a million rows at a time (never whole in memory);
    how many rows it has."""
    with open(path, "wb") as handle:
        chunks = 0
        while handle.tell() < size_bytes:
            chunk = make_chunk(chunk_rows, seed=chunks, first_id=1 + chunks * chunk_rows)
            chunk.write_csv(handle, include_header=chunks == 0)
            chunks += 1
    return chunks * chunk_rows


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


def ydata(path: Path, mode: str, extra_mib: int = 0) -> dict:
    """ydata_side.py's measurement. Under a memory limit a run may end without one (pandas' C
    parser aborts when an allocation fails): then how it ended, and the time until it did."""
    command = [str(YDATA_PYTHON), str(ROOT / "tests" / "benchmarks" / "ydata_side.py"), str(path), mode]
    started = time.perf_counter()
    output = subprocess.run(command + ([str(extra_mib)] if extra_mib else []), capture_output=True, text=True)
    if output.returncode == 0:
        return json.loads(output.stdout.strip().splitlines()[-1])
    if not extra_mib:
        raise RuntimeError(f"ydata-profiling ({mode}) failed:\n{output.stderr[-3000:]}")
    how = f"killed by signal {-output.returncode}" if output.returncode < 0 else f"exit code {output.returncode}"
    errors = [line for line in output.stderr.splitlines() if "Error" in line]  # not a progress bar
    last = errors[-1][:120] if errors else ""
    return {"seconds": time.perf_counter() - started, "peak_mib": None,
            "outcome": f"stopped ({how}{': ' + last if last else ''})"}  # fmt: skip


def run(smoke: bool = False) -> list[Figure]:
    rows = 2_000 if smoke else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        path = make_csv(Path(folder) / "orders.csv", rows)
        size_mb = path.stat().st_size / 2**20
        theirs = in_fresh_process(f"{__name__}:pandas_profile", str(path), warm_up=f"{__name__}:warm_up")
        mine = in_fresh_process(f"{__name__}:ours", str(path), warm_up=f"{__name__}:warm_up")
        variants = {
            label: in_fresh_process(f"{__name__}:ours", str(path), warm_up=f"{__name__}:warm_up",
                                    env={"_RJEM_MALLOC_CONF": setting})
            for label, (setting, _) in ALLOCATOR_VARIANTS.items()
        }  # fmt: skip
        # ydata-profiling needs its own environment (`make .venv-ydata`, which `make bench` makes);
        # the smoke run in `make test` does without it.
        modes = {mode: ydata(path, mode) for mode in YDATA_MODES} if YDATA_PYTHON.exists() else {}
    what = f"{rows:,} rows × 8 columns ({size_mb:.0f} MB)"
    figures = []
    for mode, measured in modes.items():
        minimal = mode == "minimal"
        spent = Figure(NAME, f"time vs ydata-profiling {mode}", mine["seconds"], measured["seconds"], "s",
                       ratio_as="baseline/ours", goal="≥ 20× faster" if minimal else "report",
                       note=f"{what}; ydata-profiling 4.18 {mode} mode computes {YDATA_MODES[mode]}")  # fmt: skip
        held = Figure(NAME, f"peak memory vs ydata-profiling {mode}", mine["peak_mib"], measured["peak_mib"], "MiB",
                      goal="≤ 0.25×" if minimal else "report")  # fmt: skip
        if minimal:
            spent.check(lambda r: r >= 20)
            held.check(lambda r: r <= 0.25)
        figures += [spent, held]
    figures += [
        Figure(NAME, "time vs pandas describe()", mine["seconds"], theirs["seconds"], "s", ratio_as="baseline/ours",
               goal="≥ 2× faster", note=f"{what}; baseline pandas read_csv + describe(include='all'), which "
               "computes count, distinct, top value, mean, std, min, quartiles, max").check(lambda r: r >= 2),
        Figure(NAME, "peak memory vs pandas describe()", mine["peak_mib"], theirs["peak_mib"], "MiB",
               goal="< 1× (less)", note="ours as a worker runs it: polars hands freed memory back within a "
               "tenth of a second (_RJEM_MALLOC_CONF, set in project/__init__.py)").check(lambda r: r < 1),
    ]  # fmt: skip
    for label, measured in variants.items():
        figures += [
            Figure(NAME, f"time, {label}", measured["seconds"], theirs["seconds"], "s", ratio_as="baseline/ours",
                   goal="report", note=ALLOCATOR_VARIANTS[label][1]),
            Figure(NAME, f"peak memory, {label}", measured["peak_mib"], theirs["peak_mib"], "MiB", goal="report"),
        ]  # fmt: skip
    if not smoke:
        figures += run_large(int(os.environ.get("OFFLOAD_BENCH_LARGE_MB", "5000")))
    return figures


def run_large(size_mb: int) -> list[Figure]:
    """Ours on a file of `size_mb` MB; pandas and ydata-profiling given as much memory again."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "large.csv"
        rows = make_large_csv(path, size_mb * 10**6)
        size = path.stat().st_size
        mine = in_fresh_process(f"{__name__}:ours", str(path), warm_up=f"{__name__}:warm_up")
        # They may grow their address space by twice our peak resident memory: generous, since
        # address space only bounds resident memory from above.
        extra = int(2 * mine["peak_mib"])
        theirs = {"pandas": ydata(path, "pandas", extra), "minimal": ydata(path, "minimal", extra)}
    what = f"{size / 10**9:.1f} GB, {rows:,} rows × 8 columns"
    figures = [
        Figure(LARGE, "time", mine["seconds"], None, "s", ratio_as="", goal="report", note=what),
        Figure(LARGE, "throughput", size / 10**6 / mine["seconds"], None, "MB/s", ratio_as="",
               goal="≥ 200 MB/s").check(lambda value: value >= 200),
        Figure(LARGE, "peak memory (rise)", mine["peak_mib"], None, "MiB", ratio_as="",
               goal="< 1 GiB").check(lambda value: value < 1024),
    ]  # fmt: skip
    for name, measured in theirs.items():
        label = "pandas read_csv + describe()" if name == "pandas" else "ydata-profiling minimal"
        figures.append(
            Figure(LARGE, f"{label}, with {extra:,} MiB more address space", measured["seconds"], None, "s",
                   ratio_as="", goal="report", note=f"{measured['outcome']} after {measured['seconds']:.0f} s"
                   + (f", peak {measured['peak_mib']:,.0f} MiB" if measured["peak_mib"] is not None else ""))
        )  # fmt: skip
    return figures
