"""The report kinds Offload offers: their form, and how a worker turns parameters into results.

Each `run_*` function is what the task calls: pure work (sales, profiling) plus storing the
downloads, reporting progress as it goes. It returns the result summary the page shows.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms as django_forms
from django.conf import settings
from django.http import Http404
from django.template.defaultfilters import filesizeformat

from . import charts, exports, forms, profiling, sales
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


@dataclass(frozen=True)
class ReportKind:
    kind: str
    slug: str
    title: str
    description: str
    form_class: type[django_forms.Form]
    describe: Callable[[dict], str]
    # What a report worker runs; None for kinds with tasks of their own (image batches).
    run: Callable[[Job, Progress], dict] | None = None
    takes_upload: bool = False


def save_table_downloads(job: Job, stem: str, title: str, subtitle: str, header, rows, progress: Progress) -> None:
    progress(0, "Writing the CSV download")
    save_artifact(job, f"{stem}.csv", "CSV", CSV, exports.to_csv(header, rows))
    progress(30, "Writing the Excel download")
    save_artifact(job, f"{stem}.xlsx", "Excel (XLSX)", XLSX, exports.to_xlsx(header, rows, sheet=title))
    progress(60, "Writing the PDF download")
    save_artifact(job, f"{stem}.pdf", "PDF", PDF, exports.to_pdf(title, subtitle, header, rows))


def sales_subtitle(query: sales.SalesQuery) -> str:
    return (
        f"{sales.METRICS[query.metric]} by {sales.GROUP_BY[query.group_by].lower()}, "
        f"{query.date_from:%-d %b %Y} to {query.date_to:%-d %b %Y}"
    )


def describe_sales(params: dict) -> str:
    return sales_subtitle(sales.SalesQuery.from_params(params))


def describe_profile(params: dict) -> str:
    return f"{params.get('source_name', 'uploaded file')} ({filesizeformat(params.get('source_size', 0))})"


def describe_images(params: dict) -> str:
    options = params.get("options", {})
    steps = []
    if options.get("max_width") or options.get("max_height"):
        steps.append(f"fit {options.get('max_width') or 'any'}×{options.get('max_height') or 'any'}")
    if options.get("output_format"):
        steps.append(f"to {options['output_format']}")
    if options.get("grayscale"):
        steps.append("grayscale")
    if options.get("watermark"):
        steps.append("watermarked")
    count = params.get("count", 0)
    return f"{count} image{'s' if count != 1 else ''}" + (f": {', '.join(steps)}" if steps else "")


def sales_table(summary: sales.SalesSummary) -> tuple[list[str], list[list]]:
    """The header and rows of a sales summary's downloads (CSV, XLSX, PDF)."""
    query = summary.query
    group_label, metric_label = sales.GROUP_BY[query.group_by], sales.METRICS[query.metric]
    header = [group_label, "Orders", "Units", "Revenue", "Average order value", f"Share of {metric_label.lower()} (%)"]
    rows = [[r.group, r.orders, r.units, r.revenue, r.average_order_value, r.share] for r in summary.rows]
    if query.metric == "average_order_value":  # a share of an average means nothing
        header, rows = header[:-1], [row[:-1] for row in rows]
    return header, rows


def run_sales_summary(job: Job, progress: Progress) -> dict:
    query = sales.SalesQuery.from_params(job.params)
    progress(1, "Preparing the demo order data (generated on first use)")
    path = sales.demo_data_path(settings.OFFLOAD_DEMO_DATA_DIR, settings.OFFLOAD_DEMO_ORDERS)
    summary = sales.summarise(sales.load_orders(path), query, scaled(progress, 10, 45))
    group_label, metric_label = sales.GROUP_BY[query.group_by], sales.METRICS[query.metric]
    progress(50, "Drawing the chart")
    chart = charts.bar_chart_svg(
        [row.group for row in summary.rows],
        [row.value(query.metric) for row in summary.rows],
        f"{metric_label} by {group_label.lower()}",
        chronological=query.group_by == "month",
    )
    save_artifact(job, "chart.svg", "Chart (SVG)", SVG, chart)
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


REPORTS = (
    ReportKind(
        kind=Job.Kind.SALES_SUMMARY,
        slug="sales-summary",
        title="Sales summary",
        description="Revenue, orders and units from the built-in demo shop (500,000 orders over two years), "
        "grouped by region, product or month.",
        form_class=forms.SalesSummaryForm,
        run=run_sales_summary,
        describe=describe_sales,
    ),
    ReportKind(
        kind=Job.Kind.CSV_PROFILE,
        slug="csv-profile",
        title="CSV profile",
        description="Upload a CSV file and get every column's type, missing values, distinct values, "
        "statistics, top values and a histogram.",
        form_class=forms.CsvProfileForm,
        run=run_csv_profile,
        describe=describe_profile,
        takes_upload=True,
    ),
    ReportKind(
        kind=Job.Kind.IMAGE_BATCH,
        slug="images",
        title="Images",
        description="Upload a batch of photos and resize, convert, watermark or strip their metadata; "
        "watch each one finish and download them all as a ZIP.",
        form_class=forms.ImageBatchForm,
        describe=describe_images,
        takes_upload=True,
    ),
)
BY_KIND = {report.kind: report for report in REPORTS}
BY_SLUG = {report.slug: report for report in REPORTS}


def report_for_slug(slug: str) -> ReportKind:
    try:
        return BY_SLUG[slug]
    except KeyError:
        raise Http404("No such report.") from None
