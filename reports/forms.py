"""The report forms: they turn a request into validated job parameters and clear messages."""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat

from . import profiling, sales


class ReportForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class SalesSummaryForm(ReportForm):
    date_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    group_by = forms.ChoiceField(label="Group by", choices=sales.GROUP_BY.items(), initial="region")
    metric = forms.ChoiceField(label="Metric", choices=sales.METRICS.items(), initial="revenue")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        first, last = sales.day_range()
        default = sales.default_query()
        for name in ("date_from", "date_to"):
            self.fields[name].widget.attrs.update(min=first.isoformat(), max=last.isoformat())
        self.fields["date_from"].initial = default.date_from
        self.fields["date_to"].initial = default.date_to

    def clean(self):
        cleaned = super().clean()
        first, last = sales.day_range()
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to:
            if date_from > date_to:
                self.add_error("date_to", "The end date is before the start date.")
            elif date_to < first or date_from > last:
                self.add_error(
                    "date_from",
                    f"The demo data covers {first:%-d %b %Y} to {last:%-d %b %Y}; pick dates in that range.",
                )
        return cleaned

    def job_params(self) -> dict:
        data = self.cleaned_data
        return sales.SalesQuery(data["date_from"], data["date_to"], data["group_by"], data["metric"]).as_params()


class CsvProfileForm(ReportForm):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8 text with a header row; up to {settings.OFFLOAD_MAX_UPLOAD_MB} MB.",
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
        sample = upload.read(profiling.SAMPLE_BYTES)
        upload.seek(0)
        try:
            self.layout = profiling.inspect_sample(sample, is_whole_file=len(sample) >= upload.size)
        except profiling.CsvProblem as problem:
            raise forms.ValidationError(str(problem)) from None
        return upload

    def job_params(self) -> dict:
        upload = self.cleaned_data["file"]
        return {
            "source_name": upload.name[:200],
            "source_size": upload.size,
            "separator": self.layout.separator,
        }
