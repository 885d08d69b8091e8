"""Thin Celery tasks: load the job by id, run its report, record the outcome."""

import logging
import smtplib
import traceback

from celery import Task, chord, shared_task
from celery.exceptions import Ignore, SoftTimeLimitExceeded, TimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError

from reports import kinds
from reports.engine import jobs, leases, notifications, schedules
from reports.engine.files import local_path
from reports.engine.problems import InputProblem
from reports.models import BulkAction, ImageItem, Job
from reports.operations import bulk as bulk_actions
from reports.operations import performance
from reports.work import batches, imaging

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


@shared_task(soft_time_limit=60, time_limit=90)
def start_image_batch(job_id: str) -> str:
    """Fan the batch out: one task per image, in parallel, then one to build the ZIP."""
    job = jobs.start(job_id)
    if job is None:
        return "skipped"
    item_ids = list(ImageItem.objects.filter(job_id=job_id).values_list("pk", flat=True))
    jobs.set_progress(job_id, 0, f"0 of {len(item_ids)} images done")
    images = [process_image.si(item).set(task_id=batches.image_task_id(job.pk, job.attempt, item)) for item in item_ids]
    # The chord's own task id is its header's group id: what the rescue check publishes an image under.
    fan_out = chord(images, task_id=batches.chord_id(job.pk, job.attempt))
    fan_out(finish_image_batch.si(job_id, job.attempt), task_id=batches.task_id(job.pk, job.attempt, "zip"))
    return "started"


class ImageTask(Task):
    """An image's task. A hard time limit kills the pool process, so the task's own code never
    says why: the image is failed here (in the worker's main process), so the rescue check never
    sends it again; its result has already counted in the batch's chord."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if isinstance(exc, TimeLimitExceeded) and args:
            item = ImageItem.objects.filter(pk=args[0]).first()
            if item is not None:
                batches.record_failure(item, "This image took too long to process and was stopped.")
                batches.update_progress(item.job_id)
        super().on_failure(exc, task_id, args, kwargs, einfo)


@shared_task(
    bind=True,
    base=ImageTask,
    soft_time_limit=settings.OFFLOAD_IMAGE_SOFT_TIME_LIMIT,
    time_limit=settings.OFFLOAD_IMAGE_TIME_LIMIT,
)
def process_image(self, item_id: int) -> str:
    """One image. Never raises for a bad image: the chord must reach its end whatever each item did."""
    if batches.already_counted(self.request.id):
        # A second delivery of a task the chord has counted (the broker's copy, handed back
        # after its worker died, of an image the rescue check had sent again): counted twice,
        # it would end the batch early. Ignored, it is not counted.
        raise Ignore()
    item = ImageItem.objects.select_related("job").filter(pk=item_id).first()
    if item is None or item.status != ImageItem.Status.PENDING or item.job.status != Job.Status.RUNNING:
        return "skipped"
    attempt = batches.begin(item)
    if not attempt:
        batches.record_failure(item, "Processing this image stopped its worker more than once, so it was left out.")
        batches.update_progress(item.job_id)
        return "failed"
    options = imaging.ImageOptions.from_params(item.job.params["options"])
    try:
        with leases.held(leases.image(item.pk), attempt):
            with local_path(item.original) as path:
                result = imaging.process(path, options, settings.OFFLOAD_MAX_IMAGE_PIXELS)
            batches.record_success(item, result)
        outcome = "done"
        if not Job.objects.filter(pk=item.job_id).exclude(status=Job.Status.CANCELLED).exists():
            # Cancelled (or deleted) while this image was being processed. Not any job that is no
            # longer running: a late duplicate of this image must never touch a finished batch.
            jobs.discard_outputs(item.job)
            return "stopped"
    except InputProblem as problem:
        batches.record_failure(item, str(problem))
        outcome = "failed"
    except SoftTimeLimitExceeded:
        batches.record_failure(item, "This image took too long to process and was stopped.")
        outcome = "failed"
    except Exception:
        reference = jobs.new_reference()
        logger.exception("Image %s of job %s failed (reference %s)", item.pk, item.job_id, reference)
        batches.record_failure(item, f"Something went wrong on our side with this image (reference {reference}).")
        outcome = "failed"
    batches.update_progress(item.job_id)
    return outcome


@shared_task(soft_time_limit=300, time_limit=330)
def finish_image_batch(job_id: str, attempt: int | None = None) -> str:
    """`attempt`: the batch's attempt whose chord this ends (an older one's leaves a retried batch alone)."""
    batches.finish(job_id, attempt)
    return "finished"


@shared_task
def fail_lost_jobs() -> int:
    """Beat runs this: running jobs whose worker stopped writing progress long ago are failed."""
    return jobs.fail_lost(settings.OFFLOAD_LOST_JOB_MINUTES)


@shared_task
def rescue_jobs() -> int:
    """Beat runs this every few seconds: a job whose worker died runs again as its next attempt,
    and an image whose worker died is queued again."""
    return jobs.rescue_orphans() + batches.rescue_images()


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
