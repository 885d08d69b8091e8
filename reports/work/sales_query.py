"""What a sales summary asks for and what it answers: the query, its rows and totals.

Plain Python, no data libraries: the form and the page use these in the web process, which
never loads polars or NumPy (see `sales` for the work itself, which runs in a worker).
"""

from dataclasses import asdict, dataclass
from datetime import date, timedelta

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


def day_range() -> tuple[date, date]:
    return FIRST_DAY, LAST_DAY


def default_query() -> SalesQuery:
    return SalesQuery(LAST_DAY - timedelta(days=364), LAST_DAY, "region", "revenue")


def subtitle(query: SalesQuery) -> str:
    """What a sales summary is about, in a line: its metric, grouping and dates."""
    return (
        f"{METRICS[query.metric]} by {GROUP_BY[query.group_by].lower()}, "
        f"{query.date_from:%-d %b %Y} to {query.date_to:%-d %b %Y}"
    )
