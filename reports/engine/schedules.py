"""Report schedules: saved into django-celery-beat's tables, run by beat as ordinary jobs.

A ReportSchedule owns one PeriodicTask (task `reports.tasks.run_scheduled_report`, kwargs
`{"schedule_id": ...}`) on a CrontabSchedule in the owner's time zone. Saving a PeriodicTask
through the ORM tells beat's DatabaseScheduler to reload, so edits and pauses take effect on
its next tick without a restart.
"""

import json
import logging
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from celery.schedules import crontab
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from reports import kinds
from reports.engine import jobs
from reports.models import ReportSchedule

logger = logging.getLogger(__name__)

TASK_NAME = "reports.tasks.run_scheduled_report"
WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


@dataclass(frozen=True)
class Timing:
    frequency: str
    time_zone: str
    time_of_day: time | None = None
    weekday: int | None = None
    crontab_expression: str = ""

    def cron_fields(self) -> dict:
        """minute, hour, day_of_month, month_of_year, day_of_week as crontab strings."""
        if self.frequency == ReportSchedule.Frequency.CRONTAB:
            return parse_crontab(self.crontab_expression)
        fields = {"minute": str(self.time_of_day.minute), "hour": str(self.time_of_day.hour)}
        fields |= {"day_of_month": "*", "month_of_year": "*", "day_of_week": "*"}
        if self.frequency == ReportSchedule.Frequency.WEEKLY:
            fields["day_of_week"] = str(self.weekday)
        return fields


# Each cron field: what a person calls it, and what it takes (Celery's parser decides).
CRONTAB_FIELDS = {
    "minute": ("minute", "0–59, a list (0,30), a range (0-15) or a step (*/15)"),
    "hour": ("hour", "0–23, a list, a range or a step"),
    "day_of_month": ("day of the month", "1–31, a list, a range or a step"),
    "month_of_year": ("month", "1–12, a list, a range or a step"),
    "day_of_week": ("day of the week", "0–6 with Sunday as 0, or mon–sun, a list or a range (mon-fri)"),
}


def parse_crontab(expression: str) -> dict:
    """Five cron fields, checked by Celery's own parser; ValueError with a sentence if wrong."""
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(
            "A crontab has five fields separated by spaces: minute, hour, day of month, month, day of week "
            "(for example “0 7 * * 1-5” for 07:00 on weekdays)."
        )
    fields = dict(zip(CRONTAB_FIELDS, parts, strict=True))
    for name, value in fields.items():
        try:
            crontab(**{name: value})  # one field at a time, so the sentence can name the wrong one
        except Exception:  # Celery's parser raises ValueError or its own ParseException
            words, allowed = CRONTAB_FIELDS[name]
            raise ValueError(f"The {words} field “{value}” is not valid: it takes {allowed}.") from None
    return fields


def shortest_gap(fields: dict) -> int:
    """The fewest minutes between two runs of a crontab: over the minutes and hours it allows,
    across midnight too (its days and months only ever make gaps longer)."""
    cron = crontab(**fields)
    times = sorted(hour * 60 + minute for hour in cron.hour for minute in cron.minute)
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    return min([*gaps, times[0] + 24 * 60 - times[-1]])


def describe(schedule: ReportSchedule) -> str:
    """How often, in words the owner chose: “Every Monday at 07:00 (Europe/Paris)”."""
    zone = schedule.time_zone
    if schedule.frequency == ReportSchedule.Frequency.DAILY:
        return f"Every day at {schedule.time_of_day:%H:%M} ({zone})"
    if schedule.frequency == ReportSchedule.Frequency.WEEKLY:
        return f"Every {WEEKDAYS[schedule.weekday]} at {schedule.time_of_day:%H:%M} ({zone})"
    return f"Crontab “{schedule.crontab_expression}” ({zone})"


def save_schedule(
    owner, name: str, kind: str, params: dict, timing: Timing, notify_by_email: bool, schedule=None
) -> ReportSchedule:
    """Create a schedule, or change one (its timing, parameters or name) in place."""
    with transaction.atomic():
        crontab_row, _ = CrontabSchedule.objects.get_or_create(timezone=timing.time_zone, **timing.cron_fields())
        if schedule is None:
            schedule = ReportSchedule(owner=owner)
            task = PeriodicTask(task=TASK_NAME, kwargs=json.dumps({"schedule_id": str(schedule.pk)}))
        else:
            task = schedule.periodic_task
        old_crontab_id = task.crontab_id
        task.name = f"{owner.get_username()}: {name} ({schedule.pk})"[:200]
        task.description = f"Report schedule of {owner.get_username()}: {name}"
        task.crontab = crontab_row
        task.save()
        for field, value in {
            "name": name,
            "kind": kind,
            "params": params,
            "frequency": timing.frequency,
            "time_of_day": timing.time_of_day,
            "weekday": timing.weekday,
            "crontab_expression": timing.crontab_expression,
            "time_zone": timing.time_zone,
            "notify_by_email": notify_by_email,
        }.items():
            setattr(schedule, field, value)
        schedule.periodic_task = task
        schedule.save()
        if old_crontab_id not in (None, crontab_row.pk):
            forget_unused_crontab(old_crontab_id)
    return schedule


def set_paused(schedule: ReportSchedule, paused: bool) -> None:
    task = schedule.periodic_task
    task.enabled = not paused
    if not paused:
        # Resuming starts afresh: no catch-up run for the days it was paused.
        task.last_run_at = timezone.now()
    task.save()


def delete_schedule(schedule: ReportSchedule) -> None:
    """The schedule and its PeriodicTask go; jobs it made stay, as ordinary jobs."""
    with transaction.atomic():
        crontab_id = schedule.periodic_task.crontab_id
        schedule.periodic_task.delete()  # cascades to the ReportSchedule
        forget_unused_crontab(crontab_id)


def forget_unused_crontab(crontab_id) -> None:
    # Crontab rows are shared between periodic tasks, and deleting one deletes its tasks.
    CrontabSchedule.objects.filter(pk=crontab_id, periodictask__isnull=True).delete()


def next_run(schedule: ReportSchedule, now: datetime | None = None) -> datetime | None:
    """When beat will next run it, in the schedule's own time zone; None while paused."""
    task = schedule.periodic_task
    if not task.enabled:
        return None
    cron = task.crontab.schedule
    # Beat counts from the last run (or, before the first, from when the task last changed).
    last = (task.last_run_at or task.date_changed or timezone.now()).astimezone(cron.tz)
    start, ends_in, _ = cron.remaining_delta(last, tz=cron.tz)
    now = now or timezone.now()
    return max(start + ends_in, now).astimezone(cron.tz)  # overdue: beat sends it on its next tick


def run(schedule_id) -> str:
    """What beat's task does: make an ordinary job owned by the schedule's owner."""
    schedule = ReportSchedule.objects.select_related("owner", "periodic_task").filter(pk=schedule_id).first()
    if schedule is None:
        logger.warning("Schedule %s no longer exists; nothing to run", schedule_id)
        return "missing"
    if not schedule.periodic_task.enabled:
        return "paused"  # paused after beat had already sent this run
    now = timezone.now()
    params = dict(schedule.params)
    kind = kinds.REGISTRY.get(schedule.kind)
    if kind is not None and kind.for_run is not None:
        params = kind.for_run(params, timezone.localdate(now, timezone=ZoneInfo(schedule.time_zone)))
    try:
        job = jobs.create_job(
            schedule.owner, schedule.kind, params, schedule=schedule,
            notify_by_email=schedule.notify_by_email,
        )  # fmt: skip
    except jobs.TooManyActiveJobs as refusal:
        logger.info("Schedule %s skipped a run: %s", schedule.pk, refusal)
        ReportSchedule.objects.filter(pk=schedule.pk).update(
            last_run_at=now, last_skip_reason=f"Skipped: {refusal.limit} of your jobs were already queued or running."
        )
        return "skipped"
    ReportSchedule.objects.filter(pk=schedule.pk).update(last_run_at=now, last_job=job, last_skip_reason="")
    return str(job.pk)
