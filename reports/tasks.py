"""Thin Celery tasks: load the job by id, run its kind's work, record the outcome; and the housekeeping beat runs.

A kind with tasks of its own keeps them in its module (reports/job_kinds/image_batch.py)."""

import logging
import smtplib
import traceback

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError

from reports import kinds
from reports.engine import jobs, leases, notifications, schedules
from reports.engine.problems import InputProblem
from reports.models import BulkAction, Job
from reports.operations import bulk as bulk_actions
from reports.operations import performance

logger = logging.getLogger(__name__)


# Problems that pass by themselves (a database or storage hiccup): worth another attempt.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


def limit_words(seconds: float) -> str:
    """10-minute, 90-second: a time limit as a sentence wants it."""
    return f"{seconds / 60:g}-minute" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g}-second"


class JobTask(Task):
    """A task whose first argument is a job id: a hard time limit fails the job at once.

    The hard limit kills the pool process, so the task's own code never runs again; Celery
    calls on_failure in the worker's main process instead.
    """

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if isinstance(exc, TimeLimitExceeded) and args:
            jobs.fail(args[0], f"The report ran past its {limit_words(self.time_limit)} hard limit, so its worker "
                      "process was stopped and replaced. Try a shorter date range or a smaller file.")  # fmt: skip
        super().on_failure(exc, task_id, args, kwargs, einfo)


@shared_task(
    bind=True,
    base=JobTask,
    max_retries=settings.OFFLOAD_JOB_ATTEMPTS - 1,
    soft_time_limit=settings.OFFLOAD_REPORT_SOFT_TIME_LIMIT,
    time_limit=settings.OFFLOAD_REPORT_TIME_LIMIT,
)
def run_report(self, job_id: str) -> str:
    job = jobs.start(job_id)
    if job is None:
        logger.info("Job %s no longer wants running; skipped", job_id)
        return "skipped"
    attempt = job.attempt  # every write of this attempt is guarded by it
    try:
        # Inside the try: a kind no longer declared, or a wrong dotted path, fails the job with a reference.
        run = kinds.get(job.kind).worker_function()
        with leases.held(job.pk, attempt):
            result = run(job.params, jobs.ProgressRecorder(job.pk, attempt=attempt), jobs.JobFiles(job, attempt))
    except jobs.JobNotRunning:
        if Job.objects.filter(pk=job.pk, attempt__gt=attempt).exists():
            # Rescued while this attempt was frozen or cut off: the next attempt owns the job and its downloads.
            logger.warning("Job %s: attempt %s was superseded; it stops without writing", job_id, attempt)
            return "superseded"
        logger.info("Job %s stopped while running (cancelled or deleted)", job_id)
        jobs.discard_outputs(job)  # anything written after the cancel
        return "stopped"
    except TRANSIENT_ERRORS as error:
        if self.request.retries >= self.max_retries:
            reference = jobs.new_reference()
            logger.exception(
                "Job %s failed after %s attempts (reference %s)", job_id, self.request.retries + 1, reference
            )
            jobs.fail(job.pk, f"A temporary problem on our side lasted through {self.request.retries + 1} attempts. "
                      "Try again later; if it keeps happening, quote the reference to your administrator.", reference,
                      traceback.format_exc(), attempt=attempt)  # fmt: skip
            return "failed"
        next_attempt = self.request.retries + 2
        logger.warning("Job %s hit %r; attempt %s of %s follows", job_id, error, next_attempt, self.max_retries + 1)
        jobs.retry_later(job.pk, next_attempt, self.max_retries + 1, current=attempt, error=repr(error))
        raise self.retry(exc=error, countdown=settings.OFFLOAD_RETRY_BACKOFF * 2**self.request.retries) from None
    except InputProblem as problem:
        jobs.fail(job.pk, str(problem), attempt=attempt)
        return "failed"
    except kinds.UnknownKind:
        logger.error("Job %s is of kind %r, which is not declared here; failed", job_id, job.kind)
        jobs.fail(job.pk, jobs.UNKNOWN_KIND_MESSAGE, attempt=attempt)
        return "failed"
    except SoftTimeLimitExceeded:
        jobs.fail(job.pk, f"The report took longer than its {limit_words(self.soft_time_limit)} limit and was "
                  "stopped. Try a shorter date range or a smaller file.", attempt=attempt)  # fmt: skip
        return "failed"
    except Exception:
        reference = jobs.new_reference()
        logger.exception("Job %s failed (reference %s)", job_id, reference)
        jobs.fail(job.pk, "Something went wrong on our side while making this report. "
                  "Try again; if it happens again, quote the reference to your administrator.", reference,
                  traceback.format_exc(), attempt=attempt)  # fmt: skip
        raise  # so the task's own result row records the traceback for staff
    jobs.succeed(job.pk, result, notify_by_email=job.notify_by_email, attempt=attempt)
    return "succeeded"


@shared_task
def fail_lost_jobs() -> int:
    """Beat runs this: running jobs whose worker stopped writing progress long ago are failed."""
    return jobs.fail_lost(settings.OFFLOAD_LOST_JOB_MINUTES)


@shared_task
def rescue_jobs() -> int:
    """Beat runs this every few seconds: a job whose worker died runs again as its next attempt,
    and a kind's own leased work whose worker died (an image batch's images) is sent again."""
    return jobs.rescue_orphans() + sum(kind.rescue() for kind in kinds.all_kinds() if kind.rescue)


@shared_task
def delete_old_jobs() -> int:
    """Beat runs this daily: finished jobs past the retention period go, with their files."""
    return jobs.delete_older_than(settings.OFFLOAD_RETENTION_DAYS)


@shared_task
def sample_queues() -> int:
    """Beat runs this every minute: the messages waiting in each queue, for the Operations page's
    queue depth over time (nothing is recorded, and the log says so, while the broker is down)."""
    return performance.record_queue_samples()


@shared_task
def roll_up_job_hours() -> int:
    """Beat runs this every 5 minutes: each hour that has closed becomes a row per job kind
    (counts and duration histograms), which the Operations page's day and week read."""
    return performance.roll_up_hours()


@shared_task
def run_scheduled_report(schedule_id: str) -> str:
    """Beat runs this for each user schedule: it makes an ordinary job, which then runs as any other."""
    return schedules.run(schedule_id)


@shared_task(
    autoretry_for=(smtplib.SMTPException, OSError), retry_backoff=30, max_retries=5, soft_time_limit=60, time_limit=90
)
def email_job_ended(job_id: str) -> bool:
    """The "your job has finished" email; a mail server hiccup is retried, with backoff."""
    return notifications.send_job_email(job_id)


@shared_task
def run_bulk_action(bulk_id: str) -> str:
    """An operator's bulk action: on the default queue, which is never paused. Handed back by the
    broker if its worker dies, it carries on with the jobs it had not reached."""
    try:
        bulk = bulk_actions.run(bulk_id)
    except Exception:
        reference = jobs.new_reference()
        logger.exception("Bulk action %s failed (reference %s)", bulk_id, reference)
        bulk_actions.end(bulk_id, BulkAction.Status.FAILED, f"It stopped on an unexpected error (reference {reference}); "
                         "what it did until then stays done; the same bulk action again takes the rest.")  # fmt: skip
        return "failed"
    return "skipped" if bulk is None else "done"
