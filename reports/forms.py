"""The report forms: they turn a request into validated job parameters and clear messages."""

import zoneinfo
from datetime import date, time
from decimal import Decimal
from functools import cache

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.template.defaultfilters import filesizeformat
from django.utils.http import urlencode

from reports import kinds
from reports.engine import schedules
from reports.models import BulkAction, Job, ReportSchedule
from reports.operations import bulk
from reports.work import batches, csv_sample, imaging, sales_query


class ReportForm(forms.Form):
    """The base of every kind's form (reports/kinds.py): "email me" for every kind, and the job's
    parameters from the cleaned fields (override `job_inputs` to shape them, or to add an upload)."""

    notify_by_email = forms.BooleanField(label="Email me when it has finished", required=False)

    def __init__(self, *args, user=None, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        # Declared here for every kind, shown last.
        self.fields["notify_by_email"] = self.fields.pop("notify_by_email")
        email = getattr(user, "email", "")
        self.fields["notify_by_email"].help_text = (
            f"Sent to {email}." if email else "Your account has no email address, so none can be sent."
        )
        if not email:
            self.fields["notify_by_email"].disabled = True

    def job_fields(self) -> dict:
        """Everything create_job needs: the kind's own inputs plus the choices every kind has."""
        return {**self.job_inputs(), "notify_by_email": self.cleaned_data.get("notify_by_email", False)}

    def job_inputs(self) -> dict:
        """The job's parameters (stored as JSON, given to the worker's function): by default every
        cleaned field but "email me", as JSON can hold them: dates and times as ISO text, decimals
        as text (exact), a chosen row as its primary key. An upload goes as `input_file`."""
        params = {}
        for name, value in self.cleaned_data.items():
            if name == "notify_by_email":
                continue
            if isinstance(value, (date, time)):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, Model):
                value = value.pk
            params[name] = value
        return {"params": params}


class SalesSummaryForm(ReportForm):
    date_from = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    group_by = forms.ChoiceField(label="Group by", choices=sales_query.GROUP_BY.items(), initial="region")
    metric = forms.ChoiceField(label="Metric", choices=sales_query.METRICS.items(), initial="revenue")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        first, last = sales_query.day_range()
        default = sales_query.default_query()
        for name in ("date_from", "date_to"):
            self.fields[name].widget.attrs.update(min=first.isoformat(), max=last.isoformat())
        self.fields["date_from"].initial = default.date_from
        self.fields["date_to"].initial = default.date_to

    def clean(self):
        cleaned = super().clean()
        first, last = sales_query.day_range()
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
        query = sales_query.SalesQuery(data["date_from"], data["date_to"], data["group_by"], data["metric"])
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
        sample = upload.read(csv_sample.SAMPLE_BYTES)
        upload.seek(0)
        try:
            self.layout = csv_sample.inspect_sample(sample, is_whole_file=len(sample) >= upload.size)
        except csv_sample.CsvProblem as problem:
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

    kind = forms.ChoiceField(choices=lambda: [("", "All kinds"), *kinds.choices()], required=False)
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


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    names = sorted(zone for zone in zoneinfo.available_timezones() if "/" in zone or zone == "UTC")
    return [(name, name.replace("_", " ")) for name in names]


class ScheduleTiming(forms.Form):
    """When a schedule runs, and its name: joined to a kind's own form by `schedule_form_for`.
    Fields that do not apply to the chosen frequency are hidden by CSS (:has) and ignored here."""

    name = forms.CharField(label="Name", max_length=100, help_text="Shown in your list of schedules.")
    frequency = forms.ChoiceField(
        label="Run", choices=ReportSchedule.Frequency.choices, initial=ReportSchedule.Frequency.DAILY,
        widget=forms.RadioSelect,
    )  # fmt: skip
    time_of_day = forms.TimeField(
        label="At", required=False, initial="07:00", widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    weekday = forms.TypedChoiceField(
        label="On", choices=list(enumerate(schedules.WEEKDAYS)), coerce=int, required=False, initial=1
    )
    crontab_expression = forms.CharField(
        label="Crontab", required=False, max_length=100,
        help_text="minute hour day-of-month month day-of-week, e.g. “30 6 * * 1-5” for 06:30 on weekdays.",
    )  # fmt: skip
    time_zone = forms.ChoiceField(label="Time zone", choices=time_zone_choices)

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["notify_by_email"].label = "Email me each time it has run"

    def clean(self):
        cleaned = super().clean()
        frequency = cleaned.get("frequency")
        if frequency in (ReportSchedule.Frequency.DAILY, ReportSchedule.Frequency.WEEKLY):
            if cleaned.get("time_of_day") is None and "time_of_day" not in self.errors:
                self.add_error("time_of_day", "Pick the time of day it should run.")
            if frequency == ReportSchedule.Frequency.WEEKLY and cleaned.get("weekday") in (None, ""):
                self.add_error("weekday", "Pick the day of the week.")
        elif frequency == ReportSchedule.Frequency.CRONTAB:
            expression = " ".join(cleaned.get("crontab_expression", "").split())
            if not expression:
                self.add_error("crontab_expression", "Write the crontab, or pick daily or weekly.")
            else:
                try:
                    schedules.parse_crontab(expression)
                    cleaned["crontab_expression"] = expression
                except ValueError as problem:
                    self.add_error("crontab_expression", str(problem))
        return cleaned

    def job_inputs(self) -> dict:
        """The kind's own parameters, without the schedule's name and timing."""
        inputs = super().job_inputs()
        inputs["params"] = {key: value for key, value in inputs["params"].items()
                            if key not in ScheduleTiming.base_fields}  # fmt: skip
        return inputs

    def timing(self) -> schedules.Timing:
        data = self.cleaned_data
        frequency = data["frequency"]
        return schedules.Timing(
            frequency=frequency,
            time_zone=data["time_zone"],
            time_of_day=data["time_of_day"] if frequency != ReportSchedule.Frequency.CRONTAB else None,
            weekday=data["weekday"] if frequency == ReportSchedule.Frequency.WEEKLY else None,
            crontab_expression=data["crontab_expression"] if frequency == ReportSchedule.Frequency.CRONTAB else "",
        )

    @classmethod
    def initial_for(cls, schedule: ReportSchedule) -> dict:
        """The edit form filled from a saved schedule."""
        return {
            **schedule.params,
            "name": schedule.name,
            "frequency": schedule.frequency,
            "time_of_day": schedule.time_of_day,
            "weekday": schedule.weekday if schedule.weekday is not None else 1,
            "crontab_expression": schedule.crontab_expression,
            "time_zone": schedule.time_zone,
            "notify_by_email": schedule.notify_by_email,
        }


class BulkActionForm(forms.Form):
    """An operator's bulk action and the filter it applies to (every filter field optional)."""

    action = forms.ChoiceField(label="Action", choices=BulkAction.Action.choices)
    kind = forms.ChoiceField(label="Kind", choices=lambda: [("", "Any kind"), *kinds.choices()], required=False)
    status = forms.ChoiceField(label="Status", choices=[("", "Any status"), *Job.Status.choices], required=False)
    owner = forms.CharField(label="Owner's username", max_length=150, required=False)
    created_from = forms.DateField(label="Created from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(label="Created to", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    error_contains = forms.CharField(label="Error contains", max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_owner(self) -> str:
        owner = self.cleaned_data["owner"].strip()
        if owner and not get_user_model().objects.filter(username=owner).exists():
            raise forms.ValidationError(f"No one is called “{owner}”: give a username exactly as it is written.")
        return owner

    def clean(self):
        cleaned = super().clean()
        action, status = cleaned.get("action"), cleaned.get("status")
        if action and status and status not in bulk.APPLIES_TO[action]:
            *others, last = (Job.Status(name).label.lower() for name in bulk.APPLIES_TO[action])
            allowed = f"{', '.join(others)} or {last}" if others else last
            self.add_error("status", f"{BulkAction.Action(action).label} applies to {allowed} jobs only.")
        created_from, created_to = cleaned.get("created_from"), cleaned.get("created_to")
        if created_from and created_to and created_from > created_to:
            self.add_error("created_to", "The end date is before the start date.")
        return cleaned

    def job_filter(self) -> bulk.JobFilter:
        data = self.cleaned_data
        return bulk.JobFilter(kind=data["kind"], status=data["status"], owner=data["owner"],
                              created_from=data["created_from"], created_to=data["created_to"],
                              error_contains=data["error_contains"].strip())  # fmt: skip


TIMING_FIELDS = ["frequency", "time_of_day", "weekday", "crontab_expression", "time_zone"]


@cache
def schedule_form_for(kind: kinds.JobKind) -> type[forms.Form]:
    """A kind's own form (its parameters) with a schedule's name and timing: the name first, then
    the kind's fields, then when, then "email me"."""
    own = [name for name in kind.form.base_fields if name != "notify_by_email"]
    return type(
        f"{kind.form.__name__}Schedule",
        (ScheduleTiming, kind.form),
        {"field_order": ["name", *own, *TIMING_FIELDS], "__module__": __name__},
    )


def schedulable_kinds() -> list[kinds.JobKind]:
    """Kinds a schedule can run: those whose form takes no upload (a schedule has no file to
    give) and has no field of the schedule's own name (check_schedule_fields warns of those)."""
    return [kind for kind in kinds.all_kinds() if not kind.takes_upload and not schedule_clashes(kind)]


def schedule_clashes(kind: kinds.JobKind) -> set[str]:
    return (set(kind.form.base_fields) - {"notify_by_email"}) & set(ScheduleTiming.base_fields)


def check_schedule_fields(app_configs=None, **kwargs) -> list:
    """A Django system check: a kind whose form has a field named as a schedule's cannot be scheduled."""
    from django.core.checks import Warning

    return [
        Warning(
            f"Job kind {kind.name!r} has form fields named as a schedule's ({', '.join(sorted(clash))}), "
            "so it cannot be scheduled.",
            hint="Rename those fields of its form.",
            id="offload.W002",
        )
        for kind in kinds.all_kinds()
        if not kind.takes_upload and (clash := schedule_clashes(kind))
    ]
