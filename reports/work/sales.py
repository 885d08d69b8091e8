"""The sales summary: a deterministic demo order data set and its grouped totals (polars)."""

import os
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from reports.engine.progress import Progress, ignore
from reports.work.sales_query import (
    FIRST_DAY,
    GROUP_BY,
    LAST_DAY,
    PRODUCTS,
    REGIONS,
    SalesQuery,
    SalesRow,
    SalesSummary,
    years_forward,
)

SEED = 20240101


def generate_orders(count: int, seed: int = SEED) -> pl.DataFrame:
    """Build `count` realistic orders: seasonal, growing over time, regional and product mix."""
    rng = np.random.default_rng(seed)
    days = (LAST_DAY - FIRST_DAY).days + 1
    day_index = np.arange(days)
    # Growth over the two years, a December peak and a weekly rhythm.
    weights = (
        (1.0 + 0.35 * day_index / days)
        * (1.0 + 0.25 * np.cos(2 * np.pi * (day_index - 340) / 365.25))
        * np.where((day_index + FIRST_DAY.weekday()) % 7 >= 5, 0.8, 1.05)
    )
    day_offsets = rng.choice(days, size=count, p=weights / weights.sum())
    region_names = list(REGIONS)
    regions = rng.choice(len(region_names), size=count, p=list(REGIONS.values()))
    product_names = list(PRODUCTS)
    popularity = np.array([p for _, p in PRODUCTS.values()])
    products = rng.choice(len(product_names), size=count, p=popularity / popularity.sum())
    list_prices = np.array([price for price, _ in PRODUCTS.values()])[products]
    discounts = rng.choice([0.0, 0.05, 0.10, 0.20], size=count, p=[0.6, 0.2, 0.15, 0.05])
    units = np.minimum(rng.geometric(0.55, size=count), 12)
    unit_prices = np.round(list_prices * (1 - discounts), 2)
    return pl.DataFrame(
        {
            "order_id": np.arange(1, count + 1, dtype=np.int64),
            "order_date": np.datetime64(FIRST_DAY, "D") + day_offsets,
            "region": np.array(region_names)[regions],
            "product": np.array(product_names)[products],
            "units": units.astype(np.int32),
            "unit_price": unit_prices,
            "revenue": np.round(units * unit_prices, 2),
        }
    )


def demo_data_path(directory: Path, count: int) -> Path:
    """The demo data file, generated on first use. Safe when two workers race to make it."""
    path = Path(directory) / f"orders-v1-{count}.parquet"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = generate_orders(count)
    # Write aside and rename: a reader never sees half a file, and the data is deterministic, so
    # if two processes both generate it the second rename replaces identical bytes.
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        frame.write_parquet(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def summarise(orders: pl.LazyFrame, query: SalesQuery, progress: Progress = ignore) -> SalesSummary:
    """Totals of the orders in the query's date range, grouped as it asks, largest first."""
    progress(10, "Selecting orders in the date range")
    in_range = orders.filter(pl.col("order_date").is_between(query.date_from, query.date_to))
    if query.group_by == "month":
        key = pl.col("order_date").dt.truncate("1mo").dt.strftime("%Y-%m").alias("group")
    else:
        key = pl.col(query.group_by).alias("group")
    progress(30, f"Totalling by {GROUP_BY[query.group_by].lower()}")
    grouped = (
        in_range.group_by(key)
        .agg(
            pl.len().alias("orders"),
            pl.col("units").sum().alias("units"),
            pl.col("revenue").sum().alias("revenue"),
        )
        .with_columns((pl.col("revenue") / pl.col("orders")).alias("average_order_value"))
        .collect()
    )
    progress(80, "Ranking the groups")
    if query.group_by == "month":
        grouped = grouped.sort("group")
    else:
        grouped = grouped.sort([query.metric, "group"], descending=[True, False])
    orders_total = int(grouped["orders"].sum() or 0)
    units_total = int(grouped["units"].sum() or 0)
    revenue_total = float(grouped["revenue"].sum() or 0.0)
    metric_total = {"orders": orders_total, "units": units_total, "revenue": revenue_total}.get(query.metric)
    rows = [
        SalesRow(
            group=record["group"],
            orders=int(record["orders"]),
            units=int(record["units"]),
            revenue=round(float(record["revenue"]), 2),
            average_order_value=round(float(record["average_order_value"]), 2),
            share=round(100.0 * record[query.metric] / metric_total, 1) if metric_total else 0.0,
        )
        for record in grouped.iter_rows(named=True)
    ]
    progress(100, "Summary ready")
    return SalesSummary(query, rows, orders_total, units_total, revenue_total)


def load_orders(path: Path, last_day: date = LAST_DAY) -> pl.LazyFrame:
    """The demo orders of a shop whose last day of orders is `last_day`: the generated calendar
    moved forward whole years (sales_query.years_forward) and cut at that day."""
    orders = pl.scan_parquet(path)
    if years := years_forward(last_day):
        orders = orders.with_columns(pl.col("order_date").dt.offset_by(f"{years}y"))
    return orders.filter(pl.col("order_date") <= last_day)
