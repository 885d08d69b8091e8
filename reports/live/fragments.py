"""What the job fragment (job_detail.html#job-status) is rendered from, whether it is part of
a page, answers a poll, or is pushed down a stream."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.handlers.asgi import ASGIRequest

from reports import kinds
from reports.engine import jobs, notifications
from reports.live import polling
from reports.models import Job


def streams_available(request) -> bool:
    """Push needs an ASGI server: under WSGI (runserver, gunicorn) a stream would hold a whole
    worker thread, so pages there only poll."""
    return settings.OFFLOAD_STREAMS and isinstance(request, ASGIRequest)


def job_context(
    job: Job, jobs_ahead: int | None = None, *, pushed: bool = False, streams: bool = False, ended_here: bool = False
) -> dict:
    """`pushed`: rendered for a stream, so it does not poll (it polls again if the stream fails).
    `streams`: the page may open a stream for this job (see the job-live partial).
    `ended_here`: a fragment that shows the job's end on a page that watched it run (a poll, a
    push, the person's own Cancel): it takes the keyboard's focus and is announced once.

    It reads and writes nothing of the notices: the view or stream that shows a job's end to its
    owner marks it seen (notifications.seen), so no notice repeats it elsewhere."""
    if jobs_ahead is None:
        jobs_ahead = jobs.jobs_ahead(job)
    return {
        "job": job,
        "report": kinds.shown(job.kind),
        "jobs_ahead": jobs_ahead,
        "page_polls": job.is_active,
        "poll_seconds": polling.poll_seconds(job, jobs_ahead),
        "pushed": pushed,
        "streams": streams and job.is_active,
        "ended_here": ended_here and not job.is_active,
    }


def with_notices(user, context: dict) -> dict:
    """`context` with what it shows of the user's other jobs that ended (`notice_updates`, for the
    `notices` tag): new notices, marked announced here, and whether the page needs the notice
    poller. The view or stream that sends the page or fragment calls this, never a template, so
    rendering writes nothing; a fragment rendered without it leaves the page's notices as they are."""
    updates = notifications.updates(user, bool(context.get("page_polls")), context.get("waiting_notices"))
    return {**context, "notice_updates": updates}


JOBS_PER_PAGE = 20


def watched_ids(request) -> list[str]:
    """The running jobs a My jobs page watches: `?ids=` (at most a page of them)."""
    return [value for value in request.GET.get("ids", "").split(",") if value][:JOBS_PER_PAGE]


def rows_context(user, ids: list[str]) -> dict:
    """The job rows a page (My jobs, home) watches: its running jobs, by id (others' ids ignored), as
    polled or pushed: each row swaps itself, and the watching stops once none is active."""
    try:
        rows = list(Job.objects.for_user(user).filter(pk__in=ids))
    except ValidationError:
        rows = []
    still_active = [job.pk for job in rows if job.is_active]
    return {"rows": rows, "active_ids": still_active, "page_polls": bool(still_active)}
