"""The report forms: they turn a request into validated job parameters and clear messages."""

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.http import urlencode

from . import batches, imaging, profiling, sales
from .models import Job


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

    def job_inputs(self) -> dict:
        data = self.cleaned_data
        query = sales.SalesQuery(data["date_from"], data["date_to"], data["group_by"], data["metric"])
        return {"params": query.as_params()}


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

    def job_inputs(self) -> dict:
        upload = self.cleaned_data["file"]
        params = {"source_name": upload.name[:200], "source_size": upload.size, "separator": self.layout.separator}
        return {"params": params, "input_file": upload}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one <input type=file multiple> (Django's documented pattern)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, (list, tuple)) else [data] if data else []
        if not files and self.required:
            raise forms.ValidationError(self.error_messages["required"], code="required")
        return [super(MultipleFileField, self).clean(upload, initial) for upload in files]


THUMBNAIL_SIZES = [(128, "128 px"), (256, "256 px"), (512, "512 px"), (1024, "1024 px")]
FORMAT_CHOICES = [("", "Keep the original format"), ("JPEG", "JPEG"), ("PNG", "PNG"), ("WEBP", "WebP")] + (
    [("AVIF", "AVIF")] if imaging.avif_supported() else []
)


class ImageBatchForm(ReportForm):
    images = MultipleFileField(label="Images", allow_empty_file=True)
    max_width = forms.IntegerField(label="Fit within width (px)", required=False, min_value=16, max_value=10_000)
    max_height = forms.IntegerField(label="Fit within height (px)", required=False, min_value=16, max_value=10_000)
    thumbnail_sizes = forms.TypedMultipleChoiceField(
        label="Also make thumbnails", choices=THUMBNAIL_SIZES, coerce=int, required=False,
        widget=forms.CheckboxSelectMultiple,
    )  # fmt: skip
    output_format = forms.ChoiceField(label="Format", choices=FORMAT_CHOICES, required=False)
    quality = forms.IntegerField(label="Quality (1–100)", min_value=1, max_value=100, initial=85)
    grayscale = forms.BooleanField(label="Grayscale", required=False)
    watermark = forms.CharField(label="Watermark text", max_length=60, required=False, strip=True)
    strip_metadata = forms.BooleanField(
        label="Remove metadata (GPS, camera)", required=False, initial=True,
        help_text="Images are turned upright by their EXIF orientation first.",
    )  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["images"].help_text = (
            f"Up to {settings.OFFLOAD_MAX_IMAGES} files of {settings.OFFLOAD_MAX_IMAGE_MB} MB each: "
            "JPEG, PNG, GIF, WebP, AVIF, TIFF or BMP."
        )

    def clean_images(self):
        uploads = self.cleaned_data["images"]
        if len(uploads) > settings.OFFLOAD_MAX_IMAGES:
            raise forms.ValidationError(
                f"That is {len(uploads)} files; a batch takes at most {settings.OFFLOAD_MAX_IMAGES}."
            )
        limit = settings.OFFLOAD_MAX_IMAGE_MB * 1024 * 1024
        too_big = [upload for upload in uploads if upload.size > limit]
        if too_big:
            names = ", ".join(upload.name for upload in too_big[:3]) + ("…" if len(too_big) > 3 else "")
            raise forms.ValidationError(
                f"Larger than {filesizeformat(limit)}: {names}. Remove or shrink them and try again."
            )
        return uploads

    def job_inputs(self) -> dict:
        data = self.cleaned_data
        options = imaging.ImageOptions(
            max_width=data["max_width"],
            max_height=data["max_height"],
            thumbnail_sizes=tuple(sorted(data["thumbnail_sizes"])),
            output_format=data["output_format"],
            quality=data["quality"],
            grayscale=data["grayscale"],
            watermark=data["watermark"],
            strip_metadata=data["strip_metadata"],
        )
        uploads = data["images"]
        params = {"options": options.as_params(), "count": len(uploads), "bytes": sum(u.size for u in uploads)}
        return {"params": params, "add_inputs": lambda job: batches.add_items(job, uploads)}


class JobFilterForm(forms.Form):
    """The filters of the My jobs page; every field optional, bad values simply ignored."""

    kind = forms.ChoiceField(choices=[("", "All kinds"), *Job.Kind.choices], required=False)
    status = forms.ChoiceField(choices=[("", "Any status"), *Job.Status.choices], required=False)

    def filter(self, queryset):
        if not self.is_valid():
            return queryset
        if self.cleaned_data["kind"]:
            queryset = queryset.filter(kind=self.cleaned_data["kind"])
        if self.cleaned_data["status"]:
            queryset = queryset.filter(status=self.cleaned_data["status"])
        return queryset

    def query_string(self) -> str:
        """The filters as a query string, for page links."""
        if not self.is_valid():
            return ""
        return urlencode({key: value for key, value in self.cleaned_data.items() if value})
