"""What a worker runs for each report kind: the work (sales, profiling) plus storing downloads.

Each `run_*` function is what the task calls, reporting progress as it goes; it returns the
result summary the page shows. The catalog names these by dotted path, so the data libraries
they load (polars, NumPy, matplotlib, fpdf2) live in worker processes only.
"""

from django.conf import settings

from . import charts, exports, profiling, sales, sales_query
from .catalog import sales_subtitle
from .files import local_path
from .jobs import save_artifact
from .models import Job
from .progress import Progress, scaled

CSV, XLSX, PDF, SVG = (
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/pdf",
    "image/svg+xml",
)


def save_table_downloads(job: Job, stem: str, title: str, subtitle: str, header, rows, progress: Progress) -> None:
    progress(0, "Writing the CSV download")
    save_artifact(job, f"{stem}.csv", "CSV", CSV, exports.to_csv(header, rows), attempt=job.attempt)
    progress(30, "Writing the Excel download")
    save_artifact(
        job, f"{stem}.xlsx", "Excel (XLSX)", XLSX, exports.to_xlsx(header, rows, sheet=title), attempt=job.attempt
    )
    progress(60, "Writing the PDF download")
    save_artifact(job, f"{stem}.pdf", "PDF", PDF, exports.to_pdf(title, subtitle, header, rows), attempt=job.attempt)


def sales_table(summary: sales_query.SalesSummary) -> tuple[list[str], list[list]]:
    """The header and rows of a sales summary's downloads (CSV, XLSX, PDF)."""
    query = summary.query
    group_label, metric_label = sales_query.GROUP_BY[query.group_by], sales_query.METRICS[query.metric]
    header = [group_label, "Orders", "Units", "Revenue", "Average order value", f"Share of {metric_label.lower()} (%)"]
    rows = [[r.group, r.orders, r.units, r.revenue, r.average_order_value, r.share] for r in summary.rows]
    if query.metric == "average_order_value":  # a share of an average means nothing
        header, rows = header[:-1], [row[:-1] for row in rows]
    return header, rows


def run_sales_summary(job: Job, progress: Progress) -> dict:
    query = sales_query.SalesQuery.from_params(job.params)
    progress(1, "Preparing the demo order data (generated on first use)")
    path = sales.demo_data_path(settings.OFFLOAD_DEMO_DATA_DIR, settings.OFFLOAD_DEMO_ORDERS)
    summary = sales.summarise(sales.load_orders(path), query, scaled(progress, 10, 45))
    group_label, metric_label = sales_query.GROUP_BY[query.group_by], sales_query.METRICS[query.metric]
    progress(50, "Drawing the chart")
    chart = charts.bar_chart_svg(
        [row.group for row in summary.rows],
        [row.value(query.metric) for row in summary.rows],
        f"{metric_label} by {group_label.lower()}",
        chronological=query.group_by == "month",
    )
    save_artifact(job, "chart.svg", "Chart (SVG)", SVG, chart, attempt=job.attempt)
    header, rows = sales_table(summary)
    save_table_downloads(
        job, "sales-summary", "Sales summary", sales_subtitle(query), header, rows, scaled(progress, 60, 99)
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
    "Column",
    "Type",
    "Count",
    "Missing",
    "Distinct",
    "Min",
    "Max",
    "Mean",
    "Median",
    "Std dev",
    "Earliest",
    "Latest",
    "Top values",
]


def profile_rows(columns: list[dict]) -> list[list]:
    return [
        [
            c["name"], c["type"], c["count"], c["missing"], c["distinct"],
            c.get("min"), c.get("max"), c.get("mean"), c.get("median"), c.get("std"),
            c.get("earliest"), c.get("latest"),
            "; ".join(f"{value} ({count:,})" for value, count in c.get("top", [])),
        ]
        for c in columns
    ]  # fmt: skip


def run_csv_profile(job: Job, progress: Progress) -> dict:
    with local_path(job.input_file) as path:
        frame = profiling.load(path, job.params.get("separator", ","), scaled(progress, 0, 70))
    result = profiling.profile(frame, scaled(progress, 70, 85))
    del frame
    subtitle = f"{job.params.get('source_name', 'upload')}: {result['rows']:,} rows, {len(result['columns'])} columns"
    save_table_downloads(
        job,
        "csv-profile",
        "CSV profile",
        subtitle,
        PROFILE_HEADER,
        profile_rows(result["columns"]),
        scaled(progress, 85, 99),
    )
    return {**result, "subtitle": subtitle}
