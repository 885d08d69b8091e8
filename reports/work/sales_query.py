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
# A period relative to the day a job is made: what a schedule asks for, so each run covers new
# days. Each ends yesterday (whole days only) or with the last whole month.
PERIODS = {
    "dates": "The dates below",
    "last_7_days": "The last 7 days",
    "last_30_days": "The last 30 days",
    "last_month": "Last month",
    "last_12_months": "The last 12 months",
}
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
    period: str = "dates"  # the relative period these dates were worked out from, if any

    def __post_init__(self):
        if self.period not in PERIODS:
            raise ValueError(f"Unknown period {self.period!r}.")
        if self.group_by not in GROUP_BY:
            raise ValueError(f"Unknown grouping {self.group_by!r}.")
        if self.metric not in METRICS:
            raise ValueError(f"Unknown metric {self.metric!r}.")
        if self.date_from > self.date_to:
            raise ValueError("The start date is after the end date.")

    def as_params(self) -> dict:
        params = {
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "group_by": self.group_by,
            "metric": self.metric,
        }
        return params | ({"period": self.period} if self.period != "dates" else {})

    @classmethod
    def from_params(cls, params: dict) -> "SalesQuery":
        return cls(
            date_from=date.fromisoformat(params["date_from"]),
            date_to=date.fromisoformat(params["date_to"]),
            group_by=params["group_by"],
            metric=params["metric"],
            period=params.get("period", "dates"),
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


def years_forward(last_day: date) -> int:
    """How many whole years the generated orders move forward for a shop whose orders end on
    `last_day`: whole years keep December's peak in December."""
    return last_day.year - LAST_DAY.year


def day_range(last_day: date = LAST_DAY) -> tuple[date, date]:
    """The days with orders when the shop's last day is `last_day`: between one and two years."""
    return FIRST_DAY.replace(year=FIRST_DAY.year + years_forward(last_day)), last_day


def default_query(last_day: date = LAST_DAY) -> SalesQuery:
    return SalesQuery(last_day - timedelta(days=364), last_day, "region", "revenue")


def period_dates(period: str, today: date) -> tuple[date, date]:
    """The first and last day of a relative period for a job made on `today`."""
    yesterday = today - timedelta(days=1)
    first_of_month = today.replace(day=1)
    if period == "last_7_days":
        return today - timedelta(days=7), yesterday
    if period == "last_30_days":
        return today - timedelta(days=30), yesterday
    if period == "last_month":
        end = first_of_month - timedelta(days=1)
        return end.replace(day=1), end
    if period == "last_12_months":
        start = first_of_month.replace(year=first_of_month.year - 1)
        return start, first_of_month - timedelta(days=1)
    raise ValueError(f"{period!r} is not a relative period.")


def for_day(params: dict, today: date) -> dict:
    """A sales summary's parameters for a job made on `today`: a relative period's dates worked
    out (fixed dates stay as they are)."""
    period = params.get("period", "dates")
    if period == "dates":
        return params
    date_from, date_to = period_dates(period, today)
    return params | {"date_from": date_from.isoformat(), "date_to": date_to.isoformat()}


def subtitle(query: SalesQuery) -> str:
    """What a sales summary is about, in a line: its metric, grouping, period and dates."""
    dates = f"{query.date_from:%-d %b %Y} to {query.date_to:%-d %b %Y}"
    what = f"{METRICS[query.metric]} by {GROUP_BY[query.group_by].lower()}"
    if query.period == "dates":
        return f"{what}, {dates}"
    return f"{what}, {PERIODS[query.period].lower()} ({dates})"


def describe(params: dict) -> str:
    """One line about a job's parameters, or a schedule's: a relative period has no dates until
    a run works them out."""
    if "date_from" in params:
        return subtitle(SalesQuery.from_params(params))
    return f"{METRICS[params['metric']]} by {GROUP_BY[params['group_by']].lower()}, {PERIODS[params['period']].lower()}"
