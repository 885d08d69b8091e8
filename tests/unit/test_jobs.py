import time

import pytest
import redis
from django.utils import timezone

from reports.engine import jobs
from reports.models import Job, JobArtifact

pytestmark = pytest.mark.django_db


def make_job(user, status=Job.Status.QUEUED, **fields) -> Job:
    return Job.objects.create(owner=user, kind="sales_summary", params={}, status=status, **fields)


def test_a_queued_job_starts_running(user):
    job = make_job(user)
    assert jobs.start(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.started_at is not None


def test_a_running_job_handed_back_by_the_broker_starts_again(user):
    job = make_job(user, Job.Status.RUNNING, progress=60)
    assert jobs.start(job.pk)
    job.refresh_from_db()
    assert job.progress == 0


@pytest.mark.parametrize("status", [Job.Status.SUCCEEDED, Job.Status.FAILED, Job.Status.CANCELLED])
def test_a_finished_job_never_starts_again(user, status):
    job = make_job(user, status)
    assert not jobs.start(job.pk)
    job.refresh_from_db()
    assert job.status == status


def test_a_late_success_does_not_overwrite_a_failure(user):
    job = make_job(user, Job.Status.FAILED, error_message="stopped")
    assert not jobs.succeed(job.pk, {"rows": []})
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.result is None


def test_a_late_failure_does_not_overwrite_a_success(user):
    job = make_job(user, Job.Status.SUCCEEDED)
    assert not jobs.fail(job.pk, "boom")
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.error_message == ""


def test_failing_records_a_message_and_a_reference(user):
    job = make_job(user, Job.Status.RUNNING)
    assert jobs.fail(job.pk, "The file is empty.")
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error_message == "The file is empty."
    assert len(job.error_reference) == 8 and job.finished_at is not None


def test_success_stores_the_result_and_completes_progress(user):
    job = make_job(user, Job.Status.RUNNING, progress=40)
    assert jobs.succeed(job.pk, {"rows": [1]})
    job.refresh_from_db()
    assert (job.status, job.progress, job.result) == (Job.Status.SUCCEEDED, 100, {"rows": [1]})


def test_progress_on_a_job_that_is_no_longer_running_stops_the_work(user):
    job = make_job(user, Job.Status.CANCELLED)
    with pytest.raises(jobs.JobNotRunning):
        jobs.set_progress(job.pk, 50, "Halfway")


def test_progress_stays_below_100_until_the_job_succeeds(user):
    job = make_job(user, Job.Status.RUNNING)
    jobs.set_progress(job.pk, 100, "Almost")
    job.refresh_from_db()
    assert job.progress == 99


def test_progress_writes_are_throttled_but_new_steps_always_land(user, django_assert_num_queries):
    job = make_job(user, Job.Status.RUNNING)
    recorder = jobs.ProgressRecorder(job.pk, interval=60)
    with django_assert_num_queries(2):  # one write per step; percentages in between wait
        recorder(10, "Reading")
        recorder(20, "Reading")
        recorder(30, "Reading")
        recorder(40, "Writing")
    job.refresh_from_db()
    assert (job.progress, job.step) == (40, "Writing")


def test_progress_is_written_again_once_the_interval_has_passed(user):
    job = make_job(user, Job.Status.RUNNING)
    recorder = jobs.ProgressRecorder(job.pk, interval=0.05)
    recorder(10, "Reading")
    time.sleep(0.06)  # the interval under test, not a wait for a condition
    recorder(20, "Reading")
    job.refresh_from_db()
    assert job.progress == 20


def test_saving_an_artifact_twice_keeps_one_file(user, settings):
    job = make_job(user, Job.Status.RUNNING)
    first = jobs.save_artifact(job, "report.csv", "CSV", "text/csv", b"a,b\n")
    second = jobs.save_artifact(job, "report.csv", "CSV", "text/csv", b"a,b\n1,2\n")
    assert JobArtifact.objects.filter(job=job).count() == 1
    assert not first.file.storage.exists(first.file.name) or first.file.name == second.file.name
    assert second.file.read() == b"a,b\n1,2\n" and second.size == 8
    assert list((settings.MEDIA_ROOT / "jobs" / str(job.pk)).iterdir()) == [settings.MEDIA_ROOT / second.file.name]


def queue_length(broker, queue="reports") -> int:
    return redis.Redis.from_url(broker.url).llen(queue)


@pytest.mark.django_db(transaction=True)
def test_creating_a_job_enqueues_it_on_the_reports_queue_after_commit(user, broker):
    before = queue_length(broker)
    job = jobs.create_job(user, "sales_summary", {"group_by": "region"})
    assert job.status == Job.Status.QUEUED
    assert queue_length(broker) == before + 1
    message = redis.Redis.from_url(broker.url).lindex("reports", 0)
    assert job.task_id.encode() in message
    redis.Redis.from_url(broker.url).delete("reports")


@pytest.mark.django_db(transaction=True)
def test_a_job_is_not_enqueued_when_its_transaction_rolls_back(user, broker):
    from django.db import transaction

    before = queue_length(broker)
    with pytest.raises(RuntimeError), transaction.atomic():
        jobs.create_job(user, "sales_summary", {})
        raise RuntimeError("the view failed after creating the job")
    assert queue_length(broker) == before
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_broker_down_fails_the_job_quickly_with_a_clear_message(user, broker):
    broker.stop()
    try:
        started = time.monotonic()
        job = jobs.create_job(user, "sales_summary", {})
        took = time.monotonic() - started
    finally:
        broker.start(port=broker.port)
    assert job.status == Job.Status.FAILED
    assert "task queue could not be reached" in job.error_message
    stored = Job.objects.get(pk=job.pk)
    assert stored.status == Job.Status.FAILED and stored.error_reference
    assert stored.finished_at <= timezone.now()
    # Not a speed goal: a bound that tells "answers with a message" from "hangs the request".
    assert took < 30


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("htmx", [True, False])
def test_a_click_while_redis_is_down_answers_with_the_message_not_an_error_page(owner_client, broker, settings, htmx):
    settings.OFFLOAD_DEMO_ORDERS = 5_000
    form = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    broker.stop()
    try:
        response = owner_client.post("/reports/sales-summary/", form, **headers, follow=not htmx)
    finally:
        broker.start(port=broker.port)
    assert response.status_code == 200
    assert "The task queue could not be reached" in response.content.decode()
    job = Job.objects.get()
    assert job.status == Job.Status.FAILED and job.error_reference
    # Nothing was lost: run again once Redis is back queues the same parameters.
    assert jobs.run_again(job).status == Job.Status.QUEUED
