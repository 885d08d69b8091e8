"""/metrics: what a Prometheus scrape reads (jobs, run and wait times, queues, workers, streams)
and who may read it."""

import asyncio
import secrets
import time
from datetime import timedelta

import pytest
import redis
import redis.asyncio as aioredis
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from project import celery_app
from reports import kinds
from reports.live import streams
from reports.models import Job
from reports.operations import overview
from tests.support import SALES_PARAMS

pytestmark = pytest.mark.django_db

TOKEN = secrets.token_urlsafe(24)  # made per run: no token-like literal in the repository
BEARER = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def metrics_on(settings, monkeypatch):
    settings.OFFLOAD_METRICS_TOKEN = TOKEN
    settings.OFFLOAD_METRICS_ALLOW = []
    # No worker runs in these tests: do not wait the full second for one to answer.
    monkeypatch.setattr(overview, "INSPECT_TIMEOUT", 0.1)


@pytest.fixture(autouse=True)
def empty_redis(broker):
    redis.Redis.from_url(broker.url).flushdb()
    yield
    redis.Redis.from_url(broker.url).flushdb()


def scrape(client, **headers) -> dict[tuple, float]:
    """The scrape's samples: (name, label pairs…) → value."""
    response = client.get("/metrics", **(BEARER | headers))
    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    return {
        (sample.name, *sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def job(owner, kind="sales_summary", status=Job.Status.SUCCEEDED, wait=None, run=None, ago=timedelta(minutes=5)):
    """A job that finished `ago`, after waiting `wait` seconds and running `run` seconds."""
    now = timezone.now()
    finished_at = now - ago if status in Job.FINAL_STATUSES else None
    started_at = (finished_at or now) - timedelta(seconds=run) if run is not None else None
    created_at = (started_at or finished_at or now) - timedelta(seconds=wait or 0)
    return Job.objects.create(
        owner=owner, kind=kind, params=SALES_PARAMS, status=status,
        created_at=created_at, started_at=started_at, finished_at=finished_at,
    )  # fmt: skip


def buckets(samples: dict, name: str, kind: str) -> dict[str, float]:
    return {
        dict(key[1:])["le"]: value
        for key, value in samples.items()
        if key[0] == f"{name}_bucket" and dict(key[1:])["kind"] == kind
    }


def test_jobs_are_counted_by_kind_and_status_with_zeros_for_the_rest(client, user):
    job(user, status=Job.Status.QUEUED)
    job(user, status=Job.Status.QUEUED)
    job(user, status=Job.Status.RUNNING, run=1)
    job(user, kind="csv_profile", status=Job.Status.FAILED, run=1)
    samples = scrape(client)
    jobs = {key[1:]: value for key, value in samples.items() if key[0] == "offload_jobs"}
    assert jobs[(("kind", "sales_summary"), ("status", "queued"))] == 2
    assert jobs[(("kind", "sales_summary"), ("status", "running"))] == 1
    assert jobs[(("kind", "csv_profile"), ("status", "failed"))] == 1
    assert sum(jobs.values()) == 4 and len(jobs) == len(kinds.names()) * len(Job.Status.values)


def test_run_and_wait_histograms_count_the_jobs_that_finished_within_the_hour(client, user):
    job(user, wait=0.3, run=0.05)
    job(user, wait=3, run=1.5, status=Job.Status.FAILED)
    job(user, wait=700, run=45, status=Job.Status.CANCELLED)
    job(user, wait=1, run=1, ago=timedelta(hours=2))  # finished too long ago
    job(user, wait=20, status=Job.Status.CANCELLED)  # cancelled while queued: never ran
    job(user, wait=1, run=1, status=Job.Status.RUNNING)  # not finished
    samples = scrape(client)

    run = buckets(samples, "offload_job_run_seconds", "sales_summary")
    assert run == {"0.1": 1, "0.5": 1, "1.0": 1, "2.0": 2, "5.0": 2, "10.0": 2, "30.0": 2, "60.0": 3,
                   "300.0": 3, "600.0": 3, "+Inf": 3}  # fmt: skip
    assert samples[("offload_job_run_seconds_count", ("kind", "sales_summary"))] == 3
    assert samples[("offload_job_run_seconds_sum", ("kind", "sales_summary"))] == pytest.approx(46.55)

    wait = buckets(samples, "offload_job_wait_seconds", "sales_summary")
    assert wait == {"0.1": 0, "0.5": 1, "1.0": 1, "2.0": 1, "5.0": 2, "10.0": 2, "30.0": 2, "60.0": 2,
                    "300.0": 2, "600.0": 2, "+Inf": 3}  # fmt: skip
    assert samples[("offload_job_wait_seconds_sum", ("kind", "sales_summary"))] == pytest.approx(703.3)

    # A kind with no finished jobs is there, all zero.
    assert set(buckets(samples, "offload_job_run_seconds", "csv_profile").values()) == {0}
    assert samples[("offload_job_run_seconds_sum", ("kind", "csv_profile"))] == 0


def test_the_database_is_asked_twice_per_scrape_whatever_the_number_of_jobs(client, user, django_assert_num_queries):
    for seconds in range(20):
        job(user, wait=seconds, run=seconds)
    with django_assert_num_queries(2):  # jobs by kind and status; both histograms
        scrape(client)


def test_queue_depth_counts_the_messages_published_to_each_queue(client):
    for _ in range(2):
        celery_app.send_task("reports.tasks.run_report", args=["no-such-job"], queue="reports")
    celery_app.send_task("reports.tasks.start_image_batch", args=["no-such-job"], queue="images")
    samples = scrape(client)
    assert samples[("offload_broker_up",)] == 1
    assert samples[("offload_queue_messages", ("queue", "reports"))] == 2
    assert samples[("offload_queue_messages", ("queue", "images"))] == 1
    assert samples[("offload_queue_messages", ("queue", "default"))] == 0
    assert samples[("offload_workers_online",)] == 0  # none runs in this test


def test_workers_online_are_the_workers_that_answered(client, monkeypatch):
    answered = [overview.Worker("reports@a", ["reports"], 1), overview.Worker("images@b", ["images"], 0)]
    monkeypatch.setattr(overview, "workers_online", lambda: answered)
    assert scrape(client)[("offload_workers_online",)] == 2


def test_with_the_broker_down_the_scrape_still_answers_quickly_and_says_so(client, user, broker):
    job(user, status=Job.Status.QUEUED)
    broker.stop()
    try:
        started = time.monotonic()
        samples = scrape(client)
        took = time.monotonic() - started
    finally:
        broker.start(port=broker.port)
    assert samples[("offload_broker_up",)] == 0
    names = {key[0] for key in samples}
    assert not names & {"offload_queue_messages", "offload_workers_online", "offload_streams_open"}
    assert samples[("offload_jobs", ("kind", "sales_summary"), ("status", "queued"))] == 1
    assert took < 1.5, f"the scrape took {took:.1f} s"


def test_open_streams_are_the_live_entries_of_every_persons_stream_set(client, user, other_user, broker):
    async def open_streams():
        connection = aioredis.Redis.from_url(broker.url)
        try:
            slots = [await streams.take_slot(connection, user.pk) for _ in range(2)]
            slots.append(await streams.take_slot(connection, other_user.pk))
            return slots
        finally:
            await connection.aclose()

    slots = asyncio.run(open_streams())
    assert all(slots)
    # A stream whose process died: its entry has expired but is still in the set.
    redis.Redis.from_url(broker.url).zadd(streams.user_key(other_user.pk), {"dead": time.time() - 1})
    try:
        assert scrape(client)[("offload_streams_open",)] == 3
    finally:
        streams.open_here -= len(slots)  # take_slot counted them in this process


def test_the_endpoint_is_off_without_a_token_or_an_allow_list(client, settings):
    settings.OFFLOAD_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404
    assert client.post("/metrics", **BEARER).status_code == 404


def test_a_wrong_or_missing_token_is_403(client):
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x").status_code == 403


def test_only_get_is_answered(client):
    assert client.post("/metrics", **BEARER).status_code == 405


def test_an_allowed_address_needs_no_token(client, settings):
    settings.OFFLOAD_METRICS_ALLOW = ["10.0.0.0/8", "192.168.1.7"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.1.2.3").status_code == 200  # dual-stack server
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.8").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.8", **BEARER).status_code == 200
    settings.OFFLOAD_METRICS_TOKEN = ""  # the allow list alone turns the endpoint on
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.8", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_a_scrape_needs_no_session_and_sets_no_cookie(client):
    response = client.get("/metrics", **BEARER)
    assert response.status_code == 200 and not response.cookies
    assert "Cookie" not in response.get("Vary", "") and response["Cache-Control"] == "no-store"
