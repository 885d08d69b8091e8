"""The sales summary: a deterministic demo order data set and its grouped totals (polars)."""

import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from .progress import Progress, ignore

FIRST_DAY = date(2024, 1, 1)
LAST_DAY = date(2025, 12, 31)
REGIONS = {
    "North America": 0.34,
    "Europe": 0.29,
    "Asia Pacific": 0.22,
    "Latin America": 0.09,
    "Middle East & Africa": 0.06,
}
PRODUCTS = {  # name: (list price, popularity)
    "Aurora Desk Lamp": (49.0, 0.16),
    "Breeze Tower Fan": (89.0, 0.10),
    "Cascade Water Bottle": (24.0, 0.19),
    "Drift Office Chair": (329.0, 0.05),
    "Ember Coffee Grinder": (119.0, 0.08),
    "Fjord Backpack": (79.0, 0.12),
    "Granite Standing Desk": (549.0, 0.03),
    "Harbor Headphones": (199.0, 0.09),
    "Ion Power Bank": (39.0, 0.13),
    "Juniper Notebook Set": (14.0, 0.05),
}
GROUP_BY = {"region": "Region", "product": "Product", "month": "Month"}
METRICS = {
    "revenue": "Revenue",
    "orders": "Orders",
    "units": "Units sold",
    "average_order_value": "Average order value",
}
SEED = 20240101


@dataclass(frozen=True)
class SalesQuery:
    date_from: date
    date_to: date
    group_by: str
    metric: str

    def __post_init__(self):
        if self.group_by not in GROUP_BY:
            raise ValueError(f"Unknown grouping {self.group_by!r}.")
        if self.metric not in METRICS:
            raise ValueError(f"Unknown metric {self.metric!r}.")
        if self.date_from > self.date_to:
            raise ValueError("The start date is after the end date.")

    def as_params(self) -> dict:
        return {
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "group_by": self.group_by,
            "metric": self.metric,
        }

    @classmethod
    def from_params(cls, params: dict) -> "SalesQuery":
        return cls(
            date_from=date.fromisoformat(params["date_from"]),
            date_to=date.fromisoformat(params["date_to"]),
            group_by=params["group_by"],
            metric=params["metric"],
        )


@dataclass
class SalesRow:
    group: str
    orders: int
    units: int
    revenue: float
    average_order_value: float
    share: float  # of the chosen metric's total, in percent (None-like 0 for averages)

    def value(self, metric: str) -> float:
        return getattr(self, metric)


@dataclass
class SalesSummary:
    query: SalesQuery
    rows: list[SalesRow]
    orders: int
    units: int
    revenue: float

    @property
    def average_order_value(self) -> float:
        return self.revenue / self.orders if self.orders else 0.0

    def as_result(self) -> dict:
        return {
            "rows": [asdict(row) for row in self.rows],
            "totals": {
                "orders": self.orders,
                "units": self.units,
                "revenue": round(self.revenue, 2),
                "average_order_value": round(self.average_order_value, 2),
            },
        }


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


def load_orders(path: Path) -> pl.LazyFrame:
    return pl.scan_parquet(path)


def day_range() -> tuple[date, date]:
    return FIRST_DAY, LAST_DAY


def default_query() -> SalesQuery:
    return SalesQuery(LAST_DAY - timedelta(days=364), LAST_DAY, "region", "revenue")
