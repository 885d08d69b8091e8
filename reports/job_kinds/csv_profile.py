"""The CSV profile: every column of an uploaded CSV file described."""

from django.template.defaultfilters import filesizeformat

from reports import kinds
from reports.forms import CsvProfileForm


def describe(params: dict) -> str:
    return f"{params.get('source_name', 'uploaded file')} ({filesizeformat(params.get('source_size', 0))})"


CSV_PROFILE = kinds.register(
    kinds.JobKind(
        name="csv_profile",
        title="CSV profile",
        description="Upload a CSV file and get every column's type, missing values, distinct values, "
        "statistics, top values and a histogram.",
        form=CsvProfileForm,
        run="reports.work.runs.run_csv_profile",
        describe=describe,
        result_partial="reports/job_detail.html#profile-result",
        takes_upload=True,
    )
)
