"""Every beat schedule, the users' and the housekeeping, as staff see it: its next run, its last
run and how that went, and "run now"."""

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_results.models import TaskResult

from project import celery_app
from reports.models import ReportSchedule

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recurring:
    task: PeriodicTask
    schedule: ReportSchedule | None  # None: housekeeping (or a task added in the admin)
    next_run: datetime | None
    outcome: str
    # Beat writes last_run_at to its table only every few minutes; a result may be newer.
    last_run: datetime | None = None

    @property
    def name(self) -> str:
        return self.schedule.name if self.schedule else self.task.name


def next_run(task: PeriodicTask, now: datetime) -> datetime | None:
    """When beat will next send it; None while disabled (or for a one-off already sent)."""
    if not task.enabled or (task.one_off and task.total_run_count):
        return None
    schedule = task.schedule
    last = task.last_run_at or task.date_changed or now
    try:
        remaining = schedule.remaining_estimate(last)
    except Exception:  # a schedule type beat knows and we do not: say nothing rather than guess
        logger.debug("No next run for %s", task.name, exc_info=True)
        return None
    return max(now + remaining, now)


def outcome(task: PeriodicTask, schedule: ReportSchedule | None, last_results: dict[str, TaskResult]) -> str:
    if schedule is not None:
        if schedule.last_skip_reason:
            return schedule.last_skip_reason
        if schedule.last_job_id:
            return f"Made a job, now {schedule.last_job.get_status_display().lower()}"
        return "Not run yet"
    result = last_results.get(task.task)
    if result is None:
        return "Not run yet" if not task.last_run_at else "Sent; no result recorded"
    return f"{result.status.title()} {timezone.localtime(result.date_done):%d %b %H:%M}"


def overview() -> list[Recurring]:
    """A constant number of queries however many schedules there are: the tasks, the users'
    schedules, and the latest result of each housekeeping task."""
    now = timezone.now()
    tasks = list(PeriodicTask.objects.select_related("crontab", "interval", "solar", "clocked").order_by("name"))
    schedules = {
        schedule.periodic_task_id: schedule
        for schedule in ReportSchedule.objects.select_related("owner", "last_job").filter(
            periodic_task__in=[task.pk for task in tasks]
        )
    }
    housekeeping = sorted({task.task for task in tasks if task.pk not in schedules})
    # One small query per housekeeping task (a handful): its results table grows by the minute.
    last_results = {
        name: result
        for name in housekeeping
        if (
            result := TaskResult.objects.filter(task_name=name)
            .only("status", "date_done")
            .order_by("-date_done")
            .first()
        )
    }
    return [
        Recurring(
            task,
            schedules.get(task.pk),
            next_run(task, now),
            outcome(task, schedules.get(task.pk), last_results),
            last_run(task, schedules.get(task.pk), last_results),
        )  # fmt: skip
        for task in tasks
    ]


def last_run(task: PeriodicTask, schedule: ReportSchedule | None, last_results: dict) -> datetime | None:
    result = None if schedule else last_results.get(task.task)
    times = [
        when for when in (task.last_run_at, schedule and schedule.last_run_at, result and result.date_done) if when
    ]
    return max(times, default=None)


def run_now(task: PeriodicTask) -> str:
    """Send the schedule's task at once, as beat would; its task id."""
    options = {"queue": task.queue} if task.queue else {}
    sent = celery_app.send_task(task.task, args=json.loads(task.args or "[]"), kwargs=json.loads(task.kwargs or "{}"),
                                **options)  # fmt: skip
    return sent.id
