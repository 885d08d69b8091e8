"""Leases and the rescue check against the suite's real Redis, the task functions called directly."""

import time
from datetime import timedelta

import pytest
import redis
from celery.exceptions import TimeLimitExceeded
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django_celery_results.models import TaskResult

from reports.engine import dispatch, jobs, leases
from reports.job_kinds import image_batch
from reports.models import ImageItem, Job
from reports.work import batches
from tests.support import wait_for

pytestmark = pytest.mark.django_db

SALES_PARAMS = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}


@pytest.fixture(autouse=True)
def short_lease(settings, broker, monkeypatch):
    settings.OFFLOAD_LEASE_SECONDS = 0.6
    monkeypatch.setattr(leases, "_client", redis.Redis.from_url(broker.url))
    monkeypatch.setattr(jobs, "enqueue", lambda job: True)  # the republish itself is Celery's


def running_job(user, attempt=1, restarts=0, quiet_for=5.0) -> Job:
    return Job.objects.create(
        owner=user, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.RUNNING,
        attempt=attempt, restarts=restarts, heartbeat_at=timezone.now() - timedelta(seconds=quiet_for),
    )  # fmt: skip


def test_a_lease_outlives_a_long_step_with_no_progress_and_the_job_is_not_rescued(user):
    job = running_job(user)
    with leases.held(job.pk, job.attempt):
        time.sleep(2.0)  # more than three lease lengths, with no progress written
        assert leases.holder(job.pk).attempt == 1
        assert jobs.rescue_orphans() == 0
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.attempt == 1
    assert leases.holder(job.pk) is None  # released at the end


def test_a_running_job_without_a_lease_goes_back_to_the_queue_as_its_next_attempt(user):
    job = running_job(user)
    jobs.save_artifact(job, "partial.csv", "CSV", "text/csv", b"half\n")
    # Written by the dead attempt, which was killed before it recorded it: no row names it.
    unrecorded = default_storage.save(f"jobs/{job.pk}/partial.xlsx", ContentFile(b"half"))
    assert jobs.rescue_orphans() == 1
    job.refresh_from_db()
    assert (job.status, job.attempt, job.restarts) == (Job.Status.QUEUED, 2, 1)
    assert not job.artifacts.exists()  # the dead attempt's partial outputs
    assert not default_storage.exists(unrecorded)
    assert [(entry["attempt"], entry["outcome"]) for entry in job.history] == [
        (1, "Its worker died (lease lapsed): queued again")
    ]
    assert job.restarted_note == "The worker running this job stopped; it was started again (attempt 2 of 3)."


def test_a_job_that_just_started_is_given_the_time_to_take_its_lease(user):
    running_job(user, quiet_for=0)
    assert jobs.rescue_orphans() == 0


def test_a_job_that_has_lost_its_worker_too_often_fails_with_the_sentence_it_always_had(user):
    job = running_job(user, attempt=3, restarts=2)
    jobs.rescue_orphans()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and "stopped the worker running it 3 times" in job.error_message


def test_a_superseded_attempt_cannot_write_progress_outputs_or_its_result(user):
    job = running_job(user, attempt=2)
    with pytest.raises(jobs.JobNotRunning):
        jobs.set_progress(job.pk, 50, "Late", attempt=1)
    with pytest.raises(jobs.JobNotRunning):
        jobs.save_artifact(job, "report.csv", "CSV", "text/csv", b"stale\n", attempt=1)
    assert not jobs.succeed(job.pk, {"stale": True}, attempt=1)
    assert not jobs.fail(job.pk, "stale", attempt=1)
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.result is None and not job.artifacts.exists()


def test_a_frozen_attempt_that_wakes_does_not_take_the_lease_back(user):
    job = running_job(user, attempt=2)
    leases.client().set(leases.key(job.pk), str(leases.Holder(2, "elsewhere", 1)), px=60_000)
    mine = leases.Holder(1, "here", 2)
    assert not leases.renew(job.pk, mine)
    assert not leases.client().eval(leases.RELEASE, 1, leases.key(job.pk), str(mine))
    assert leases.holder(job.pk).attempt == 2


def test_a_newer_attempt_takes_the_lease_from_an_older_one_that_woke_first(user):
    job = running_job(user, attempt=2)
    # The frozen attempt 1 woke while attempt 2 had not taken its lease yet, and took it.
    assert leases.renew(job.pk, leases.Holder(1, "here", 2))
    assert leases.renew(job.pk, leases.Holder(2, "elsewhere", 1))
    assert leases.holder(job.pk).attempt == 2
    assert not leases.renew(job.pk, leases.Holder(1, "here", 2))  # so the old one stops renewing


def test_a_short_job_never_touches_redis_for_its_lease(user, settings):
    settings.OFFLOAD_LEASE_SECONDS = 30
    job = running_job(user)
    with leases.held(job.pk, job.attempt):
        assert leases.holder(job.pk) is None  # not taken in its first third: most jobs end by then
    assert leases.holder(job.pk) is None


def test_a_delivery_for_a_job_running_under_a_live_lease_is_skipped(user):
    job = running_job(user)
    with leases.held(job.pk, job.attempt):
        wait_for(lambda: leases.holder(job.pk), 2, "the lease to be taken")
        assert jobs.start(job.pk) is None
    job.refresh_from_db()
    assert job.attempt == 1 and job.restarts == 0


def test_redis_losing_its_data_republishes_every_queued_job_once(user, monkeypatch):
    published = []
    monkeypatch.setattr(jobs, "enqueue", lambda job: published.append(job.pk) or True)
    queued = [Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS) for _ in range(3)]
    leases.client().delete(leases.MARKER)  # as after a restart without persistence
    jobs.rescue_orphans()
    jobs.rescue_orphans()  # the marker is back: nothing more
    assert sorted(published) == sorted(job.pk for job in queued)


def image_in_progress(user, begun_ago: float) -> ImageItem:
    job = Job.objects.create(owner=user, kind="image_batch", params={"options": {}}, status=Job.Status.RUNNING)
    return ImageItem.objects.create(
        job=job, position=1, source_name="a.jpg", original="x", starts=1,
        started_at=timezone.now() - timedelta(seconds=begun_ago),
    )  # fmt: skip


def capture(sent: list):
    def send(name, args, **options):
        assert name == batches.PROCESS_IMAGE
        sent.append({"args": args, **options})

    return send


@pytest.fixture
def published(monkeypatch):
    sent = []
    monkeypatch.setattr(dispatch, "send", capture(sent))
    return sent


def test_an_image_whose_worker_died_is_queued_again_once_under_its_own_task_and_chord(user, published):
    item = image_in_progress(user, begun_ago=5)
    assert batches.rescue_images() == 1
    job = item.job
    assert published == [{
        "args": [item.pk],
        "task_id": batches.image_task_id(job.pk, job.attempt, item.pk),
        "group_id": batches.chord_id(job.pk, job.attempt),
        "chord": image_batch.finish_image_batch.si(str(job.pk), job.attempt),  # the same signature as the task's own
    }]  # fmt: skip
    # While it waits in the queue, later checks leave it alone.
    assert batches.rescue_images() == 0 and len(published) == 1


def test_an_image_under_a_live_lease_or_just_begun_is_left_alone(user, published):
    leased = image_in_progress(user, begun_ago=5)
    image_in_progress(user, begun_ago=0)
    with leases.held(leases.image(leased.pk), leased.starts):
        wait_for(lambda: leases.holder(leases.image(leased.pk)), 2, "the lease to be taken")
        assert batches.rescue_images() == 0
    assert published == []


def test_an_image_begun_again_takes_the_next_attempt_and_stops_at_the_cap(user):
    item = image_in_progress(user, begun_ago=5)
    assert batches.begin(item) == 2
    assert batches.begin(item) == 3
    assert batches.begin(item) == 0  # OFFLOAD_MAX_RESTARTS (2) + 1 starts: it kills its workers


def test_an_image_whose_task_already_ended_is_not_sent_again(user, published):
    item = image_in_progress(user, begun_ago=5)
    job = item.job
    TaskResult.objects.create(task_id=batches.image_task_id(job.pk, job.attempt, item.pk), status="FAILURE")
    assert batches.rescue_images() == 0 and published == []


def test_an_image_the_broker_would_not_take_is_tried_again_at_the_next_check(user, monkeypatch):
    item = image_in_progress(user, begun_ago=5)

    def broker_away(name, args, **options):
        raise ConnectionError("Redis away")

    monkeypatch.setattr(dispatch, "send", broker_away)
    assert batches.rescue_images() == 0
    sent = []
    monkeypatch.setattr(dispatch, "send", capture(sent))
    assert batches.rescue_images() == 1 and sent[0]["args"] == [item.pk]


def test_a_second_delivery_of_an_image_the_chord_counted_is_ignored(user):
    item = image_in_progress(user, begun_ago=5)
    task_id = batches.image_task_id(item.job.pk, item.job.attempt, item.pk)
    TaskResult.objects.create(task_id=task_id, status="SUCCESS")
    result = image_batch.process_image.apply(args=[item.pk], task_id=task_id)
    assert result.state == "IGNORED"
    item.refresh_from_db()
    assert item.starts == 1  # not begun again


def test_an_image_past_its_hard_time_limit_is_failed_so_it_is_never_sent_again(user):
    item = image_in_progress(user, begun_ago=5)
    image_batch.process_image.on_failure(TimeLimitExceeded(150), "some-id", [item.pk], {}, None)
    item.refresh_from_db()
    assert item.status == ImageItem.Status.FAILED and "took too long" in item.error
