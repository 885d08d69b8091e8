"""The report kinds Offload offers: their form, how a job is described, and what a worker runs.

The web process imports this module; what a worker runs is named by dotted path (see `runs`),
so the web process never loads the data libraries.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms as django_forms
from django.http import Http404
from django.template.defaultfilters import filesizeformat
from django.utils.module_loading import import_string

from . import forms, sales_query
from .models import Job
from .progress import Progress


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


def worker_function(dotted_path: str) -> Callable[[Job, Progress], dict]:
    """The function at `dotted_path`, imported on its first call: in a worker, not the web process."""

    def run(job: Job, progress: Progress) -> dict:
        return import_string(dotted_path)(job, progress)

    run.__qualname__ = run.__name__ = dotted_path
    return run


def sales_subtitle(query: sales_query.SalesQuery) -> str:
    return (
        f"{sales_query.METRICS[query.metric]} by {sales_query.GROUP_BY[query.group_by].lower()}, "
        f"{query.date_from:%-d %b %Y} to {query.date_to:%-d %b %Y}"
    )


def describe_sales(params: dict) -> str:
    return sales_subtitle(sales_query.SalesQuery.from_params(params))


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


REPORTS = (
    ReportKind(
        kind=Job.Kind.SALES_SUMMARY,
        slug="sales-summary",
        title="Sales summary",
        description="Revenue, orders and units from the built-in demo shop (500,000 orders over two years), "
        "grouped by region, product or month.",
        form_class=forms.SalesSummaryForm,
        run=worker_function("reports.runs.run_sales_summary"),
        describe=describe_sales,
    ),
    ReportKind(
        kind=Job.Kind.CSV_PROFILE,
        slug="csv-profile",
        title="CSV profile",
        description="Upload a CSV file and get every column's type, missing values, distinct values, "
        "statistics, top values and a histogram.",
        form_class=forms.CsvProfileForm,
        run=worker_function("reports.runs.run_csv_profile"),
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
