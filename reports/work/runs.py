"""What a worker runs for the built-in report kinds: the work (sales, profiling) plus storing
downloads.

Each `run_*` function is a kind's `run` (reports/kinds.py): given the job's parameters, a
progress callback and the job's files, it returns the result summary the page shows. The kinds
name these by dotted path, so the data libraries they load (polars, NumPy, matplotlib, fpdf2)
live in worker processes only.
"""

from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from reports.engine.problems import InputProblem
from reports.engine.progress import Progress, scaled
from reports.work import charts, demo_shop, exports, numbers, profiling, sales, sales_query
from reports.work.sales_query import subtitle as sales_subtitle

if TYPE_CHECKING:
    from reports.engine.jobs import JobFiles

CSV, XLSX, PDF, SVG = (
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/pdf",
    "image/svg+xml",
)


def save_table_downloads(
    files: "JobFiles", stem: str, title: str, subtitle: str, header, rows, progress: Progress, readable: bool = False
) -> None:
    """`readable`: figures of any size, shown as the page shows them (exports.format_cell), and
    in the PDF a table of many figures turned on its side (five rows across a page)."""
    progress(0, "Writing the CSV download")
    files.save(f"{stem}.csv", "CSV", CSV, exports.to_csv(header, rows))
    progress(30, "Writing the Excel download")
    files.save(f"{stem}.xlsx", "Excel (XLSX)", XLSX, exports.to_xlsx(header, rows, sheet=title, readable=readable))
    progress(60, "Writing the PDF download")
    pdf = exports.to_pdf(title, subtitle, header, rows, readable=readable, sideways=5 if readable else 0)
    files.save(f"{stem}.pdf", "PDF", PDF, pdf)


def sales_table(summary: sales_query.SalesSummary) -> tuple[list[str], list[list]]:
    """The header and rows of a sales summary's downloads (CSV, XLSX, PDF)."""
    query = summary.query
    group_label, metric_label = sales_query.GROUP_BY[query.group_by], sales_query.METRICS[query.metric]
    header = [group_label, "Orders", "Units", "Revenue", "Average order value", f"Share of {metric_label.lower()} (%)"]
    rows = [[r.group, r.orders, r.units, r.revenue, r.average_order_value, r.share] for r in summary.rows]
    if query.metric == "average_order_value":  # a share of an average means nothing
        header, rows = header[:-1], [row[:-1] for row in rows]
    return header, rows


def run_sales_summary(params: dict, progress: Progress, files: "JobFiles") -> dict:
    query = sales_query.SalesQuery.from_params(params)
    last_day = demo_shop.last_day()
    first, _ = sales_query.day_range(last_day)
    if query.date_to < first or query.date_from > last_day:
        # Its calendar moves forward a year at New Year: a Run again of an older job can fall out.
        raise InputProblem(
            f"The demo data now covers {first:%-d %b %Y} to {last_day:%-d %b %Y}, and these dates are no longer in it: "
            "pick dates in that range, or a period such as the last 30 days."
        )
    progress(1, "Preparing the demo order data (generated on first use)")
    path = sales.demo_data_path(settings.OFFLOAD_DEMO_DATA_DIR, settings.OFFLOAD_DEMO_ORDERS)
    summary = sales.summarise(sales.load_orders(path, last_day), query, scaled(progress, 10, 45))
    group_label, metric_label = sales_query.GROUP_BY[query.group_by], sales_query.METRICS[query.metric]
    progress(50, "Drawing the chart")
    chart = charts.bar_chart_svg(
        [row.group for row in summary.rows],
        [row.value(query.metric) for row in summary.rows],
        f"{metric_label} by {group_label.lower()}",
        chronological=query.group_by == "month",
        average=query.metric == "average_order_value",
        value_format=charts.money if query.metric in ("revenue", "average_order_value") else charts.compact_number,
    )
    files.save("chart.svg", "Chart (SVG)", SVG, chart)
    header, rows = sales_table(summary)
    save_table_downloads(
        files, "sales-summary", "Sales summary", sales_subtitle(query), header, rows, scaled(progress, 60, 99)
    )
    return {
        **summary.as_result(),
        "subtitle": sales_subtitle(query),
        "group_label": group_label,
        "metric": query.metric,
        "metric_label": metric_label,
        "shows_share": query.metric != "average_order_value",
    }


PROFILE_HEADER = [
    "Column", "Type", "Count", "Missing", "Missing %", "Distinct", "Distinct %", "Zeros", "Negatives", "Infinite",
    "Min", "Max", "Range", "Sum", "Mean", "Std dev", "Variance", "Coefficient of variation", "Skewness", "Kurtosis",
    "5th percentile", "25th percentile", "Median", "75th percentile", "95th percentile", "Interquartile range",
    "Median absolute deviation", "Monotonic", "Earliest", "Latest", "Shortest", "Mean length", "Median length",
    "Longest", "Most common", "Alerts",
]  # fmt: skip


def profile_rows(columns: list[dict]) -> list[list]:
    """One row per column, each figure as the page shows it (rounded the same: numbers.significant)."""

    def figure(value):
        return numbers.significant(value) if isinstance(value, float) else value

    def common(column: dict) -> str:
        about = "" if column.get("top_exact", True) else "about "
        return "; ".join(
            f"{value} ({about}{numbers.format_number(count)})" for value, count, *_ in column.get("top", [])
        )

    return [
        [figure(value) for value in (
            c["name"], c["type"], c["count"], c["missing"], c["missing_pct"], c["distinct"], c["distinct_pct"],
            c.get("zeros"), c.get("negatives"), c.get("infinite"), c.get("min"), c.get("max"), c.get("range"),
            c.get("sum"), c.get("mean"), c.get("std"), c.get("variance"), c.get("cv"), c.get("skewness"),
            c.get("kurtosis"), c.get("p05"), c.get("p25"), c.get("median"), c.get("p75"), c.get("p95"), c.get("iqr"),
            c.get("mad"), c.get("monotonic"), c.get("earliest"), c.get("latest"),
            *(c.get("length", {}).get(key) for key in ("min", "mean", "median", "max")),
        )] + [common(c), "; ".join(alert["text"] for alert in c.get("alerts", []))]
        for c in columns
    ]  # fmt: skip


def run_csv_profile(params: dict, progress: Progress, files: "JobFiles") -> dict:
    with files.input() as path:
        # The rows' hashes spill beside the input's local copy: a disk that has room for the file.
        result = profiling.profile_file(
            path, params.get("separator", ","), scaled(progress, 0, 85),
            max_columns=params.get("max_columns"), scratch=Path(path).parent,
        )  # fmt: skip
    subtitle = f"{params.get('source_name', 'upload')}: {result['rows']:,} rows, {len(result['columns'])} columns"
    save_table_downloads(
        files,
        "csv-profile",
        "CSV profile",
        subtitle,
        PROFILE_HEADER,
        profile_rows(result["columns"]),
        scaled(progress, 85, 99),
        readable=True,
    )
    return {**result, "subtitle": subtitle}
