"""Cancel, run again, delete, limits, queue position, estimates, retries and lost jobs."""

import dataclasses
from datetime import timedelta

import pytest
import redis
from django.core.files.base import ContentFile
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from reports import kinds
from reports.engine import jobs
from reports.models import Job
from reports.tasks import delete_old_jobs, fail_lost_jobs, run_report
from reports.work import batches
from tests.support import HTMX, image_upload, jpeg_bytes, people_csv

pytestmark = pytest.mark.django_db

SALES_PARAMS = {"date_from": "2025-01-01", "date_to": "2025-03-31", "group_by": "region", "metric": "orders"}
SALES_FORM = SALES_PARAMS


@pytest.fixture(autouse=True)
def small_demo_data_and_empty_queue(settings, broker):
    settings.OFFLOAD_DEMO_ORDERS = 5_000
    yield
    redis.Redis.from_url(broker.url).flushdb()


def make_job(owner, status=Job.Status.QUEUED, **fields) -> Job:
    return Job.objects.create(owner=owner, kind="sales_summary", params=SALES_PARAMS, status=status, **fields)


def replace_run(monkeypatch, run):
    kind = kinds.get("sales_summary")
    monkeypatch.setitem(kinds.REGISTRY, kind.name, dataclasses.replace(kind, run=run))


# --- Cancel ------------------------------------------------------------------------------------


def test_a_cancelled_queued_job_never_starts(user):
    job = make_job(user)
    assert jobs.cancel(job)
    assert run_report(str(job.pk)) == "skipped"
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and job.started_at is None


def test_a_running_job_stops_at_its_next_step_and_its_partial_files_go(user, monkeypatch):
    def cancelled_halfway(params, progress, files):
        job = files.job
        jobs.save_artifact(job, "chart.svg", "Chart", "image/svg+xml", b"<svg/>")
        jobs.cancel(Job.objects.get(pk=job.pk))  # the person clicks Cancel meanwhile
        jobs.save_artifact(job, "late.csv", "CSV", "text/csv", b"a\n")  # written before the next check
        progress(60, "Next step")
        raise AssertionError("should have stopped")

    replace_run(monkeypatch, cancelled_halfway)
    job = make_job(user)
    assert run_report(str(job.pk)) == "stopped"
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED
    assert not job.artifacts.exists()


def test_a_finished_job_cannot_be_cancelled(user):
    job = make_job(user, Job.Status.SUCCEEDED)
    assert not jobs.cancel(job)
    assert Job.objects.get(pk=job.pk).status == Job.Status.SUCCEEDED


def test_cancel_from_the_job_page_swaps_in_the_cancelled_fragment(owner_client, user):
    job = make_job(user, Job.Status.RUNNING)
    response = owner_client.post(reverse("job_cancel", args=[job.pk]), **HTMX, HTTP_HX_TARGET=f"job-{job.pk}")
    content = response.content.decode()
    assert "This job was cancelled" in content and "hx-trigger" not in content


@pytest.mark.parametrize("target", ["job-row-{}", "tr#job-row-{}"])  # htmx 2 sends the id, htmx 4 tag#id
def test_cancel_from_a_row_of_my_jobs_swaps_the_row(owner_client, user, target):
    job = make_job(user)
    response = owner_client.post(reverse("job_cancel", args=[job.pk]), **HTMX, HTTP_HX_TARGET=target.format(job.pk))
    assert response.content.decode().lstrip().startswith(f'<tr id="job-row-{job.pk}"')
    assert "Cancelled" in response.content.decode()


def test_cancel_without_javascript_redirects_to_the_job(owner_client, user):
    job = make_job(user)
    response = owner_client.post(reverse("job_cancel", args=[job.pk]))
    assert response.status_code == 303 and response["Location"] == job.get_absolute_url()


# --- Run again and delete ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_run_again_makes_a_new_job_with_the_same_parameters_and_a_copy_of_the_input(owner_client, user):
    job = Job(
        owner=user,
        kind="csv_profile",
        status=Job.Status.SUCCEEDED,
        params={"source_name": "a.csv", "separator": ","},
    )
    job.input_file.save("x", ContentFile(people_csv(4)), save=False)
    job.save()
    response = owner_client.post(reverse("job_run_again", args=[job.pk]), **HTMX)
    new_job = Job.objects.exclude(pk=job.pk).get()
    assert response["HX-Redirect"] == new_job.get_absolute_url()
    assert new_job.params == job.params and new_job.status == Job.Status.QUEUED
    assert new_job.input_file.name != job.input_file.name
    assert new_job.input_file.read() == people_csv(4)


@pytest.mark.django_db(transaction=True)
def test_run_again_copies_an_image_batch(user):
    job = Job.objects.create(
        owner=user, kind="image_batch", status=Job.Status.FAILED, params={"options": {}, "count": 2}
    )
    batches.add_items(job, [image_upload(jpeg_bytes(32, 32), "a.jpg"), image_upload(b"x", "b.jpg")])
    new_job = jobs.run_again(job)
    assert [i.source_name for i in new_job.images.all()] == ["a.jpg", "b.jpg"]
    assert all(i.status == "pending" for i in new_job.images.all())


def test_delete_removes_a_finished_job_and_all_its_files(
    owner_client, user, settings, django_capture_on_commit_callbacks
):
    job = make_job(user, Job.Status.SUCCEEDED)
    artifact = jobs.save_artifact(job, "report.csv", "CSV", "text/csv", b"a\n")
    path = settings.MEDIA_ROOT / artifact.file.name
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("job_delete", args=[job.pk]))
    assert response.status_code == 303 and response["Location"] == reverse("job_list")
    assert not Job.objects.filter(pk=job.pk).exists() and not path.exists()
    assert not path.parent.exists()  # no empty folder left behind


def test_the_files_go_only_once_the_rows_are_gone_for_good(user, settings, django_capture_on_commit_callbacks):
    job = make_job(user, Job.Status.SUCCEEDED)
    path = settings.MEDIA_ROOT / jobs.save_artifact(job, "report.csv", "CSV", "text/csv", b"a\n").file.name
    with django_capture_on_commit_callbacks() as removals:
        assert jobs.delete_job(job)
        assert path.exists()  # a download that began before still finds its file until the commit
    assert not Job.objects.filter(pk=job.pk).exists()
    for removal in removals:
        removal()
    assert not path.exists()
    assert jobs.delete_job(job)  # a second Delete (a double click) finds nothing to do, and says so


@pytest.mark.django_db(transaction=True)
def test_run_again_of_a_job_deleted_meanwhile_is_a_404_not_a_500(owner_client, user):
    job = Job(owner=user, kind="csv_profile", status=Job.Status.SUCCEEDED, params={"source_name": "a.csv"})
    job.input_file.save("x", ContentFile(people_csv(4)), save=False)
    job.save()
    job.input_file.storage.delete(job.input_file.name)  # its files went first (a delete mid-way)
    response = owner_client.post(reverse("job_run_again", args=[job.pk]))
    assert response.status_code == 404 and Job.objects.count() == 1
    stale = Job.objects.get(pk=job.pk)
    Job.objects.filter(pk=job.pk).delete()  # and now its row: the page was open on a deleted job
    with pytest.raises(jobs.JobGone):
        jobs.run_again(stale)
    assert not Job.objects.exists()


def test_a_running_job_cannot_be_deleted(owner_client, user):
    job = make_job(user, Job.Status.RUNNING)
    owner_client.post(reverse("job_delete", args=[job.pk]))
    assert Job.objects.filter(pk=job.pk).exists()


@pytest.mark.parametrize("action", ["job_cancel", "job_run_again", "job_delete"])
def test_actions_on_another_users_job_are_404(other_client, user, action):
    job = make_job(user, Job.Status.SUCCEEDED if action != "job_cancel" else Job.Status.QUEUED)
    assert other_client.post(reverse(action, args=[job.pk])).status_code == 404
    assert Job.objects.get(pk=job.pk).status == job.status


@pytest.mark.parametrize("action", ["job_cancel", "job_run_again", "job_delete"])
def test_actions_need_a_post(owner_client, user, action):
    job = make_job(user)
    assert owner_client.get(reverse(action, args=[job.pk])).status_code == 405


def test_actions_need_the_csrf_token(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    job = make_job(user)
    assert client.post(reverse("job_cancel", args=[job.pk]), **HTMX).status_code == 403
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


# --- Limits --------------------------------------------------------------------------------------


def test_the_active_job_limit_refuses_with_429_in_place_for_htmx(owner_client, user, settings):
    settings.OFFLOAD_MAX_ACTIVE_JOBS = 2
    make_job(user)
    make_job(user, Job.Status.RUNNING)
    make_job(user, Job.Status.SUCCEEDED)  # finished jobs do not count
    response = owner_client.post("/reports/sales-summary/", SALES_FORM, **HTMX)
    assert response.status_code == 429
    assert "You already have 2 jobs queued or running" in response.content.decode()
    assert Job.objects.count() == 3


def test_the_active_job_limit_refuses_plain_posts_too(owner_client, user, settings):
    settings.OFFLOAD_MAX_ACTIVE_JOBS = 1
    make_job(user)
    response = owner_client.post("/reports/sales-summary/", SALES_FORM)
    assert response.status_code == 429 and "the most at once" in response.content.decode()


def test_other_peoples_jobs_do_not_count_against_my_limit(owner_client, other_user, settings):
    settings.OFFLOAD_MAX_ACTIVE_JOBS = 1
    make_job(other_user)
    assert owner_client.post("/reports/sales-summary/", SALES_FORM).status_code == 303


# --- Where a job stands ------------------------------------------------------------------------


def test_a_queued_job_says_how_many_are_ahead(owner_client, user, other_user):
    make_job(other_user, created_at=timezone.now() - timedelta(seconds=30))
    make_job(user, created_at=timezone.now() - timedelta(seconds=20))
    mine = make_job(user)
    content = owner_client.get(reverse("job_status", args=[mine.pk]), **HTMX).content.decode()
    assert "2 jobs ahead of yours" in content


def test_a_running_job_shows_an_estimate_once_it_can(owner_client, user):
    job = make_job(
        user,
        Job.Status.RUNNING,
        progress=25,
        started_at=timezone.now() - timedelta(seconds=60),
        heartbeat_at=timezone.now(),
    )
    assert timedelta(seconds=170) < job.time_left < timedelta(seconds=190)
    content = owner_client.get(reverse("job_status", args=[job.pk]), **HTMX).content.decode()
    assert "About 3 min" in content


def test_no_estimate_before_there_is_enough_progress(user):
    job = make_job(user, Job.Status.RUNNING, progress=2, started_at=timezone.now() - timedelta(seconds=60))
    assert job.time_left is None


def test_a_stalled_job_says_for_how_long(owner_client, user):
    job = make_job(user, Job.Status.RUNNING, started_at=timezone.now() - timedelta(minutes=9),
                   heartbeat_at=timezone.now() - timedelta(minutes=7))  # fmt: skip
    content = owner_client.get(reverse("job_status", args=[job.pk]), **HTMX).content.decode()
    assert "No progress for 7 min" in content


# --- Retries and lost jobs ---------------------------------------------------------------------


def test_a_transient_error_is_retried_and_the_job_then_succeeds(user, monkeypatch, settings):
    settings.OFFLOAD_RETRY_BACKOFF = 0
    attempts = []
    real_run = kinds.get("sales_summary").worker_function()

    def flaky(params, progress, files):
        attempts.append(Job.objects.get(pk=files.job_id).attempt)
        if len(attempts) < 3:
            raise OperationalError("database is locked")
        return real_run(params, progress, files)

    replace_run(monkeypatch, flaky)
    job = make_job(user)
    run_report.apply(args=[str(job.pk)])  # eager here: the real worker's retries are the integration tests'
    job.refresh_from_db()
    assert attempts == [1, 2, 3]
    assert job.status == Job.Status.SUCCEEDED and job.attempt == 3
    # Staff see the earlier attempts and what they hit (the Operations job page).
    assert [(entry["attempt"], entry["outcome"]) for entry in job.history] == [
        (1, "Temporary problem: retried"), (2, "Temporary problem: retried"),
    ]  # fmt: skip


def test_a_job_shows_retrying_with_the_attempt_while_it_waits(owner_client, user):
    job = make_job(user, Job.Status.RUNNING)
    jobs.retry_later(job.pk, 2, 3)
    content = owner_client.get(reverse("job_status", args=[job.pk]), **HTMX).content.decode()
    assert "Retrying (attempt 2 of 3) after a temporary problem" in content


def test_a_transient_error_that_lasts_fails_the_job_after_the_last_attempt(user, monkeypatch, settings, caplog):
    settings.OFFLOAD_RETRY_BACKOFF = 0

    def always_down(params, progress, files):
        raise OperationalError("could not connect to server")

    replace_run(monkeypatch, always_down)
    job = make_job(user)
    run_report.apply(args=[str(job.pk)])
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "lasted through 3 attempts" in job.error_message and "could not connect" not in job.error_message
    assert job.error_reference in caplog.text


def test_running_jobs_without_progress_for_too_long_are_failed_as_lost(user, settings):
    settings.OFFLOAD_LOST_JOB_MINUTES = 30
    lost = make_job(user, Job.Status.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=31))
    alive = make_job(user, Job.Status.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=5))
    queued = make_job(user, Job.Status.QUEUED)
    assert fail_lost_jobs() == 1
    lost.refresh_from_db()
    assert lost.status == Job.Status.FAILED and "stopped responding" in lost.error_message
    assert Job.objects.get(pk=alive.pk).status == Job.Status.RUNNING
    assert Job.objects.get(pk=queued.pk).status == Job.Status.QUEUED


# --- Housekeeping ------------------------------------------------------------------------------


def test_housekeeping_deletes_finished_jobs_past_retention_with_their_files(
    user, settings, django_capture_on_commit_callbacks
):
    settings.OFFLOAD_RETENTION_DAYS = 30
    old = make_job(user, Job.Status.SUCCEEDED, finished_at=timezone.now() - timedelta(days=31))
    jobs.save_artifact(old, "report.csv", "CSV", "text/csv", b"a\n")
    recent = make_job(user, Job.Status.FAILED, finished_at=timezone.now() - timedelta(days=29))
    # A running job is never deleted however old, or its worker would write to a missing row.
    old_running = make_job(user, Job.Status.RUNNING, created_at=timezone.now() - timedelta(days=40))
    with django_capture_on_commit_callbacks(execute=True):
        assert delete_old_jobs() == 1
    assert not Job.objects.filter(pk=old.pk).exists()
    assert not (settings.MEDIA_ROOT / "jobs" / str(old.pk)).exists()
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, old_running.pk}


def test_housekeeping_is_scheduled_on_beat_with_celerys_result_cleanup(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"reports.tasks.fail_lost_jobs", "reports.tasks.delete_old_jobs", "celery.backend_cleanup"} <= tasks
    assert timedelta(days=settings.OFFLOAD_RETENTION_DAYS) == settings.CELERY_RESULT_EXPIRES
