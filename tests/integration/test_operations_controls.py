"""The Operations controls on real processes: uvicorn serving the page, Celery workers obeying
Celery's remote control, this test's own Redis."""

import re
import socket
import time

import pytest

from reports.models import Job
from tests.integration.test_faults import final, send_job
from tests.support import csrf_headers, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def post(client, path: str) -> str:
    response = client.post(path, headers=csrf_headers(client))
    assert response.status_code == 200, response.text[:500]
    return response.text


def stays_queued(job_id, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if Job.objects.get(pk=job_id).status != Job.Status.QUEUED:
            return False
        time.sleep(0.2)
    return True


def test_a_paused_queue_holds_its_jobs_even_for_a_worker_started_later_and_resume_runs_them(
    own_redis, workers, operator, user
):
    workers("w1", concurrency=1)
    workers("images", concurrency=1, queues="images")  # a machine for image batches only
    assert "Queue reports paused: 1 worker confirmed." in post(operator, "/operations/queues/reports/pause/")
    job = send_job(own_redis.url, user)
    assert stays_queued(job.pk, 5)
    workers("w2", concurrency=1)  # starts while the queue is paused: leaves it out
    assert stays_queued(job.pk, 5)
    # Resumed for the workers that had it, not handed to the images-only one.
    assert "Queue reports resumed: 2 workers confirmed." in post(operator, "/operations/queues/reports/resume/")
    assert final(job.pk, timeout=60).status == Job.Status.SUCCEEDED
    images_only = re.search(rf"images@{socket.gethostname()}</strong>\s*<span[^>]*>· ([a-z, ]+) ·", machinery(operator))
    assert images_only and images_only.group(1) == "images"


def test_a_workers_pool_grows_and_shrinks_and_the_page_shows_it(own_redis, workers, operator):
    workers("w1", concurrency=1)
    name = f"w1@{socket.gethostname()}"
    wait_for(lambda: "pool of 1" in machinery(operator), 30, "the worker to be listed")
    assert f"{name} confirmed: one process more." in post(operator, f"/operations/workers/{name}/grow/")
    wait_for(lambda: "pool of 2" in machinery(operator), 30, "the pool to grow")
    assert f"{name} confirmed: one process fewer." in post(operator, f"/operations/workers/{name}/shrink/")
    wait_for(lambda: "pool of 1" in machinery(operator), 30, "the pool to shrink")


def machinery(client) -> str:
    return client.get("/operations/machinery/", headers={"HX-Request": "true"}).text
