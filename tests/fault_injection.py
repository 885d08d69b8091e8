"""The Celery app for the test suite's worker processes: the project's own app, plus faults a
test asks for through a job parameter. Jobs without the parameter run exactly as in production.

    celery -A tests.fault_injection worker
"""

import dataclasses
import time

from celery.signals import worker_process_init

from project.celery import app  # noqa: F401  (what `celery -A` looks for)

FAULT = "test_fault"


def with_faults(run):
    def run_with_faults(job, progress):
        fault = job.params.get(FAULT)
        if fault == "transient" and job.attempt < 3:
            # What a storage or network hiccup looks like to a task; the third attempt gets through.
            raise ConnectionError(f"injected: storage unreachable on attempt {job.attempt}")
        if fault == "slow":
            for step in range(200):  # about 20 s of steady progress, to cancel or watch
                progress(step / 4, "Taking its time")
                time.sleep(0.1)
        return run(job, progress)

    return run_with_faults


@worker_process_init.connect
def install_faults(**kwargs) -> None:
    # In each pool process, once Django is set up (the catalog needs the models).
    from reports import catalog

    for kind, report in list(catalog.BY_KIND.items()):
        if report.run:
            catalog.BY_KIND[kind] = dataclasses.replace(report, run=with_faults(report.run))
