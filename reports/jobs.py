"""The job lifecycle: create, enqueue after commit, start, progress, finish, fail.

Every status change is a conditional UPDATE guarded by the states it may come from, so a late
or repeated message (a retried task, a worker that died and was replaced) never moves a
finished job backwards.
"""

import logging
import secrets
import time

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from .models import Job, JobArtifact

logger = logging.getLogger(__name__)

BROKER_DOWN_MESSAGE = (
    "The task queue could not be reached, so this job was not started. "
    "Nothing was lost: try again in a minute, and if it keeps happening tell your administrator."
)


class JobNotRunning(Exception):
    """The job was cancelled, finished or deleted while work was under way: stop quietly."""


def new_reference() -> str:
    """A short id a user can quote and staff can find in the log."""
    return secrets.token_hex(4).upper()


def create_job(owner, kind: str, params: dict, input_file=None, add_inputs=None) -> Job:
    """Write the Job row (and, through add_inputs, rows that belong to it), then enqueue its
    task once they are committed.

    Returns the job as it stands after the attempt: queued, or failed if the broker was down.
    """
    with transaction.atomic():
        job = Job.objects.create(owner=owner, kind=kind, params=params, input_file=input_file or "")
        if add_inputs:
            add_inputs(job)
        # A worker must never look for a row that is not committed yet.
        transaction.on_commit(lambda: enqueue(job))
    return job


def enqueue(job: Job) -> bool:
    from .tasks import task_for  # tasks imports this module

    try:
        task_for(job.kind).apply_async(
            args=[str(job.pk)],
            task_id=job.task_id,
            retry=True,
            retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY,
        )
    except Exception:  # kombu's OperationalError, redis' ConnectionError, socket errors alike
        reference = new_reference()
        logger.exception("Could not enqueue job %s (reference %s)", job.pk, reference)
        fail(job.pk, BROKER_DOWN_MESSAGE, reference)
        job.status, job.error_message, job.error_reference = Job.Status.FAILED, BROKER_DOWN_MESSAGE, reference
        return False
    return True


def start(job_id) -> bool:
    """Mark a job running. False when it should not run (finished, cancelled or gone).

    A job already running is started again: its worker died and the broker handed the task
    back, so the work is redone from the beginning.
    """
    now = timezone.now()
    return bool(
        Job.objects.filter(pk=job_id, status__in=Job.ACTIVE_STATUSES).update(
            status=Job.Status.RUNNING, started_at=now, progress=0, step="Starting"
        )
    )


def set_progress(job_id, percent: float, step: str) -> None:
    updated = Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(
        progress=max(0, min(int(percent), 99)), step=step[:200]
    )
    if not updated:
        raise JobNotRunning(job_id)


def succeed(job_id, result: dict) -> bool:
    return bool(
        Job.objects.filter(pk=job_id, status=Job.Status.RUNNING).update(
            status=Job.Status.SUCCEEDED, progress=100, step="Done", result=result, finished_at=timezone.now()
        )
    )


def fail(job_id, message: str, reference: str = "") -> bool:
    return bool(
        Job.objects.filter(pk=job_id, status__in=Job.ACTIVE_STATUSES).update(
            status=Job.Status.FAILED,
            step="Failed",
            error_message=message,
            error_reference=reference or new_reference(),
            finished_at=timezone.now(),
        )
    )


class ProgressRecorder:
    """The progress callback a task hands to pure work: writes at most every `interval` seconds.

    A new step sentence is always written (there are few); percentages in between are
    throttled, and only the two columns that change are touched.
    """

    def __init__(self, job_id, interval: float | None = None):
        self.job_id = job_id
        self.interval = settings.OFFLOAD_PROGRESS_INTERVAL if interval is None else interval
        self.last_write = 0.0
        self.last_step = None

    def __call__(self, percent: float, step: str = "") -> None:
        now = time.monotonic()
        if step == self.last_step and now - self.last_write < self.interval:
            return
        set_progress(self.job_id, percent, step or self.last_step or "")
        self.last_write, self.last_step = now, step


def save_artifact(job: Job, name: str, label: str, content_type: str, content: bytes) -> JobArtifact:
    """Store an output file; saving one of the same name again replaces it (a retry adds nothing)."""
    for old in JobArtifact.objects.filter(job=job, name=name):
        old.file.delete(save=False)
        old.delete()
    artifact = JobArtifact(job=job, name=name, label=label, content_type=content_type, size=len(content))
    artifact.file.save(name, ContentFile(content), save=False)
    artifact.save()
    return artifact
