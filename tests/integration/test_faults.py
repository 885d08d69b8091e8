"""Faults injected on real processes: workers killed and stopped, a poison job, time limits,
Redis restarted. Each test has a Redis of its own and its own workers, so nothing else running
in the suite takes its jobs."""

import os
import signal

import pytest
from celery import Celery

from project.embedded_redis import EmbeddedRedis
from reports.models import ImageItem, Job
from tests.fault_injection import CRASH_WATERMARK, FAULT
from tests.support import jpeg_bytes, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SALES_PARAMS = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}
# What a finished sales summary leaves: its four downloads.
SALES_ARTIFACTS = {"sales-summary.csv", "sales-summary.xlsx", "sales-summary.pdf", "chart.svg"}


@pytest.fixture
def own_redis(tmp_path):
    """A Redis for this test alone, append-only so a restart keeps what was queued."""
    server = EmbeddedRedis(tmp_path / "redis", persist=True).start()
    yield server
    server.stop()


def send_job(broker_url: str, owner, **params) -> Job:
    """A job row and its task on this test's broker, as create_job would send it.

    The producer app is not made Celery's current app: the suite's own tasks would follow it to
    this test's Redis, which is gone once the test ends.
    """
    job = Job.objects.create(owner=owner, kind="sales_summary", params={**SALES_PARAMS, **params})
    producer = Celery(broker=broker_url, set_as_current=False)
    producer.send_task("reports.tasks.run_report", args=[str(job.pk)], task_id=job.task_id, queue="reports")
    producer.close()
    return job


def final(job_id, timeout=90) -> Job:
    def done():
        job = Job.objects.get(pk=job_id)
        return job if job.status in Job.FINAL_STATUSES else None

    return wait_for(done, timeout, f"job {job_id} to end")


def running_with_progress(job_id) -> None:
    wait_for(lambda: Job.objects.get(pk=job_id).progress >= 5, 60, "the job to make progress")


def kill_whole_worker(worker) -> None:
    """SIGKILL to the worker's main process and its pool, as a machine dying would."""
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def test_a_worker_killed_mid_job_hands_it_back_and_it_completes_exactly_once(own_redis, workers, user):
    # Redis hands an unacknowledged task back after the visibility timeout: 10 s here (longer than
    # the job takes, as the default 22 minutes is longer than the hard time limit).
    timing = {"OFFLOAD_VISIBILITY_TIMEOUT": 10, "OFFLOAD_RESTORE_INTERVAL": 1}
    first = workers("first", **timing)
    job = send_job(own_redis.url, user, **{FAULT: "slow:2"})
    running_with_progress(job.pk)
    kill_whole_worker(first)
    assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING  # nobody has told it yet

    workers("second", **timing)
    job = final(job.pk)
    assert job.status == Job.Status.SUCCEEDED and job.restarts == 1
    assert set(job.artifacts.values_list("name", flat=True)) == SALES_ARTIFACTS  # one of each, no duplicates
    folder = job.artifacts.first().file.storage.path(f"jobs/{job.pk}")
    assert sorted(os.listdir(folder)) == sorted(SALES_ARTIFACTS)


def test_a_job_that_kills_its_worker_every_time_fails_after_a_bounded_number_of_restarts(own_redis, workers, user):
    worker = workers()
    job = final(send_job(own_redis.url, user, **{FAULT: "crash"}).pk)
    assert job.status == Job.Status.FAILED and job.restarts == 2
    assert "stopped the worker running it 3 times" in job.error_message and job.error_reference
    # The worker itself survived its pool processes dying, and takes the next job.
    assert worker.poll() is None
    assert final(send_job(own_redis.url, user).pk).status == Job.Status.SUCCEEDED


def test_a_job_whose_worker_died_once_is_restarted_and_succeeds(own_redis, workers, user):
    workers()
    job = final(send_job(own_redis.url, user, **{FAULT: "crash-once"}).pk)
    assert job.status == Job.Status.SUCCEEDED and job.restarts == 1


def test_an_image_that_kills_its_worker_fails_alone_and_the_batch_finishes(own_redis, workers, user, settings):
    from django.core.files.base import ContentFile

    workers()
    options = {"watermark": CRASH_WATERMARK, "quality": 85, "strip_metadata": True}
    job = Job.objects.create(owner=user, kind="image_batch", params={"options": options, "count": 1})
    item = ImageItem(job=job, position=1, source_name="poison.jpg", source_bytes=1)
    item.original.save("x", ContentFile(jpeg_bytes(64, 48)), save=True)
    producer = Celery(broker=own_redis.url, set_as_current=False)
    producer.send_task("reports.tasks.start_image_batch", args=[str(job.pk)], task_id=job.task_id, queue="images")
    producer.close()
    job = final(job.pk)
    item.refresh_from_db()
    assert item.status == ImageItem.Status.FAILED and "stopped its worker" in item.error
    assert job.status == Job.Status.FAILED and "None of the 1 images" in job.error_message


def test_sigterm_lets_the_running_job_finish_before_the_worker_exits(own_redis, workers, user):
    worker = workers()
    job = send_job(own_redis.url, user, **{FAULT: "slow:4"})
    running_with_progress(job.pk)
    worker.terminate()  # SIGTERM: Celery's warm shutdown
    assert worker.wait(timeout=60) == 0
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.restarts == 0
    assert set(job.artifacts.values_list("name", flat=True)) == SALES_ARTIFACTS


def test_past_the_soft_time_limit_a_job_stops_cleanly_and_says_so(own_redis, workers, user):
    workers(OFFLOAD_REPORT_SOFT_TIME_LIMIT=2, OFFLOAD_REPORT_TIME_LIMIT=30)
    job = final(send_job(own_redis.url, user, **{FAULT: "slow:20"}).pk)
    assert job.status == Job.Status.FAILED
    assert "took longer than its 2-second limit and was stopped" in job.error_message
    assert not job.artifacts.exists()


def test_past_the_hard_time_limit_the_process_is_replaced_and_the_job_failed(own_redis, workers, user):
    worker = workers(OFFLOAD_REPORT_SOFT_TIME_LIMIT=1, OFFLOAD_REPORT_TIME_LIMIT=3)
    job = final(send_job(own_redis.url, user, **{FAULT: "stubborn"}).pk, timeout=60)
    assert job.status == Job.Status.FAILED and "ran past its 3-second hard limit" in job.error_message
    assert "Hard time limit (3s) exceeded" in worker.log_path.read_text()
    # Not stuck: the worker replaced the killed process and takes the next job.
    assert final(send_job(own_redis.url, user).pk).status == Job.Status.SUCCEEDED


def test_workers_keep_consuming_after_redis_restarts_while_idle(own_redis, workers, user):
    workers()
    assert final(send_job(own_redis.url, user).pk).status == Job.Status.SUCCEEDED
    own_redis.stop()
    own_redis.start(port=own_redis.port)
    assert final(send_job(own_redis.url, user).pk, timeout=120).status == Job.Status.SUCCEEDED


def test_a_job_running_while_redis_restarts_completes_and_queued_jobs_are_not_lost(own_redis, workers, user):
    workers(concurrency=1)
    running = send_job(own_redis.url, user, **{FAULT: "slow:6"})
    running_with_progress(running.pk)
    queued = send_job(own_redis.url, user)  # waits behind it, in Redis
    own_redis.stop()
    own_redis.start(port=own_redis.port)
    assert final(running.pk, timeout=120).status == Job.Status.SUCCEEDED
    assert final(queued.pk, timeout=120).status == Job.Status.SUCCEEDED
