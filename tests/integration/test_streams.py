"""Pushed progress end to end: a real worker publishes "job changed" on a real Redis, uvicorn
streams the re-rendered fragment over server-sent events, an HTTP client reads it."""

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest
import redis
from django.db import connection
from django.utils.html import escape

from project.embedded_redis import EmbeddedRedis
from reports import htmx
from reports.engine import jobs
from reports.models import Job
from tests.conftest import start_asgi_server, stop_process
from tests.fault_injection import FAULT
from tests.support import server_sent_events, signed_in_cookies, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SALES_PARAMS = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}
PERCENT = re.compile(r'aria-valuenow="(\d+)"')


def events_url(server, job) -> str:
    return f"{server.url}/jobs/{job.pk}/events/"


def queued_job(user) -> Job:
    """A job no worker will take (nothing consumes its queue in these tests): it stays active."""
    return Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS)


class Listener:
    """Reads a stream on a thread of its own, so the test can act while it is open."""

    def __init__(self, url: str, cookies: dict):
        self.events: list[tuple[str, str]] = []
        self.status = None
        self.ended = threading.Event()
        self.client = httpx.Client(cookies=cookies, timeout=60)
        threading.Thread(target=self.listen, args=(url,), daemon=True).start()
        wait_for(lambda: self.status is not None, 20, "the stream to answer")
        OPEN.append(self)

    def listen(self, url) -> None:
        try:
            with self.client.stream("GET", url) as response:
                self.status = response.status_code
                for event in server_sent_events(response):
                    self.events.append(event)
        except (httpx.HTTPError, RuntimeError):  # closed by the test
            pass
        finally:
            self.status = self.status or 0
            self.ended.set()

    def names(self) -> list[str]:
        return [name for name, _ in self.events]


OPEN: list[Listener] = []


def close_open_listeners() -> None:
    while OPEN:
        OPEN.pop().client.close()


@pytest.fixture(autouse=True)
def close_listeners():
    """A stream left open would keep its person's place for the tests after."""
    yield
    close_open_listeners()


def test_the_stream_pushes_progress_in_order_then_the_final_fragment(asgi_server, celery_worker_process, user):
    job = jobs.create_job(user, "sales_summary", {**SALES_PARAMS, FAULT: "slow:3"})
    client = httpx.Client(cookies=signed_in_cookies(user), timeout=60)
    with client, client.stream("GET", events_url(asgi_server, job)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        received = list(server_sent_events(response))
    names = [name for name, _ in received]
    assert names[-1] == "end" and set(names[:-1]) == {"message"}
    fragments = [data for name, data in received if name == "message"]
    percents = [int(match.group(1)) for data in fragments if (match := PERCENT.search(data))]
    assert len(set(percents)) >= 3, percents  # the bar moved, pushed step by step
    assert percents == sorted(percents)  # in order
    assert 'hx-trigger="every' not in "".join(fragments)  # a pushed fragment does not poll
    assert escape(htmx.stream_failed("closest .job-live")) in fragments[0]  # ... unless its stream fails
    final = fragments[-1]
    assert "job--succeeded" in final and "<table" in final and "hx-get" not in final.split(">")[0]


def test_another_users_stream_and_a_signed_out_one_are_404(asgi_server, user, other_user):
    job = queued_job(user)
    assert httpx.get(events_url(asgi_server, job), cookies=signed_in_cookies(other_user)).status_code == 404
    assert httpx.get(events_url(asgi_server, job)).status_code == 404
    assert httpx.get(f"{asgi_server.url}/jobs/{job.pk}/status/", cookies=signed_in_cookies(other_user),
                     headers={"HX-Request": "true"}).status_code == 404  # fmt: skip


def test_a_stream_that_runs_its_time_ends_without_end_so_the_browser_reconnects(broker, user, tmp_path):
    server = start_asgi_server(broker.url, tmp_path / "uvicorn.log", OFFLOAD_STREAM_MAX_SECONDS=1)
    try:
        job = queued_job(user)
        cookies = signed_in_cookies(user)
        started = time.monotonic()
        with httpx.Client(cookies=cookies, timeout=30).stream("GET", events_url(server, job)) as response:
            received = list(server_sent_events(response))
        assert time.monotonic() - started < 10
        assert [name for name, _ in received] == ["message"]  # no `end`: the page polls, then reconnects
        # The fragment the page falls back to polls, as a page without a stream does.
        polled = httpx.get(f"{server.url}/jobs/{job.pk}/status/", cookies=cookies, headers={"HX-Request": "true"})
        assert polled.status_code == 200 and 'hx-trigger="every 1s"' in polled.text
    finally:
        stop_process(server)


def test_a_person_may_hold_only_so_many_streams_then_pages_poll(broker, user, tmp_path):
    server = start_asgi_server(broker.url, tmp_path / "uvicorn.log", OFFLOAD_STREAMS_PER_USER=2)
    try:
        cookies = signed_in_cookies(user)
        job = queued_job(user)
        first, second = (
            Listener(events_url(server, job), cookies),
            Listener(events_url(server, queued_job(user)), cookies),
        )
        assert first.status == second.status == 200
        refused = httpx.get(events_url(server, queued_job(user)), cookies=cookies)
        assert refused.status_code == 429 and "polls instead" in refused.text
        # One page's job ends, so its stream does: its place is free again.
        jobs.cancel(job)
        assert first.ended.wait(20) and first.names()[-1] == "end"
        third = Listener(events_url(server, queued_job(user)), cookies)
        assert third.status == 200
    finally:
        stop_process(server)


def test_signing_out_ends_the_sessions_streams_at_once(asgi_server, user):
    cookies = signed_in_cookies(user)
    listener = Listener(events_url(asgi_server, queued_job(user)), cookies)
    wait_for(lambda: listener.names() == ["message"], 20, "the first fragment")
    token = "a" * 32
    with httpx.Client(base_url=asgi_server.url, cookies={**cookies, "csrftoken": token}) as client:
        response = client.post("/accounts/logout/", headers={"X-CSRFToken": token})
    assert response.status_code in (200, 302)
    assert listener.ended.wait(10) and listener.names() == ["message", "end"]


def test_deleting_the_job_ends_its_stream_with_a_note(asgi_server, user):
    job = queued_job(user)
    listener = Listener(events_url(asgi_server, job), signed_in_cookies(user))
    wait_for(lambda: listener.names() == ["message"], 20, "the first fragment")
    job.delete()
    assert listener.ended.wait(10) and listener.names() == ["message", "message", "end"]
    assert "This job was deleted" in listener.events[1][1]


def connections_to_the_database(server) -> int:
    """The web server's open connections to PostgreSQL, as the operating system sees them."""
    port = connection.settings_dict["PORT"] or 5432
    return sum(
        1
        for socket in psutil.Process(server.pid).net_connections("tcp")
        if socket.raddr and socket.raddr.port == int(port)
    )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's connection pool")
def test_one_web_process_feeds_more_streams_and_polls_than_its_pool_has_connections(broker, user, tmp_path):
    # Under ASGI every request runs in a context of its own: persistent connections (CONN_MAX_AGE)
    # were never reused there and piled up (dozens from one process in seconds of polling). With
    # Django's pool, and streams holding no connection while they wait, two connections do.
    server = start_asgi_server(broker.url, tmp_path / "uvicorn.log", DATABASE_POOL_SIZE=2, OFFLOAD_STREAM_HEARTBEAT=1)
    try:
        cookies = signed_in_cookies(user)
        listeners = [Listener(events_url(server, queued_job(user)), cookies) for _ in range(4)]
        wait_for(lambda: all(listener.names()[:1] == ["message"] for listener in listeners), 30, "every first fragment")
        url = f"{server.url}/jobs/{queued_job(user).pk}/status/"

        def poll(_) -> int:
            return httpx.get(url, cookies=cookies, headers={"HX-Request": "true"}, timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(poll, range(60))) == {200}
        time.sleep(2.5)  # two heartbeats of each stream, re-rendered from the database
        assert all(listener.status == 200 and not listener.ended.is_set() for listener in listeners)
        assert 1 <= connections_to_the_database(server) <= 2
    finally:
        close_open_listeners()  # before the server stops, which would otherwise wait on the streams
        stop_process(server)


def test_my_jobs_stream_pushes_its_running_rows_and_ends_with_the_last(
    asgi_server, celery_worker_process, user, other_user
):
    job = jobs.create_job(user, "sales_summary", {**SALES_PARAMS, FAULT: "slow:2"})
    theirs = queued_job(other_user)
    url = f"{asgi_server.url}/events/?ids={job.pk},{theirs.pk}"
    with httpx.Client(cookies=signed_in_cookies(user), timeout=60) as client, client.stream("GET", url) as response:
        assert response.status_code == 200
        received = list(server_sent_events(response))
    names = [name for name, _ in received]
    assert names[-1] == "end" and set(names[:-1]) == {"message"}
    updates = [data for name, data in received if name == "message"]
    assert all(f'id="job-row-{job.pk}"' in data for data in updates)
    assert not any(str(theirs.pk) in data for data in updates)  # someone else's id: ignored
    percents = [int(match.group(1)) for data in updates if (match := PERCENT.search(data))]
    assert len(set(percents)) >= 2 and percents == sorted(percents), percents
    assert 'hx-trigger="every' not in "".join(updates)  # pushed rows do not poll
    assert "badge--succeeded" in updates[-1] and "hx-trigger" not in updates[-1]  # nothing left to watch


def test_the_persons_stream_pushes_the_notice_of_a_job_that_ends(asgi_server, user):
    job = queued_job(user)
    listener = Listener(f"{asgi_server.url}/events/", signed_in_cookies(user))
    wait_for(lambda: listener.names() == ["message"], 20, "the first update")
    assert (
        escape(htmx.stream_failed("#user-stream")) in listener.events[0][1] and "notice--" not in listener.events[0][1]
    )
    jobs.cancel(job)
    assert listener.ended.wait(10) and listener.names() == ["message", "message", "end"]
    pushed = listener.events[1][1]
    assert "Your sales summary was cancelled" in pushed and 'hx-swap-oob="afterbegin:#notice-list"' in pushed
    job.refresh_from_db()
    assert job.notice_shown  # announced once: no other page shows it again


def test_the_persons_stream_is_404_when_signed_out(asgi_server):
    assert httpx.get(f"{asgi_server.url}/events/").status_code == 404


def test_a_process_streams_over_one_subscription_and_ends_them_quietly_when_redis_goes(user, other_user, tmp_path):
    redis_server = EmbeddedRedis(tmp_path / "redis").start()
    server = start_asgi_server(redis_server.url, tmp_path / "uvicorn.log", OFFLOAD_STREAM_HEARTBEAT=1)
    try:
        listeners = [
            Listener(events_url(server, queued_job(person)), signed_in_cookies(person))
            for person in (user, user, other_user)
        ]
        wait_for(lambda: all(listener.names() == ["message"] for listener in listeners), 20, "the first fragments")
        subscribers = redis.Redis.from_url(redis_server.url).client_list(_type="pubsub")
        assert len(subscribers) == 1, subscribers  # three streams, two people: one connection
        redis_server.stop()
        for listener in listeners:
            assert listener.ended.wait(20)
            assert listener.names() == ["message"]  # no `end`: each page polls, and tries its stream again later
        refused = httpx.get(events_url(server, queued_job(user)), cookies=signed_in_cookies(user))
        assert refused.status_code == 503 and "polls instead" in refused.text
        redis_server.start(port=redis_server.port)
        job = queued_job(user)
        again = Listener(events_url(server, job), signed_in_cookies(user))
        assert again.status == 200
        wait_for(lambda: again.names() == ["message"], 20, "the first fragment")
        jobs.cancel(job)  # the stream works again: it ends with the job
        assert again.ended.wait(10) and again.names() == ["message", "message", "end"]
    finally:
        stop_process(server)
        redis_server.stop()
