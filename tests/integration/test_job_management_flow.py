"""Cancel, retry, lost jobs and scheduled runs through a real Redis, worker and beat."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reports.engine import jobs, schedules
from reports.models import Job, ReportSchedule
from tests.fault_injection import FAULT
from tests.support import HTMX, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SALES_PARAMS = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}


def finished(job_id, timeout=90) -> Job:
    def done():
        job = Job.objects.get(pk=job_id)
        return job if job.status in Job.FINAL_STATUSES else None

    return wait_for(done, timeout, f"job {job_id} to finish")


def start_job(owner, **params) -> Job:
    return jobs.create_job(owner, "sales_summary", {**SALES_PARAMS, **params})


def test_cancelling_a_running_job_stops_it_at_its_next_step_and_removes_its_files(
    celery_worker_process, owner_client, user
):
    job = start_job(user, **{FAULT: "slow"})
    wait_for(lambda: Job.objects.get(pk=job.pk).progress >= 5, 60, "the job to make progress")
    response = owner_client.post(reverse("job_cancel", args=[job.pk]), **HTMX)
    assert "This job was cancelled." in response.content.decode()
    wait_for(lambda: f"Job {job.pk} stopped while running" in celery_worker_process.log_path.read_text(), 30,
             "the worker to stop the job")  # fmt: skip
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and not job.artifacts.exists() and job.result is None
    # The worker is free again: the next job runs to the end.
    assert finished(start_job(user).pk).status == Job.Status.SUCCEEDED


def test_a_cancelled_queued_job_never_starts(celery_worker_process, user):
    # Cancelled before its message reaches the worker (the cancel lands in the same commit).
    from django.db import transaction

    with transaction.atomic():
        job = start_job(user)
        jobs.cancel(job)
    wait_for(lambda: job.task_id in celery_worker_process.log_path.read_text(), 30, "the worker to see the job")
    follower = finished(start_job(user).pk)  # the worker has moved past it
    job.refresh_from_db()
    assert follower.status == Job.Status.SUCCEEDED
    assert job.status == Job.Status.CANCELLED and job.started_at is None and not job.artifacts.exists()


def test_a_transient_failure_is_retried_with_backoff_and_then_succeeds(celery_worker_process, user):
    job = start_job(user, **{FAULT: "transient"})
    seen_retrying = wait_for(lambda: "Retrying (attempt 2 of 3)" in Job.objects.get(pk=job.pk).step or
                             Job.objects.get(pk=job.pk).attempt >= 2, 60, "the first retry")  # fmt: skip
    assert seen_retrying
    job = finished(job.pk)
    assert job.status == Job.Status.SUCCEEDED and job.attempt == 3
    log = celery_worker_process.log_path.read_text()
    assert f"Job {job.pk} hit ConnectionError" in log and "attempt 3 of 3 follows" in log


def test_beat_fails_a_job_whose_worker_vanished(celery_worker_process, celery_beat_process, owner_client, user):
    # Running, but nothing has written progress for longer than the 30-minute limit: its worker is gone.
    stale = timezone.now() - timedelta(minutes=31)
    job = Job.objects.create(
        owner=user, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.RUNNING,
        started_at=stale, heartbeat_at=stale,
    )  # fmt: skip
    job = finished(job.pk, timeout=60)
    assert job.status == Job.Status.FAILED and "stopped responding" in job.error_message
    page = owner_client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert "stopped responding" in page and "Run again" in page


def test_beat_runs_a_due_schedule_as_an_ordinary_job_of_its_owner(celery_worker_process, celery_beat_process, user):
    # "Last month" on the tests' pinned demo calendar (its last day 31 Dec 2025): December 2025.
    relative = {"period": "last_month", "group_by": "region", "metric": "orders"}
    schedule = schedules.save_schedule(
        user, "Every minute", "sales_summary", relative,
        schedules.Timing("crontab", "Europe/Paris", crontab_expression="* * * * *"), False,
    )  # fmt: skip
    # Last run two minutes ago: due at once, so the test does not wait for the next minute.
    task = schedule.periodic_task
    task.last_run_at = timezone.now() - timedelta(minutes=2)
    task.save()
    job = wait_for(lambda: Job.objects.filter(schedule=schedule).first(), 60, "beat to run the schedule")
    assert job.owner == user and job.params == {**relative, "date_from": "2025-12-01", "date_to": "2025-12-31"}
    done = finished(job.pk)
    assert done.status == Job.Status.SUCCEEDED and done.result["totals"]["orders"] > 0
    assert "last month (1 Dec 2025 to 31 Dec 2025)" in done.result["subtitle"]
    schedule = ReportSchedule.objects.get(pk=schedule.pk)
    assert schedule.last_job_id == job.pk and schedule.last_run_at
    # Beat writes its run counts back lazily; its log says it sent this schedule's task.
    assert f"Sending due task {schedule.periodic_task.name}" in celery_beat_process.log_path.read_text()


def test_the_finished_email_is_sent_by_the_worker(celery_worker_process, user):
    user.email = "ada@example.com"
    user.save()
    job = jobs.create_job(user, "sales_summary", SALES_PARAMS, notify_by_email=True)
    assert finished(job.pk).status == Job.Status.SUCCEEDED
    # The console backend (the development default) prints the message in the worker's log.
    log = wait_for(lambda: (text := celery_worker_process.log_path.read_text()) and f"/jobs/{job.pk}/" in text and text,
                   30, "the email")  # fmt: skip
    assert "Subject: Offload: your sales summary finished" in log and "To: ada@example.com" in log
