from datetime import date

import polars as pl
import pytest

from reports.work import sales, sales_query


@pytest.fixture(scope="module")
def orders() -> pl.DataFrame:
    return sales.generate_orders(20_000)


def query(group_by="region", metric="revenue", date_from=date(2024, 1, 1), date_to=date(2025, 12, 31)):
    return sales.SalesQuery(date_from, date_to, group_by, metric)


def test_demo_data_is_the_same_every_time(orders):
    assert sales.generate_orders(20_000).equals(orders)


def test_demo_data_covers_two_years_of_every_region_and_product(orders):
    assert orders.height == 20_000
    assert orders["order_date"].min() >= sales.FIRST_DAY
    assert orders["order_date"].max() <= sales.LAST_DAY
    assert set(orders["region"].unique()) == set(sales.REGIONS)
    assert set(orders["product"].unique()) == set(sales.PRODUCTS)
    assert (orders["revenue"] > 0).all()


def test_demo_data_file_is_generated_once_and_reused(tmp_path):
    path = sales.demo_data_path(tmp_path, 1_000)
    first_write = path.stat().st_mtime_ns
    assert sales.demo_data_path(tmp_path, 1_000) == path
    assert path.stat().st_mtime_ns == first_write
    assert pl.read_parquet(path).height == 1_000
    assert not list(tmp_path.glob("*.tmp"))


def test_totals_by_region_add_up_to_the_whole(orders):
    summary = sales.summarise(orders.lazy(), query())
    assert summary.orders == orders.height
    assert summary.revenue == pytest.approx(orders["revenue"].sum())
    assert sum(row.orders for row in summary.rows) == orders.height
    assert sum(row.share for row in summary.rows) == pytest.approx(100, abs=0.5)
    revenues = [row.revenue for row in summary.rows]
    assert revenues == sorted(revenues, reverse=True)


def test_date_range_limits_the_orders_counted(orders):
    january = query(date_from=date(2025, 1, 1), date_to=date(2025, 1, 31))
    summary = sales.summarise(orders.lazy(), january)
    expected = orders.filter(pl.col("order_date").is_between(date(2025, 1, 1), date(2025, 1, 31)))
    assert summary.orders == expected.height
    assert summary.units == expected["units"].sum()


def test_month_grouping_is_chronological(orders):
    summary = sales.summarise(orders.lazy(), query(group_by="month", metric="units"))
    months = [row.group for row in summary.rows]
    assert months == sorted(months)
    assert months[0] == "2024-01" and months[-1] == "2025-12" and len(months) == 24


def test_average_order_value_is_revenue_over_orders(orders):
    summary = sales.summarise(orders.lazy(), query(group_by="product", metric="average_order_value"))
    for row in summary.rows:
        assert row.average_order_value == pytest.approx(row.revenue / row.orders, abs=0.01)


def test_a_range_with_no_orders_gives_an_empty_summary(orders):
    summary = sales.summarise(orders.lazy(), query(date_from=date(2030, 1, 1), date_to=date(2030, 2, 1)))
    assert summary.rows == [] and summary.orders == 0 and summary.average_order_value == 0


def test_progress_is_reported_in_order(orders):
    seen = []
    sales.summarise(orders.lazy(), query(), lambda percent, step="": seen.append(percent))
    assert seen == sorted(seen) and seen[-1] == 100


@pytest.mark.parametrize(
    "changes",
    [{"group_by": "colour"}, {"metric": "profit"}, {"date_from": date(2025, 2, 1), "date_to": date(2025, 1, 1)}],
)
def test_an_impossible_query_is_refused(changes):
    with pytest.raises(ValueError):
        query(**changes)


def test_query_survives_a_round_trip_through_job_params():
    original = query(group_by="month", metric="orders")
    assert sales.SalesQuery.from_params(original.as_params()) == original


# --- Periods relative to the day a job is made, on a calendar that moves ------------------------


@pytest.mark.parametrize(
    ("period", "today", "first", "last"),
    [
        ("last_7_days", date(2027, 3, 15), date(2027, 3, 8), date(2027, 3, 14)),
        ("last_30_days", date(2027, 3, 1), date(2027, 1, 30), date(2027, 2, 28)),
        ("last_month", date(2027, 3, 15), date(2027, 2, 1), date(2027, 2, 28)),
        ("last_month", date(2027, 1, 1), date(2026, 12, 1), date(2026, 12, 31)),
        ("last_12_months", date(2027, 3, 15), date(2026, 3, 1), date(2027, 2, 28)),
    ],
)
def test_a_relative_period_ends_with_the_last_whole_day_or_month(period, today, first, last):
    assert sales_query.period_dates(period, today) == (first, last)
    params = sales_query.for_day({"period": period, "group_by": "region", "metric": "orders"}, today)
    assert (params["date_from"], params["date_to"]) == (first.isoformat(), last.isoformat())


def test_fixed_dates_are_the_same_on_any_day():
    params = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}
    assert sales_query.for_day(params, date(2031, 7, 1)) == params


def test_a_jobs_line_names_its_period_and_the_dates_it_covered():
    query = sales_query.SalesQuery(date(2027, 3, 8), date(2027, 3, 14), "region", "revenue", "last_7_days")
    assert sales_query.subtitle(query) == "Revenue by region, the last 7 days (8 Mar 2027 to 14 Mar 2027)"
    assert sales_query.SalesQuery.from_params(query.as_params()) == query
    schedule_params = {"period": "last_month", "group_by": "product", "metric": "units"}
    assert sales_query.describe(schedule_params) == "Units sold by product, last month"


@pytest.mark.parametrize("last_day", [date(2026, 12, 3), date(2027, 1, 1), date(2025, 6, 30)])
def test_the_demo_calendar_moves_whole_years_and_ends_on_its_last_day(tmp_path, last_day):
    path = sales.demo_data_path(tmp_path, 20_000)
    moved = sales.load_orders(path, last_day).collect()
    first, last = sales_query.day_range(last_day)
    assert moved["order_date"].min() == first and moved["order_date"].max() == last
    assert first.month == 1 and first.day == 1 and (last - first).days >= 180
    # December keeps its peak: the moved Decembers are the generated ones, order for order.
    years = sales_query.years_forward(last_day)
    original = sales.load_orders(path).collect()
    december = original.filter(pl.col("order_date").dt.month() == 12, pl.col("order_date").dt.year() == 2024)
    moved_december = moved.filter(pl.col("order_date").dt.month() == 12, pl.col("order_date").dt.year() == 2024 + years)
    if years >= 0 and date(2024 + years, 12, 31) <= last_day:
        assert moved_december["order_id"].to_list() == december["order_id"].to_list()
