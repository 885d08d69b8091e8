"""The forms every kind and page shares: ReportForm (the base of each kind's form, which lives
with its kind in reports/job_kinds/), My jobs' filter, a schedule's timing and a bulk action."""

import zoneinfo
from datetime import date, time
from decimal import Decimal
from functools import cache

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Model
from django.template.defaultfilters import pluralize
from django.utils.http import urlencode

from reports import kinds
from reports.engine import schedules
from reports.models import BulkAction, Job, ReportSchedule
from reports.operations import bulk


class SignInForm(AuthenticationForm):
    """Django's sign-in form, but after a wrong password the cursor waits in the password field
    (the name is still filled in), not back in the name."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound and self.data.get("username"):
            self.fields["username"].widget.attrs.pop("autofocus", None)
            self.fields["password"].widget.attrs["autofocus"] = True


def focus_first_error(form: forms.Form) -> forms.Form:
    """Put the keyboard's focus on the first field with an error: htmx focuses an `autofocus`
    element it swaps in, and a browser does so on a page load. Other fields lose theirs."""
    first = next((name for name in form.fields if name in form.errors), None)  # first on the page
    if first:
        for name, field in form.fields.items():
            if name == first:
                field.widget.attrs["autofocus"] = True
            else:
                field.widget.attrs.pop("autofocus", None)
    return form


class ReportForm(forms.Form):
    """The base of every kind's form (reports/kinds.py): "email me" for every kind, and the job's
    parameters from the cleaned fields (override `job_inputs` to shape them, or to add an upload)."""

    notify_by_email = forms.BooleanField(label="Email me when it has finished", required=False)
    # True in a schedule's form: its parameters are for runs to come, so a period relative to
    # the run ("the last 7 days") stays relative and each run works out its dates (JobKind.for_run).
    relative_to_run = False

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
    # The browser's zone cannot be read without a script of our own (pages run none but htmx):
    # the server's zone for a first schedule, then the person's own last choice (usual_time_zone).
    time_zone = forms.ChoiceField(
        label="Time zone", choices=time_zone_choices,
        help_text="Runs follow this zone's clock, summer time included. New schedules start in the zone of your last one.",
    )  # fmt: skip
    relative_to_run = True

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, user=user, **kwargs)
        self.fields["notify_by_email"].label = "Email me each time it has run"
        self.fields[
            "crontab_expression"
        ].help_text += f" At most every {settings.OFFLOAD_MIN_SCHEDULE_MINUTES} minutes."

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
                    fields = schedules.parse_crontab(expression)
                    cleaned["crontab_expression"] = expression
                except ValueError as problem:
                    self.add_error("crontab_expression", str(problem))
                else:
                    shortest, allowed = schedules.shortest_gap(fields), settings.OFFLOAD_MIN_SCHEDULE_MINUTES
                    if shortest < allowed:
                        self.add_error(
                            "crontab_expression",
                            f"This would run every {shortest} minute{pluralize(shortest)}; "
                            f"a schedule runs at most every {allowed} minutes.",
                        )
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
