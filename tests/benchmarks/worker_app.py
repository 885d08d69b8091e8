"""The Celery app of the benchmarks' workers: the project's own, plus the raw Celery baseline
(`bench.noop`, a task that only says when it started), and, with OFFLOAD_BENCH_EMPTY_REPORTS set,
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


def empty(job, progress) -> dict:
    progress(50, "Halfway")
    return {"rows": [], "totals": {}}


@worker_process_init.connect
def empty_reports(**kwargs) -> None:
    if not os.environ.get("OFFLOAD_BENCH_EMPTY_REPORTS"):
        return
    from reports import catalog

    for kind, report in list(catalog.BY_KIND.items()):
        if report.run:
            catalog.BY_KIND[kind] = dataclasses.replace(report, run=empty)
