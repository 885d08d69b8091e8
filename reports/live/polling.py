"""What a polled job fragment costs: how often it polls, and when a poll can be answered
304 Not Modified without rendering anything.

The fragment's validator (its ETag) is built from everything the fragment shows, read with
cheap queries instead of rendering it. Times are shown to the minute while a job is active
("Running for 3 min"), so a job that is not moving gives the same validator for a minute.
"""

import hashlib
from datetime import timedelta

from reports import kinds
from reports.models import Job

FAST_POLL_SECONDS = 1
# A queued job with others ahead of it, or with no worker taking it, will not start this second.
SLOW_POLL_SECONDS = 3


def rough_duration(value: timedelta | None) -> str:
    """As precise as an active job needs: "under a minute", "3 min", "2 h 5 min"."""
    if value is None:
        return ""
    minutes = int(value.total_seconds()) // 60
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def poll_seconds(job: Job, jobs_ahead: int) -> int:
    if job.status == Job.Status.QUEUED and (jobs_ahead or job.waiting_too_long):
        return SLOW_POLL_SECONDS
    return FAST_POLL_SECONDS


def fragment_etag(job: Job, jobs_ahead: int, waiting: list[str]) -> str:
    """Changes whenever the rendered fragment of an active job would; see job_detail.html#job-status.
    `waiting`: the ids of the owner's other jobs whose notice is waiting (notifications.pending).

    A kind whose live fragment shows more than the bar adds its state (JobKind.etag_state).
    """
    state = [
        str(job.pk), job.status, job.progress, job.step, job.attempt, job.restarts,
        rough_duration(job.elapsed), rough_duration(job.run_time), rough_duration(job.time_left),
        rough_duration(job.stalled_for), job.waiting_too_long, jobs_ahead,
        waiting,
    ]  # fmt: skip
    etag_state = kinds.shown(job.kind).etag_state
    if etag_state:
        state.append(etag_state(job))
    return '"' + hashlib.blake2b(repr(state).encode(), digest_size=12).hexdigest() + '"'
