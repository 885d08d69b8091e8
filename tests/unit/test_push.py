"""Push, the parts that need no server: the event format, the fragment as pushed and as polled,
which pages open a stream, and a publish that cannot reach Redis."""

import logging
import re
import time

import pytest
from asgiref.sync import async_to_sync
from django.template.loader import render_to_string
from django.test import AsyncClient
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from reports import htmx
from reports.engine import events, jobs
from reports.live.fragments import job_context
from reports.live.streams import sse
from reports.models import Job
from tests.support import HTMX, SALES_PARAMS

pytestmark = pytest.mark.django_db
STREAM = re.compile(r"sse[-:]connect=")  # htmx 2's sse-connect, htmx 4's hx-sse:connect


def stream_to(url: str) -> str:
    """The attributes that open a stream to `url`, as the loaded htmx spells them."""
    return htmx.attribute("sse:connect", url)


def running_job(user) -> Job:
    return Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.RUNNING)


def test_a_fragment_goes_unnamed_with_every_line_in_its_own_data_field_and_only_the_end_is_named():
    assert sse("<p>\n  one\n</p>") == b"data: <p>\ndata:   one\ndata: </p>\n\n"
    assert sse(event="end") == b"event: end\ndata: \n\n"


def test_a_pushed_fragment_carries_no_csrf_token_so_the_same_state_renders_the_same(user, rf):
    job = running_job(user)
    request = rf.get(f"/jobs/{job.pk}/events/")  # as render_job renders it, in a stream's request
    request.user = user

    def pushed() -> str:
        return render_to_string("reports/job_detail.html#job-status", job_context(job, pushed=True), request)

    first, again = pushed(), pushed()
    assert "csrfmiddlewaretoken" not in first and 'hx-post="/jobs/' in first  # Cancel is there
    assert first == again


def test_under_wsgi_the_job_page_only_polls(owner_client, user):
    job = running_job(user)
    page = owner_client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert not STREAM.search(page) and 'hx-trigger="every 1s"' in page
    assert owner_client.get(reverse("job_events", args=[job.pk])).status_code == 204


def test_under_asgi_the_job_page_opens_a_stream_and_polls_until_the_first_push(user):
    client = AsyncClient()
    async_to_sync(client.aforce_login)(user)
    job = running_job(user)
    page = async_to_sync(client.get)(reverse("job_detail", args=[job.pk])).content.decode()
    assert stream_to(f"/jobs/{job.pk}/events/") in page
    assert 'hx-trigger="every 1s"' in page  # until the first push replaces it
    job.status = Job.Status.SUCCEEDED
    job.save()
    ended = async_to_sync(client.get)(reverse("job_detail", args=[job.pk])).content.decode()
    assert not STREAM.search(ended)  # nothing left to watch


def test_streams_can_be_turned_off(user, settings):
    settings.OFFLOAD_STREAMS = False
    client = AsyncClient()
    async_to_sync(client.aforce_login)(user)
    job = running_job(user)
    assert not STREAM.search(async_to_sync(client.get)(reverse("job_detail", args=[job.pk])).content.decode())
    assert async_to_sync(client.get)(reverse("job_events", args=[job.pk])).status_code == 204


def test_the_polled_fragment_polls_and_the_pushed_one_waits_for_a_stream_error(owner_client, user, rf):
    from django.template.loader import render_to_string

    from reports.live.fragments import job_context

    job = running_job(user)
    polled = owner_client.get(reverse("job_status", args=[job.pk]), **HTMX).content.decode()
    assert 'hx-trigger="every 1s"' in polled and "sse" not in polled
    request = rf.get("/")
    request.user = user
    pushed = render_to_string("reports/job_detail.html#job-status", job_context(job, pushed=True), request)
    assert f'hx-trigger="{escape(htmx.stream_failed("closest .job-live"))}"' in pushed and "every 1s" not in pushed
    assert f'hx-get="/jobs/{job.pk}/status/"' in pushed  # what it fetches when the stream fails


def test_progress_is_written_even_when_the_events_redis_is_down(
    user, settings, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    settings.OFFLOAD_EVENTS_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    monkeypatch.setattr(events, "_client", None)
    monkeypatch.setattr(events, "_quiet_until", 0.0)
    job = running_job(user)
    with caplog.at_level(logging.WARNING, logger="reports.engine.events"):
        with django_capture_on_commit_callbacks(execute=True):
            jobs.set_progress(job.pk, 30, "Thirty")
        started = time.monotonic()
        with django_capture_on_commit_callbacks(execute=True):
            jobs.set_progress(job.pk, 40, "Forty")  # within the quiet spell: not even tried
        assert time.monotonic() - started < 0.5
    job.refresh_from_db()
    assert (job.progress, job.step) == (40, "Forty")
    assert [record.message for record in caplog.records].count(
        "Could not publish a job event; open pages will catch up on their heartbeat"
    ) == 1
    monkeypatch.setattr(events, "_client", None)  # the next test gets the suite's Redis again


def test_a_progress_write_and_a_deletion_tell_the_owners_channel(user, broker, django_capture_on_commit_callbacks):
    import json

    import redis

    listener = redis.Redis.from_url(broker.url).pubsub(ignore_subscribe_messages=True)
    listener.subscribe(events.channel(user.pk))
    listener.get_message(timeout=1)  # the subscription is in place
    job = running_job(user)
    with django_capture_on_commit_callbacks(execute=True):  # published once the write is committed
        jobs.set_progress(job.pk, 30, "Thirty")
    message = listener.get_message(timeout=5)
    assert message and json.loads(message["data"]) == {"job": str(job.pk)}
    with django_capture_on_commit_callbacks(execute=True):
        Job.objects.filter(pk=job.pk).delete()  # any way a job goes: the admin, retention
    message = listener.get_message(timeout=5)
    assert message and json.loads(message["data"]) == {"job": str(job.pk), "ended": True}
    listener.close()


def asgi_client(user) -> AsyncClient:
    client = AsyncClient()
    async_to_sync(client.aforce_login)(user)
    return client


def test_under_asgi_my_jobs_opens_one_stream_for_its_running_rows(user):
    running = running_job(user)
    Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.SUCCEEDED)
    page = async_to_sync(asgi_client(user).get)(reverse("job_list")).content.decode()
    assert len(STREAM.findall(page)) == 1
    assert stream_to(f"/events/?ids={running.pk}") in page
    assert 'hx-trigger="every 1s"' in page  # the row poller, until the first push replaces it


def test_under_asgi_a_page_waiting_for_notices_opens_the_persons_stream(user):
    running_job(user)  # elsewhere: its notice may come while they read their schedules
    page = async_to_sync(asgi_client(user).get)(reverse("schedule_list")).content.decode()
    assert stream_to("/events/") in page and 'hx-trigger="every 5s"' in page
    Job.objects.update(status=Job.Status.SUCCEEDED)
    assert not STREAM.search(async_to_sync(asgi_client(user).get)(reverse("schedule_list")).content.decode())


def test_under_asgi_the_home_pages_recent_jobs_stream_like_my_jobs(user):
    running = running_job(user)
    page = async_to_sync(asgi_client(user).get)(reverse("home")).content.decode()
    assert len(STREAM.findall(page)) == 1 and stream_to(f"/events/?ids={running.pk}") in page
    assert f'id="job-row-{running.pk}"' in page and "/cancel/" in page
    assert 'id="notice-poller" hidden>' in page  # the rows' stream (or poll) carries the notices


def test_under_wsgi_my_jobs_and_notices_only_poll(owner_client, user):
    running_job(user)
    for name in ("job_list", "home"):
        assert not STREAM.search(owner_client.get(reverse(name)).content.decode())
    assert owner_client.get(reverse("user_events")).status_code == 204


def test_the_pushed_updates_wait_for_a_stream_error_and_end_with_the_last_active_row(user, rf, monkeypatch):
    from reports.live import streams
    from reports.live.streams import render_updates

    monkeypatch.setattr(streams.connections, "close_all", lambda: None)  # a stream's pool thread would

    job = running_job(user)
    request = rf.get("/")
    request.user = user
    rows = render_updates(request, user, [str(job.pk)])
    assert f'id="job-row-{job.pk}"' in rows.html and not rows.final
    assert f'hx-trigger="{escape(htmx.stream_failed("#user-stream"))}"' in rows.html and "every 1s" not in rows.html
    notices = render_updates(request, user, [])
    assert 'id="notice-poller"' in notices.html and escape(htmx.stream_failed("#user-stream")) in notices.html
    assert not notices.final
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED, finished_at=timezone.now())
    rows = render_updates(request, user, [str(job.pk)])
    assert rows.final and "Your sales summary is ready" in rows.html and "hx-trigger" not in rows.html


def test_a_stream_wakes_for_its_own_job_and_for_other_jobs_only_when_they_end(settings):
    import asyncio

    from reports.live import subscriptions
    from reports.live.streams import next_change

    settings.OFFLOAD_STREAM_HEARTBEAT = 0.2
    wants = lambda event: event["job"] == "mine" or event.get("ended", False)  # noqa: E731 (as job_events)

    def outcome(*bodies) -> str:
        async def wait() -> str:
            queue = asyncio.Queue()
            for body in bodies:
                queue.put_nowait(body)
            return await next_change(queue, wants, "this-session", time.monotonic() + 60)

        return asyncio.run(wait())

    assert outcome({"job": "other"}) == "idle"  # another job moved: nothing here changes
    assert outcome({"job": "mine"}) == "changed"
    assert outcome({"job": "other", "ended": True}) == "changed"  # its notice shows here
    assert outcome({"job": "mine"}, {"job": "mine"}, {"session": "this-session"}) == "signed out"  # a burst, read whole
    assert outcome({"session": "another-session"}) == "idle"
    assert outcome({"job": "mine"}, subscriptions.LOST) == "lost"
