"""The CSV profile: every column of an uploaded CSV file described."""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from reports import kinds
from reports.forms import ReportForm
from reports.work import csv_sample


class CsvProfileForm(ReportForm):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8 text with a header row; up to {filesizeformat(settings.OFFLOAD_MAX_UPLOAD_MB * 2**20)} "
        f"and {settings.OFFLOAD_MAX_CSV_COLUMNS:,} columns.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.tsv,.txt,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.OFFLOAD_MAX_UPLOAD_MB * 1024 * 1024
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}."
            )
        upload.seek(0)
        sample = upload.read(csv_sample.SAMPLE_BYTES)
        upload.seek(0)
        try:
            self.layout = csv_sample.inspect_sample(sample, is_whole_file=len(sample) >= upload.size)
        except csv_sample.CsvProblem as problem:
            raise forms.ValidationError(str(problem)) from None
        if self.layout.columns > settings.OFFLOAD_MAX_CSV_COLUMNS:
            raise forms.ValidationError(
                f"The file has {self.layout.columns:,} columns; a profile takes up to "
                f"{settings.OFFLOAD_MAX_CSV_COLUMNS:,}. Keep the columns you want to see and upload it again."
            )
        return upload

    def job_inputs(self) -> dict:
        upload = self.cleaned_data["file"]
        params = {
            "source_name": upload.name[:200],
            "source_size": upload.size,
            "separator": self.layout.separator,
            "max_columns": settings.OFFLOAD_MAX_CSV_COLUMNS,
        }
        return {"params": params, "input_file": upload}


def describe(params: dict) -> str:
    return f"{params.get('source_name', 'uploaded file')} ({filesizeformat(params.get('source_size', 0))})"


CSV_PROFILE = kinds.register(
    kinds.JobKind(
        name="csv_profile",
        title="CSV profile",
        description="Upload a CSV file, even one larger than memory, and get every column's type, missing and "
        "distinct values, statistics, percentiles, common values, a histogram and alerts, with duplicate rows "
        "and correlations.",
        form=CsvProfileForm,
        run="reports.work.runs.run_csv_profile",
        describe=describe,
        result_partial="reports/job_detail.html#profile-result",
        takes_upload=True,
    )
)
