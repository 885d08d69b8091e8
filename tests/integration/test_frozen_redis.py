"""A Redis that hangs instead of refusing: its process frozen with SIGSTOP, as a stalled server or
a network partition leaves the web server's connections open with nothing answering them.

Real processes: uvicorn as `make run` serves the app, a Celery worker, this test's own Redis.
"""

import os
import signal
import time

import httpx
import psutil
import pytest
from django.contrib.auth import get_user_model

from project.embedded_redis import EmbeddedRedis
from reports.models import Job
from tests.conftest import start_asgi_server, start_worker, stop_process
from tests.integration.test_streams import Listener, close_open_listeners
from tests.support import csrf_headers, signed_in_client, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FORM = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}
BROKER_DOWN = "The task queue could not be reached"


@pytest.fixture
def frozen_redis_setup(tmp_path):
    redis_server = EmbeddedRedis(tmp_path / "redis", persist=False).start()
    server = start_asgi_server(redis_server.url, tmp_path / "uvicorn.log", OFFLOAD_STREAM_HEARTBEAT=1)
    worker = start_worker(redis_server.url, tmp_path / "worker.log")
    yield redis_server, server, worker
    os.kill(redis_server.process.pid, signal.SIGCONT)  # in case the test failed while it was frozen
    stop_process(worker)
    stop_process(server)
    redis_server.stop()


def click(client) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = client.post("/reports/sales-summary/", data=FORM, headers=csrf_headers(client))
    return time.monotonic() - started, response


def test_a_frozen_redis_costs_a_click_seconds_not_minutes_and_pages_keep_answering(frozen_redis_setup):
    redis_server, server, worker = frozen_redis_setup
    get_user_model().objects.create_user("ada", password="correct horse battery")
    client = signed_in_client(server.url, "ada", "correct horse battery")
    # A job before the freeze: every connection the server and worker keep is open and in use.
    took, response = click(client)
    assert response.status_code == 200 and BROKER_DOWN not in response.text
    finished = Job.objects.get()
    wait_for(lambda: Job.objects.get(pk=finished.pk).status == Job.Status.SUCCEEDED, 60, "the first job")
    assert client.get(f"/jobs/{finished.pk}/events/", timeout=10).status_code == 200
    threads_before = psutil.Process(server.pid).num_threads()
    # A page's stream open across the freeze, on a job no worker will take (it has no message).
    waiting = Job.objects.create(owner=finished.owner, kind="sales_summary", params=FORM)
    listener = Listener(f"{server.url}/jobs/{waiting.pk}/events/", dict(client.cookies))
    wait_for(lambda: "message" in listener.names(), 10, "the stream's first fragment")

    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        took, response = click(client)
        print(f"\nA click while Redis is frozen answered in {took:.1f} s")
        assert response.status_code == 200
        assert BROKER_DOWN in response.text
        assert took < 5
        failed = Job.objects.exclude(pk__in=[finished.pk, waiting.pk]).get()
        assert failed.status == Job.Status.FAILED and failed.error_reference

        # Pages keep answering: polls from the database, a stream says at once it cannot open.
        for _ in range(10):
            started = time.monotonic()
            poll = client.get(f"/jobs/{finished.pk}/status/", headers={"HX-Request": "true"}, timeout=10)
            assert poll.status_code == 200
            assert client.get(f"/jobs/{failed.pk}/", timeout=10).status_code == 200
            assert time.monotonic() - started < 2
        started = time.monotonic()
        opened = client.get(f"/jobs/{finished.pk}/events/", timeout=10)
        took = time.monotonic() - started
        print(f"A stream opened while Redis is frozen answered {opened.status_code} in {took:.1f} s")
        assert opened.status_code == 503 and took < 5
        # The open stream ends at its next heartbeat without `end`: its page polls meanwhile.
        assert listener.ended.wait(10)
        assert "end" not in listener.names()
        threads_during = psutil.Process(server.pid).num_threads()
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
        close_open_listeners()
    # Nothing piled up while it was frozen.
    assert threads_during <= threads_before + 2

    # Thawed: the failed job's Run again is queued and the worker runs it; streams open again.
    response = client.post(f"/jobs/{failed.pk}/run-again/", headers=csrf_headers(client))
    assert response.status_code in (200, 302) and BROKER_DOWN not in response.text
    again = Job.objects.exclude(pk__in=[finished.pk, waiting.pk, failed.pk]).get()
    wait_for(lambda: Job.objects.get(pk=again.pk).status == Job.Status.SUCCEEDED, 60, "the job run again")
    assert client.get(f"/jobs/{finished.pk}/events/", timeout=10).status_code == 200
