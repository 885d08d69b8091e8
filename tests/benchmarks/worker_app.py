"""The Celery app of the benchmarks' workers: the project's own, plus the raw Celery baseline
(`bench.noop`, a task that only says when it started), the task of a job written by hand
(`bench.hand_written`, see urls.py), and, with OFFLOAD_BENCH_EMPTY_REPORTS set,
reports whose work is empty, so a throughput figure measures Offload's machinery (job row,
progress, result, notices) rather than the report.

    celery -A tests.benchmarks.worker_app worker
"""

import dataclasses
import os
import time

from celery.signals import worker_process_init

from project.celery import app


@app.task(name="bench.noop")
def noop() -> float:
    return time.time()


@app.task(name="bench.hand_written")
def hand_written(job_id: str) -> None:
    """A job's task as a person would write it by hand: the row says running, then done. No
    progress, events, notices or retries; Celery's result rows as for every task."""
    from django.utils import timezone

    from reports.models import Job

    Job.objects.filter(pk=job_id).update(status=Job.Status.RUNNING, started_at=timezone.now())
    # notice_shown: ours would otherwise announce these jobs in its responses
    Job.objects.filter(pk=job_id).update(status=Job.Status.SUCCEEDED, progress=100, finished_at=timezone.now(),
                                         notice_shown=True)  # fmt: skip


def empty(params, progress, files) -> dict:
    progress(50, "Halfway")
    return {"rows": [], "totals": {}}


@worker_process_init.connect
def empty_reports(**kwargs) -> None:
    if not os.environ.get("OFFLOAD_BENCH_EMPTY_REPORTS"):
        return
    from reports import kinds

    for kind in kinds.all_kinds():
        if kind.run:
            kinds.REGISTRY[kind.name] = dataclasses.replace(kind, run=empty)
