"""Job and its output files (the one source of truth every page and fragment reads), and the
report schedules that make jobs on beat."""

import re
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from reports import kinds

QUEUED_HINT_AFTER = timedelta(seconds=15)
STALL_NOTICE_AFTER = timedelta(minutes=2)


def new_task_id() -> str:
    return str(uuid.uuid4())


def input_path(job: "Job", filename: str) -> str:
    # Never the client's filename on disk: it is only displayed (escaped), from params.
    return f"uploads/{job.pk}/input.csv"


class JobQuerySet(models.QuerySet):
    def for_user(self, user) -> "JobQuerySet":
        return self.filter(owner=user)

    def active(self) -> "JobQuerySet":
        return self.filter(status__in=Job.ACTIVE_STATUSES)

    def finished(self) -> "JobQuerySet":
        return self.filter(status__in=Job.FINAL_STATUSES)


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Finished"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)
    FINAL_STATUSES = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=32, choices=kinds.choices)
    params = models.JSONField(default=dict, blank=True)
    # An uploaded input, stored under a generated name; the client's name is in params.
    input_file = models.FileField(upload_to=input_path, blank=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=200, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written with every progress update: how "no progress for N minutes" and lost jobs are told.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveSmallIntegerField(default=1)
    # Times the job was handed back after its worker died mid-run: bounded, so a job that kills
    # its worker every time (a poison message) fails instead of looping.
    restarts = models.PositiveSmallIntegerField(default=0)
    notify_by_email = models.BooleanField(default=False)
    # Whether the "your job has finished" notice has been shown on some page.
    notice_shown = models.BooleanField(default=False)

    # Chosen before enqueueing, so it joins django-celery-results' TaskResult.task_id.
    task_id = models.CharField(max_length=36, default=new_task_id, unique=True, editable=False)
    result = models.JSONField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    error_reference = models.CharField(max_length=12, blank=True)
    # The traceback behind an unexpected failure: for staff (Operations page, admin), never the owner.
    error_detail = models.TextField(blank=True)
    # The schedule that made this job, if beat did.
    schedule = models.ForeignKey(
        "ReportSchedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    # The process running or last running it (`host pid`, leases.this_process()): for staff, and
    # for start() to tell a dead process on this machine from a live one.
    worker = models.CharField(max_length=200, blank=True)
    # Its earlier attempts, for staff: one entry each when an attempt ends without ending the job
    # (a temporary problem retried, a dead worker's attempt restarted). Never written on the
    # happy path, which stays as cheap as it was.
    history = models.JSONField(default=list, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"]), models.Index(fields=["finished_at"])]
        # Operations pages: who may look, and who may act (pause queues, bulk actions, run now).
        permissions = [
            ("view_operations", "Can see the Operations pages (every user's jobs, read-only)"),
            ("operate", "Can act on the Operations pages (queues, workers, bulk actions, run now)"),
            ("send_mailing", "Can send mailings (the Send a mailing kind: email to any address)"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("job_detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def restarted_note(self) -> str:
        """What the page says of a job started again after its worker died ("" if it never was)."""
        if not self.restarts:
            return ""
        return (
            f"The worker running this job stopped; it was started again "
            f"(attempt {self.restarts + 1} of {settings.OFFLOAD_MAX_RESTARTS + 1})."
        )

    @property
    def waiting_too_long(self) -> bool:
        """Queued for longer than a free worker would take: worth a hint that none is running."""
        return self.status == self.Status.QUEUED and self.elapsed > QUEUED_HINT_AFTER

    @property
    def stalled_for(self) -> timedelta | None:
        """How long a running job has gone without progress, once that is long enough to say."""
        if self.status != self.Status.RUNNING or not self.heartbeat_at:
            return None
        quiet = timezone.now() - self.heartbeat_at
        return quiet if quiet >= STALL_NOTICE_AFTER else None

    @property
    def time_left(self) -> timedelta | None:
        """A straight-line estimate, once there is enough progress to make one."""
        run_time = self.run_time
        if self.status != self.Status.RUNNING or not run_time or self.progress < 5 or run_time < timedelta(seconds=3):
            return None
        return run_time * (100 - self.progress) / self.progress

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINAL_STATUSES

    @property
    def elapsed(self) -> timedelta:
        """Time spent so far: queued plus running, up to the end if it has ended."""
        end = self.finished_at or timezone.now()
        return max(end - self.created_at, timedelta(0))

    @property
    def run_time(self) -> timedelta | None:
        if not self.started_at:
            return None
        return max((self.finished_at or timezone.now()) - self.started_at, timedelta(0))


def artifact_path(artifact: "JobArtifact", filename: str) -> str:
    return f"jobs/{artifact.job_id}/{filename}"


class JobArtifact(models.Model):
    """A file a job produced (CSV, XLSX, PDF, chart), stored through Django's storage API."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="artifacts")
    name = models.CharField(max_length=100)
    label = models.CharField(max_length=100)
    file = models.FileField(upload_to=artifact_path)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["job", "name"], name="one_artifact_per_name")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("artifact_download", args=[self.job_id, self.name])


def image_upload_path(item: "ImageItem", filename: str) -> str:
    # A generated name: the client's name is only displayed (escaped), from source_name.
    return f"uploads/{item.job_id}/image-{item.position:03d}"


def image_output_path(item: "ImageItem", filename: str) -> str:
    return f"jobs/{item.job_id}/images/{filename}"


class ImageItemQuerySet(models.QuerySet):
    def finished(self) -> "ImageItemQuerySet":
        return self.exclude(status=ImageItem.Status.PENDING)


class ImageItem(models.Model):
    """One image of an image batch job: its upload, its processed output and how it went."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField()
    source_name = models.CharField(max_length=255)
    original = models.FileField(upload_to=image_upload_path)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=300, blank=True)
    # Times a worker began this image; more than OFFLOAD_MAX_RESTARTS + 1 means it kills workers.
    starts = models.PositiveSmallIntegerField(default=0)
    # When a worker last began it (None: not begun, or handed back to the queue by the rescue
    # check). Only an image begun longer ago than a lease has its lease looked at.
    started_at = models.DateTimeField(null=True, blank=True)

    source_format = models.CharField(max_length=10, blank=True)
    source_width = models.PositiveIntegerField(null=True, blank=True)
    source_height = models.PositiveIntegerField(null=True, blank=True)
    source_bytes = models.PositiveBigIntegerField(default=0)
    output = models.FileField(upload_to=image_output_path, blank=True)
    preview = models.FileField(upload_to=image_output_path, blank=True)
    output_format = models.CharField(max_length=10, blank=True)
    output_width = models.PositiveIntegerField(null=True, blank=True)
    output_height = models.PositiveIntegerField(null=True, blank=True)
    output_bytes = models.PositiveBigIntegerField(default=0)

    objects = ImageItemQuerySet.as_manager()

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["job", "position"], name="one_image_per_position")]
        # The rescue check's question every few seconds, asked of the few images in progress.
        indexes = [
            models.Index(fields=["started_at"], condition=Q(status="pending"), name="image_in_progress"),
        ]

    def __str__(self) -> str:
        return self.source_name

    @property
    def saving_percent(self) -> float | None:
        if not self.source_bytes or not self.output_bytes:
            return None
        return round(100 * (1 - self.output_bytes / self.source_bytes), 1)

    @property
    def output_name(self) -> str:
        """What the processed file is called in downloads and the ZIP: the client's stem, our extension."""
        # Only plain characters from the client's name reach a file name inside the ZIP.
        stem = re.sub(r"[^\w.\- ]+", "_", Path(self.source_name).stem).strip(" ._") or "image"
        return f"{self.position:03d}-{stem[:80]}{Path(self.output.name).suffix}"


class ReportSchedule(models.Model):
    """A user's recurring report. The timing lives in django-celery-beat's own tables (a
    PeriodicTask with its CrontabSchedule), so beat runs it and the admin shows it; this row
    says whose it is, what to run and what happened last."""

    class Frequency(models.TextChoices):
        DAILY = "daily", "Every day"
        WEEKLY = "weekly", "Every week"
        CRONTAB = "crontab", "Custom (crontab)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_schedules")
    name = models.CharField(max_length=100)
    # The default is the one kind schedules could have before kinds were registered (migration 0011).
    kind = models.CharField(max_length=32, choices=kinds.choices, default="sales_summary")
    params = models.JSONField(default=dict)
    frequency = models.CharField(max_length=16, choices=Frequency.choices, default=Frequency.DAILY)
    # What the person chose, kept to fill the edit form; the crontab is derived from these.
    time_of_day = models.TimeField(null=True, blank=True)
    weekday = models.PositiveSmallIntegerField(null=True, blank=True)  # 0 = Sunday, as in cron
    crontab_expression = models.CharField(max_length=100, blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    notify_by_email = models.BooleanField(default=False)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", on_delete=models.CASCADE, related_name="report_schedule"
    )
    last_job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_run_at = models.DateTimeField(null=True, blank=True)
    # Why the last run made no job (the owner had too many running), shown in the list.
    last_skip_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "created_at"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("schedule_edit", args=[self.pk])

    @property
    def is_paused(self) -> bool:
        return not self.periodic_task.enabled


class QueueSample(models.Model):
    """Messages waiting in a queue at a moment: beat records one per queue every minute, so the
    Operations page can draw queue depth over time. Kept OFFLOAD_QUEUE_SAMPLE_DAYS days."""

    queue = models.CharField(max_length=100)
    taken_at = models.DateTimeField(default=timezone.now)
    waiting = models.PositiveIntegerField()

    class Meta:
        ordering = ["taken_at"]
        indexes = [models.Index(fields=["queue", "taken_at"])]

    def __str__(self) -> str:
        return f"{self.queue}: {self.waiting} at {self.taken_at:%Y-%m-%d %H:%M}"


class JobHour(models.Model):
    """The jobs of one kind that finished in one hour (UTC): how many, how many failed, and their
    run and queue-wait times as histograms. Beat rolls each hour up once it has closed
    (reports/operations/performance.py), so the Operations page reads a week as 168 rows a kind, not as every
    job of the week."""

    hour = models.DateTimeField()  # its start
    kind = models.CharField(max_length=32, choices=kinds.choices)
    finished = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # {bin: jobs}: bin b holds durations from 1 ms × 1.1^b up to the next (durations.BIN_GROWTH).
    run_bins = models.JSONField(default=dict)
    wait_bins = models.JSONField(default=dict)

    class Meta:
        ordering = ["hour", "kind"]
        constraints = [models.UniqueConstraint(fields=["hour", "kind"], name="one_job_hour_per_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {self.hour:%Y-%m-%d %H:00}: {self.finished}"


class AuditEntry(models.Model):
    """An action taken on the Operations pages: who, what, when, how many jobs it touched."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # Kept as written, so the log still says who after the account is gone.
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=100)
    detail = models.CharField(max_length=500, blank=True)
    jobs = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.actor_name}: {self.action}"


class BulkAction(models.Model):
    """An operator's action on every job a filter matches: the failed retried, the queued
    cancelled or the finished deleted. Confirmed with its count, then run by a worker a chunk at
    a time (reports/operations/bulk.py), its progress on the page like a job's."""

    class Action(models.TextChoices):
        RETRY = "retry", "Retry failed jobs"
        CANCEL = "cancel", "Cancel queued jobs"
        DELETE = "delete", "Delete finished jobs"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=16, choices=Action.choices)
    # The filter as the form cleaned it (bulk.JobFilter.as_params), and in words.
    filters = models.JSONField(default=dict)
    description = models.CharField(max_length=500)
    # Jobs the filter matched when it was confirmed; only jobs that were already in the state
    # the action applies to by then are acted on (created_at is the cut-off).
    matched = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    # Matched, then changed before the worker got to them (their owner or a worker moved them on).
    skipped = models.PositiveIntegerField(default=0)
    # Could not be acted on (storage or broker trouble): logged with the job's id.
    errors = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    task_id = models.CharField(max_length=36, default=new_task_id, unique=True, editable=False)
    error_message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    audit = models.ForeignKey(AuditEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.description}"

    def get_absolute_url(self) -> str:
        return reverse("operations_bulk_action", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def handled(self) -> int:
        return self.done + self.skipped + self.errors

    @property
    def took(self) -> timedelta | None:
        if not (self.started_at and self.finished_at):
            return None
        return self.finished_at - self.started_at

    @property
    def percent(self) -> int:
        if not self.is_active:
            return 100
        return min(99, 100 * self.handled // max(self.matched, 1))


class LedgerEntry(models.Model):
    """One item of a job's work and how it went, written as the work goes (reports/engine/ledger.py), so
    an attempt that takes over after a worker died carries on where the dead one stopped."""

    class State(models.TextChoices):
        BEGUN = "begun", "Begun"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        IN_DOUBT = "in_doubt", "In doubt"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="ledger")
    key = models.CharField(max_length=255)
    position = models.PositiveIntegerField(default=0)  # where the item is in the job's input (a row)
    state = models.CharField(max_length=16, choices=State.choices)
    detail = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["job", "key"], name="one_ledger_entry_per_item")]

    def __str__(self) -> str:
        return f"{self.key}: {self.state}"
