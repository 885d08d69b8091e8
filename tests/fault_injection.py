"""The Celery app for the test suite's worker processes: the project's own app, plus faults a
test asks for through a job parameter. Jobs without the parameter run exactly as in production.

    celery -A tests.fault_injection worker

Faults (the job's `test_fault` parameter):
- `transient`: ConnectionError on attempts 1 and 2 (a storage hiccup); the third gets through.
- `slow` or `slow:N`: steady progress for N seconds (20 by default) before the real work.
- `crash`: the pool process kills itself with SIGKILL on every delivery (a poison message).
- `crash-once`: the same, on the first delivery only.
- `stubborn`: sleeps and ignores the soft time limit, so only the hard limit stops it.
An image batch whose watermark is `test-crash` kills the worker on each of its images; one whose
watermark is `test-slow` takes 3 seconds over each image.
"""

import dataclasses
import os
import signal
import time
from contextlib import suppress

from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_process_init

from project.celery import app  # noqa: F401  (what `celery -A` looks for)
from reports.engine.progress import scaled

FAULT = "test_fault"
CRASH_WATERMARK = "test-crash"
SLOW_WATERMARK = "test-slow"


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def with_faults(run):
    def run_with_faults(params, progress, files):
        job = files.job
        fault = params.get(FAULT, "")
        if fault == "transient" and job.attempt < 3:
            raise ConnectionError(f"injected: storage unreachable on attempt {job.attempt}")
        if fault == "crash" or (fault == "crash-once" and job.restarts == 0):
            die()
        if fault.startswith("slow"):
            seconds = float(fault.partition(":")[2] or 20)
            steps = int(seconds * 10)
            for step in range(steps):
                progress(50 * step / steps, "Taking its time")
                time.sleep(0.1)
            return run(params, scaled(progress, 50, 100), files)  # the bar carries on from halfway
        if fault == "stubborn":
            deadline = time.monotonic() + 3600
            while time.monotonic() < deadline:
                with suppress(SoftTimeLimitExceeded):  # carries on: only the hard limit can stop it
                    time.sleep(0.1)
        return run(params, progress, files)

    return run_with_faults


def image_with_faults(process):
    def process_with_faults(path, options, max_pixels):
        if options.watermark == CRASH_WATERMARK:
            die()
        if options.watermark == SLOW_WATERMARK:
            time.sleep(3)
        return process(path, options, max_pixels)

    return process_with_faults


@worker_process_init.connect
def install_faults(**kwargs) -> None:
    # In each pool process, once Django is set up (the kinds are declared then).
    from reports import kinds
    from reports.work import imaging

    for kind in kinds.all_kinds():
        if kind.run:
            kinds.REGISTRY[kind.name] = dataclasses.replace(kind, run=with_faults(kind.worker_function()))
    imaging.process = image_with_faults(imaging.process)
