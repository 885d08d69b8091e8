"""The asynchronous views: server-sent event streams (see reports/live/streams.py)."""

import logging
from functools import partial

from asgiref.sync import sync_to_async
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET
from redis.exceptions import RedisError

from reports.live import streams, subscriptions
from reports.live.fragments import streams_available, watched_ids
from reports.models import Job

logger = logging.getLogger(__name__)


@require_GET
async def job_events(request: HttpRequest, job_id) -> HttpResponse:
    """A job page's fragment, pushed. 404 for anyone but the owner (signed out included: an
    event stream cannot follow a redirect to the sign-in page)."""
    user = await request.auser()
    if not user.is_authenticated or not await owns(user, job_id):
        raise Http404("No such job.")
    job = str(job_id)
    return await open_stream(
        request, user, partial(streams.render_job, request, user, job_id),
        # Its own job's changes; any other job's only when it ended (its notice shows here).
        wants=lambda event: event["job"] == job or event.get("ended", False),
    )  # fmt: skip


@require_GET
async def user_events(request: HttpRequest) -> HttpResponse:
    """The updates of a page without a job stream, pushed: the running rows of My jobs
    (`?ids=`), or the notices of jobs that end. 404 when signed out."""
    user = await request.auser()
    if not user.is_authenticated:
        raise Http404("Not signed in.")
    rows = watched_ids(request)
    return await open_stream(
        request, user, partial(streams.render_updates, request, user, rows),
        # Its rows' changes; any other job's only when it ended (its notice shows here).
        wants=lambda event: event["job"] in rows or event.get("ended", False),
    )  # fmt: skip


async def open_stream(request, user, render, wants) -> HttpResponse:
    """204 where this server cannot stream (the page polls); 429 when the person or the process
    has as many streams open as allowed, 503 when Redis cannot be reached (either way the page
    polls, and retries the stream later)."""
    if not streams_available(request):
        return HttpResponse(status=204)
    try:
        slot = await streams.take_slot(subscriptions.here().redis, user.pk)
    except RedisError:
        logger.warning("Redis is unreachable: pages poll until it is back", exc_info=True)
        return HttpResponse("Live updates are unavailable; this page polls instead.", status=503,
                            content_type="text/plain")  # fmt: skip
    if slot is None:
        return HttpResponse("Too many open streams; this page polls instead.", status=429, content_type="text/plain")
    response = StreamingHttpResponse(streams.stream(request, user, render, wants, slot),
                                     content_type="text/event-stream")  # fmt: skip
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


@sync_to_async
def owns(user, job_id) -> bool:
    return Job.objects.for_user(user).filter(pk=job_id).exists()
