"""A job whose worker dies runs again within a minute, exactly once: leases, the rescue check on
beat, attempt-guarded writes. Real processes throughout: a Redis of the test's own, workers
killed (SIGKILL) or frozen (SIGSTOP), beat sending the rescue check.

The lease and the check are shortened here (4 s and 1 s) so ten kills fit in the suite; with the
defaults (20 s and 10 s) the same path takes at most about 30 s plus a worker's pickup, which
`test_with_the_default_lease_a_killed_workers_job_is_running_again_within_a_minute` shows once.
"""

import os
import signal
import statistics
import time

import pytest
import redis
from celery import Celery
from django.core.files.base import ContentFile

from project.embedded_redis import EmbeddedRedis
from reports.engine import leases
from reports.models import ImageItem, Job
from tests.conftest import start_beat, stop_process
from tests.fault_injection import FAULT, SLOW_WATERMARK
from tests.integration.test_faults import SALES_ARTIFACTS, final, kill_whole_worker, send_job
from tests.support import jpeg_bytes, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

QUICK = {"OFFLOAD_LEASE_SECONDS": 4, "OFFLOAD_RESCUE_CHECK_SECONDS": 1}


@pytest.fixture
def own_redis(tmp_path):
    """This test's Redis, without persistence: a restart empties it, as a Redis without an
    append-only file (or a flushed one) loses everything."""
    server = EmbeddedRedis(tmp_path / "redis", persist=False).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def leases_on_own_redis(own_redis, monkeypatch):
    """This process reads the leases where the test's workers keep them."""
    monkeypatch.setattr(leases, "_client", redis.Redis.from_url(own_redis.url))


@pytest.fixture
def beat(own_redis, tmp_path):
    started = []

    def start(**settings):
        process = start_beat(own_redis.url, tmp_path / "beat.log", "--max-interval", "1", **settings)
        started.append(process)
        return process

    yield start
    for process in started:
        stop_process(process)


def running_attempt(job_id, attempt: int, timeout: float = 60) -> Job:
    def started():
        job = Job.objects.get(pk=job_id)
        return job if job.status == Job.Status.RUNNING and job.attempt == attempt and job.progress >= 2 else None

    return wait_for(started, timeout, f"job {job_id} to be running as attempt {attempt}")


def worker_holding(lease, candidates):
    """The worker whose pool process holds the lease (a job's id, or leases.image(item_id))."""

    def holder():
        held = leases.holder(lease)
        return held and next((w for w in candidates if w.poll() is None and os.getpgid(held.pid) == w.pid), None)

    return wait_for(holder, 30, f"a worker to hold lease {lease}")


def assert_one_set_of_downloads(job: Job) -> None:
    assert set(job.artifacts.values_list("name", flat=True)) == SALES_ARTIFACTS
    folder = job.artifacts.first().file.storage.path(f"jobs/{job.pk}")
    assert sorted(os.listdir(folder)) == sorted(SALES_ARTIFACTS)


def test_ten_killed_workers_jobs_each_run_again_on_the_other_worker_and_end_once(own_redis, workers, beat, user):
    pool = [workers(f"w{n}", concurrency=1, **QUICK) for n in range(2)]
    beat(**QUICK)
    waits = []
    for round_number in range(10):
        job = send_job(own_redis.url, user, **{FAULT: "slow:4"})
        running_attempt(job.pk, 1)
        victim = worker_holding(job.pk, pool)
        kill_whole_worker(victim)
        killed_at = time.monotonic()
        running_attempt(job.pk, 2)
        waits.append(time.monotonic() - killed_at)
        pool = [w for w in pool if w is not victim] + [workers(f"w{round_number + 2}", concurrency=1, **QUICK)]
        job = final(job.pk)
        assert job.status == Job.Status.SUCCEEDED and job.restarts == 1, job.error_message
        assert_one_set_of_downloads(job)
    print(f"\nkill → running again: p50 {statistics.median(waits):.1f} s, max {max(waits):.1f} s "
          f"(lease 4 s, check every 1 s)")  # fmt: skip
    assert max(waits) < 60


def test_with_the_default_lease_a_killed_workers_job_is_running_again_within_a_minute(own_redis, workers, beat, user):
    pool = [workers(f"w{n}", concurrency=1) for n in range(2)]
    beat()
    # Long enough to take its lease (a third of a lease in) before it is killed.
    job = send_job(own_redis.url, user, **{FAULT: "slow:12"})
    running_attempt(job.pk, 1)
    kill_whole_worker(worker_holding(job.pk, pool))
    killed_at = time.monotonic()
    job = running_attempt(job.pk, 2, timeout=60)
    print(
        f"\nkill → running again with the default lease (20 s) and check (10 s): {time.monotonic() - killed_at:.1f} s"
    )
    assert job.restarted_note == "The worker running this job stopped; it was started again (attempt 2 of 3)."
    job = final(job.pk)
    assert job.status == Job.Status.SUCCEEDED and job.restarts == 1
    assert_one_set_of_downloads(job)


def test_a_frozen_worker_is_superseded_and_when_it_thaws_it_writes_nothing(own_redis, workers, beat, user):
    frozen = workers("frozen", concurrency=1, **QUICK)
    job = send_job(own_redis.url, user, **{FAULT: "slow:4"})
    running_attempt(job.pk, 1)
    os.killpg(frozen.pid, signal.SIGSTOP)
    try:
        workers("other", concurrency=1, **QUICK)
        beat(**QUICK)
        job = final(job.pk)
        assert job.status == Job.Status.SUCCEEDED and job.attempt == 2
        downloads = {a.name: (a.pk, a.file.read()) for a in job.artifacts.all()}
    finally:
        os.killpg(frozen.pid, signal.SIGCONT)
    wait_for(lambda: "superseded" in frozen.log_path.read_text(), 30, "the thawed attempt to stop")
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.attempt == 2
    assert {a.name: (a.pk, a.file.read()) for a in job.artifacts.all()} == downloads
    assert_one_set_of_downloads(job)


def test_redis_restarted_empty_with_jobs_queued_and_running_ends_each_once(own_redis, workers, beat, user):
    workers("only", concurrency=1, **QUICK)
    beat(**QUICK)
    wait_for(lambda: own_redis_has_marker(), 30, "the rescue check to run once")
    sent = [send_job(own_redis.url, user, **{FAULT: "slow:3"}) for _ in range(3)]
    running_attempt(sent[0].pk, 1)
    own_redis.stop()
    own_redis.start(port=int(own_redis.url.rsplit(":", 1)[1].split("/")[0]))
    for job in sent:
        job = final(job.pk, timeout=120)
        assert job.status == Job.Status.SUCCEEDED, job.error_message
        assert_one_set_of_downloads(job)


def own_redis_has_marker() -> bool:
    return bool(leases.client().exists(leases.MARKER))


def test_an_image_whose_worker_is_killed_runs_again_on_the_other_worker_and_the_batch_finishes(
    own_redis, workers, beat, user
):
    pool = [workers(f"w{n}", concurrency=1, **QUICK) for n in range(2)]
    beat(**QUICK)
    options = {"watermark": SLOW_WATERMARK, "quality": 85, "strip_metadata": True}
    job = Job.objects.create(owner=user, kind="image_batch", params={"options": options, "count": 4})
    for position in range(1, 5):
        item = ImageItem(job=job, position=position, source_name=f"{position}.jpg", source_bytes=1)
        item.original.save("original", ContentFile(jpeg_bytes(64, 48)), save=True)
    producer = Celery(broker=own_redis.url, set_as_current=False)
    producer.send_task("reports.tasks.start_image_batch", args=[str(job.pk)], task_id=job.task_id, queue="images")
    producer.close()

    def leased_item():
        for item in ImageItem.objects.filter(job=job, status=ImageItem.Status.PENDING, starts=1):
            if leases.holder(leases.image(item.pk)):
                return item
        return None

    item = wait_for(leased_item, 60, "a worker to begin an image")
    victim = worker_holding(leases.image(item.pk), pool)
    kill_whole_worker(victim)
    killed_at = time.monotonic()
    workers("w2", concurrency=1, **QUICK)
    wait_for(lambda: ImageItem.objects.get(pk=item.pk).starts == 2, 60, "the image to be begun again")
    print(f"\nkill → the image running again: {time.monotonic() - killed_at:.1f} s (lease 4 s, check every 1 s)")
    job = final(job.pk, timeout=60)
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    assert set(job.images.values_list("status", flat=True)) == {ImageItem.Status.DONE}
    assert ImageItem.objects.get(pk=item.pk).starts == 2
    assert job.artifacts.filter(name="images.zip").count() == 1
