"""Thin Celery tasks: load the job by id, run its report, record the outcome."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from . import catalog, jobs
from .models import Job
from .problems import InputProblem

logger = logging.getLogger(__name__)


@shared_task(
    soft_time_limit=settings.OFFLOAD_REPORT_SOFT_TIME_LIMIT,
    time_limit=settings.OFFLOAD_REPORT_TIME_LIMIT,
)
def run_report(job_id: str) -> str:
    if not jobs.start(job_id):
        logger.info("Job %s no longer wants running; skipped", job_id)
        return "skipped"
    job = Job.objects.get(pk=job_id)
    report = catalog.BY_KIND[job.kind]
    try:
        result = report.run(job, jobs.ProgressRecorder(job.pk))
    except jobs.JobNotRunning:
        logger.info("Job %s stopped while running (cancelled or deleted)", job_id)
        return "stopped"
    except InputProblem as problem:
        jobs.fail(job.pk, str(problem))
        return "failed"
    except SoftTimeLimitExceeded:
        minutes = settings.OFFLOAD_REPORT_SOFT_TIME_LIMIT / 60
        jobs.fail(job.pk, f"The report took longer than its {minutes:g}-minute limit and was stopped. "
                  "Try a shorter date range or a smaller file.")  # fmt: skip
        return "failed"
    except Exception:
        reference = jobs.new_reference()
        logger.exception("Job %s failed (reference %s)", job_id, reference)
        jobs.fail(job.pk, "Something went wrong on our side while making this report. "
                  "Try again; if it happens again, quote the reference to your administrator.", reference)  # fmt: skip
        raise  # so the task's own result row records the traceback for staff
    jobs.succeed(job.pk, result)
    return "succeeded"
