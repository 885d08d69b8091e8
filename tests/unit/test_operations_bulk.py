"""Bulk actions: the filter, the count before anything happens, the worker's part (called
directly here; tests/integration/test_bulk_retry.py runs it through a real worker), the roles and
the audit log."""

from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from reports.engine import jobs
from reports.models import AuditEntry, BulkAction, ImageItem, Job
from reports.operations import bulk
from reports.operations.bulk import JobFilter
from tests.support import HTMX, SALES_PARAMS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_broker")]


def member_of(client, group: str, username: str):
    user = get_user_model().objects.create_user(username, password="x" * 20)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return user


@pytest.fixture
def operator(client):
    member_of(client, "Operators", "olga")
    return client


def make(owner, status=Job.Status.QUEUED, kind="sales_summary", error="", created_days_ago=0) -> Job:
    job = Job.objects.create(owner=owner, kind=kind, params=SALES_PARAMS, status=Job.Status.RUNNING)
    if status == Job.Status.FAILED:
        jobs.fail(job.pk, error or "The warehouse table was locked.", detail="Traceback: LockTimeout")
    elif status == Job.Status.SUCCEEDED:
        jobs.succeed(job.pk, {"rows": []}, notify_by_email=False)
    elif status == Job.Status.CANCELLED:
        jobs.cancel(job)
    elif status == Job.Status.QUEUED:
        Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED)
    if created_days_ago:
        Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(days=created_days_ago))
    return Job.objects.get(pk=job.pk)


def confirmed(user, action, job_filter: JobFilter | None = None) -> BulkAction:
    """Confirm as the view does, and run the worker's part here."""
    bulk_action = bulk.confirm(user, action, job_filter or JobFilter())
    assert bulk.run(bulk_action.pk) is not None
    return BulkAction.objects.get(pk=bulk_action.pk)


def test_the_filter_narrows_by_kind_status_owner_dates_and_error_text(user, other_user):
    locked = make(user, Job.Status.FAILED, error="The warehouse table was locked.")
    timeout = make(user, Job.Status.FAILED, error="Ran past its time limit", created_days_ago=10)
    theirs = make(other_user, Job.Status.FAILED, kind="csv_profile")
    queued = make(user)

    def matched(**fields) -> set:
        return set(JobFilter(**fields).jobs().values_list("pk", flat=True))

    assert matched() == {locked.pk, timeout.pk, theirs.pk, queued.pk}
    assert matched(kind="csv_profile") == {theirs.pk}
    assert matched(status=Job.Status.QUEUED) == {queued.pk}
    assert matched(owner="grace") == {theirs.pk}
    assert matched(error_contains="TIME LIMIT") == {timeout.pk}
    today = timezone.localdate()
    assert matched(created_to=today - timedelta(days=5)) == {timeout.pk}
    assert matched(created_from=today - timedelta(days=1), owner="ada") == {locked.pk, queued.pk}
    assert matched(created_from=today - timedelta(days=10), created_to=today - timedelta(days=10)) == {timeout.pk}


def test_the_filter_survives_being_stored_and_says_itself_in_words():
    job_filter = JobFilter(kind="csv_profile", owner="ada", created_from=date(2026, 11, 1), created_to=date(2026, 11, 30),
                           error_contains="locked")  # fmt: skip
    assert JobFilter.from_params(job_filter.as_params()) == job_filter
    assert (
        job_filter.describe()
        == "kind CSV profile, owner ada, created 1 Nov 2026 to 30 Nov 2026, error containing “locked”"
    )
    assert JobFilter().describe() == "every job"


def test_counting_says_how_many_jobs_and_changes_nothing(operator, user):
    failed = [make(user, Job.Status.FAILED) for _ in range(3)]
    make(user)  # queued: matches the filter, not the action
    response = operator.post(reverse("operations_bulk_preview"), {"action": "retry", "owner": "ada"}, **HTMX)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Retry 3 failed jobs?" in page
    assert "1 more matches the filter but is not failed: left alone." in page
    assert ">Retry 3 jobs</button>" in page
    assert not BulkAction.objects.exists() and not AuditEntry.objects.exists()
    assert all(Job.objects.get(pk=job.pk).status == Job.Status.FAILED for job in failed)


def test_a_filter_that_matches_nothing_says_so_and_offers_no_confirm_button(operator, user):
    make(user, Job.Status.SUCCEEDED)
    page = operator.post(reverse("operations_bulk_preview"), {"action": "cancel"}, **HTMX).content.decode()
    assert "No queued job matches this filter (every job): nothing to do. 1 job in other states matches it." in page
    assert 'value="confirm"' not in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"action": "retry", "owner": "nobody"}, "No one is called “nobody”"),
        ({"action": "retry", "status": "queued"}, "Retry failed jobs applies to failed jobs only."),
        ({"action": "delete", "status": "running"}, "Delete finished jobs applies to finished, failed or cancelled"),
        ({"action": "retry", "created_from": "2026-11-30", "created_to": "2026-11-01"}, "The end date is before"),
        ({"action": "explode"}, "Select a valid choice"),
    ],
)
def test_a_wrong_filter_is_explained_in_the_form_and_nothing_is_queued(operator, user, fields, message):
    for url in ("operations_bulk_preview", "operations_bulk_start"):
        response = operator.post(reverse(url), {**fields, "step": "confirm"}, **HTMX)
        assert response.status_code == 200
        assert message in response.content.decode()
    assert operator.post(reverse("operations_bulk_preview"), fields).status_code == 422  # without htmx: the page
    assert not BulkAction.objects.exists()


def test_confirming_queues_the_action_audits_it_and_answers_with_a_polling_progress_bar(
    operator, user, django_capture_on_commit_callbacks
):
    make(user, Job.Status.FAILED)
    with django_capture_on_commit_callbacks() as published:
        response = operator.post(reverse("operations_bulk_start"), {"action": "retry", "step": "confirm"}, **HTMX)
    page = response.content.decode()
    bulk_action = BulkAction.objects.get()
    assert len(published) == 1
    assert bulk_action.matched == 1 and bulk_action.status == BulkAction.Status.QUEUED
    assert f'hx-get="{bulk_action.get_absolute_url()}"' in page and 'hx-trigger="every 1s"' in page
    assert 'role="progressbar"' in page
    entry = AuditEntry.objects.get()
    assert (entry.actor_name, entry.action, entry.jobs) == ("olga", "Retry failed jobs", 1)


def test_change_the_filter_returns_to_the_form_filled_in(operator, user):
    page = operator.post(reverse("operations_bulk_start"), {"action": "delete", "owner": "ada", "step": "edit"},
                         **HTMX).content.decode()  # fmt: skip
    assert 'id="bulk-form"' in page and 'value="ada"' in page
    assert not BulkAction.objects.exists()


def test_without_javascript_confirming_goes_to_the_actions_own_page(operator, user):
    make(user, Job.Status.FAILED)
    response = operator.post(reverse("operations_bulk_start"), {"action": "retry", "step": "confirm"})
    bulk_action = BulkAction.objects.get()
    assert response.status_code == 303 and response["Location"] == bulk_action.get_absolute_url()
    page = operator.get(bulk_action.get_absolute_url()).content.decode()
    assert '<meta http-equiv="refresh" content="2">' in page  # still queued: the page reloads itself
    assert page.count(f'id="bulk-{bulk_action.pk}"') == 1  # shown once, not again in the list below


def test_retry_puts_each_failed_job_back_as_its_next_attempt_with_its_error_in_its_history(user):
    failed = make(user, Job.Status.FAILED, error="The warehouse table was locked.")
    default_storage.save(f"jobs/{failed.pk}/partial.csv", ContentFile(b"half"))
    bulk_action = confirmed(user, BulkAction.Action.RETRY)
    job = Job.objects.get(pk=failed.pk)
    assert (job.status, job.attempt, job.progress, job.step) == (Job.Status.QUEUED, 2, 0, "Queued again by an operator")
    assert job.task_id != failed.task_id
    assert not job.error_message and not job.error_reference and not job.finished_at and not job.notice_shown
    assert job.history[-1]["outcome"] == "Failed: retried by an operator"
    assert job.history[-1]["error"] == "The warehouse table was locked."
    assert not default_storage.exists(f"jobs/{failed.pk}/partial.csv")
    assert (bulk_action.status, bulk_action.done, bulk_action.skipped) == (BulkAction.Status.DONE, 1, 0)


def test_retry_takes_only_jobs_that_had_failed_when_it_was_confirmed(user):
    before = make(user, Job.Status.FAILED)
    after = make(user, Job.Status.FAILED)
    bulk_action = bulk.confirm(user, BulkAction.Action.RETRY, JobFilter())
    # One fails again after the confirmation (say, retried by hand, failed again): not this action's.
    Job.objects.filter(pk=after.pk).update(finished_at=bulk_action.created_at + timedelta(seconds=1))
    bulk.run(bulk_action.pk)
    assert Job.objects.get(pk=before.pk).status == Job.Status.QUEUED
    assert Job.objects.get(pk=after.pk).status == Job.Status.FAILED
    bulk_action.refresh_from_db()
    assert (bulk_action.matched, bulk_action.done, bulk_action.skipped) == (2, 1, 1)
    assert "1 of 2 retried; 1 had moved on before the worker reached them" in AuditEntry.objects.get().detail


def test_retrying_an_image_batch_makes_every_image_pending_again(user):
    batch = make(user, Job.Status.FAILED, kind="image_batch")
    ImageItem.objects.create(job=batch, position=1, source_name="a.jpg", status=ImageItem.Status.FAILED,
                             error="Not an image", starts=3)  # fmt: skip
    confirmed(user, BulkAction.Action.RETRY)
    item = ImageItem.objects.get(job=batch)
    assert (item.status, item.error, item.starts, item.started_at) == (ImageItem.Status.PENDING, "", 0, None)


def test_cancel_takes_the_queued_and_leaves_running_and_finished_jobs_alone(user):
    queued = [make(user) for _ in range(3)]
    running = make(user, Job.Status.RUNNING)
    finished = make(user, Job.Status.SUCCEEDED)
    bulk_action = confirmed(user, BulkAction.Action.CANCEL)
    assert {Job.objects.get(pk=job.pk).status for job in queued} == {Job.Status.CANCELLED}
    assert Job.objects.get(pk=running.pk).status == Job.Status.RUNNING
    assert Job.objects.get(pk=finished.pk).status == Job.Status.SUCCEEDED
    assert bulk_action.done == 3
    assert AuditEntry.objects.get().jobs == 3


def test_delete_removes_finished_jobs_with_their_files_and_keeps_active_ones(user, django_capture_on_commit_callbacks):
    finished = [make(user, status) for status in (Job.Status.SUCCEEDED, Job.Status.FAILED, Job.Status.CANCELLED)]
    for job in finished:
        default_storage.save(f"jobs/{job.pk}/report.csv", ContentFile(b"a,b"))
        default_storage.save(f"uploads/{job.pk}/input.csv", ContentFile(b"a,b"))
    queued = make(user)
    with django_capture_on_commit_callbacks(execute=True):
        bulk_action = confirmed(user, BulkAction.Action.DELETE, JobFilter(owner="ada"))
    assert list(Job.objects.values_list("pk", flat=True)) == [queued.pk]
    for job in finished:
        assert not default_storage.exists(f"jobs/{job.pk}/report.csv")
        assert not default_storage.exists(f"uploads/{job.pk}/input.csv")
    assert bulk_action.done == 3


def test_a_job_that_cannot_be_acted_on_is_counted_and_the_rest_go_on(user, monkeypatch):
    first, second = make(user, Job.Status.SUCCEEDED), make(user, Job.Status.SUCCEEDED)
    real_delete = jobs.delete_job

    def storage_trouble(job):
        if job.pk == first.pk:
            raise OSError("the object store is away")
        return real_delete(job)

    monkeypatch.setitem(bulk.ACT, BulkAction.Action.DELETE, storage_trouble)
    bulk_action = confirmed(user, BulkAction.Action.DELETE)
    assert (bulk_action.done, bulk_action.errors) == (1, 1)
    assert Job.objects.filter(pk=first.pk).exists() and not Job.objects.filter(pk=second.pk).exists()
    assert "1 could not be (see the worker's log)" in bulk.outcome_words(bulk_action)


def test_a_second_delivery_of_the_task_carries_on_without_doing_anything_twice(user):
    failed = make(user, Job.Status.FAILED)
    bulk_action = bulk.confirm(user, BulkAction.Action.RETRY, JobFilter())
    bulk.run(bulk_action.pk)
    assert bulk.run(bulk_action.pk) is None  # done: a redelivered message finds nothing to do
    assert Job.objects.get(pk=failed.pk).attempt == 2


def test_an_ended_actions_fragment_stops_polling_and_says_what_was_done(operator, user):
    make(user, Job.Status.FAILED)
    bulk_action = confirmed(user, BulkAction.Action.RETRY)
    page = operator.get(reverse("operations_bulk_action", args=[bulk_action.pk]), **HTMX).content.decode()
    assert "hx-trigger" not in page
    assert "1 of 1 retried" in page


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_the_action_fails_with_a_clear_message_and_touches_nothing(user, broker):
    failed = make(user, Job.Status.FAILED)
    broker.stop()
    try:
        bulk_action = bulk.confirm(user, BulkAction.Action.RETRY, JobFilter())
    finally:
        broker.start(port=broker.port)
    bulk_action.refresh_from_db()
    assert bulk_action.status == BulkAction.Status.FAILED
    assert bulk_action.error_message == bulk.NOT_QUEUED
    assert Job.objects.get(pk=failed.pk).status == Job.Status.FAILED
    assert bulk.NOT_QUEUED in AuditEntry.objects.get().detail


def test_the_read_only_role_sees_the_actions_but_is_refused_each_one(client, user):
    member_of(client, "Operators (read-only)", "rita")
    make(user, Job.Status.FAILED)
    page = client.get(reverse("operations_bulk")).content.decode()
    assert "Your role can look, not act" in page and 'id="bulk-form"' not in page
    for url in ("operations_bulk_preview", "operations_bulk_start"):
        assert client.post(reverse(url), {"action": "retry", "step": "confirm"}).status_code == 403
    assert not BulkAction.objects.exists() and not AuditEntry.objects.exists()


def test_someone_without_an_operations_role_gets_not_found(client, user):
    client.force_login(user)
    assert client.get(reverse("operations_bulk")).status_code == 404
    assert client.post(reverse("operations_bulk_start"), {"action": "delete", "step": "confirm"}).status_code == 404
    assert not BulkAction.objects.exists()


def test_a_link_can_choose_the_action_the_form_starts_with(operator):
    page = operator.get(reverse("operations_bulk") + "?action=delete").content.decode()
    assert '<option value="delete" selected>' in page


def test_an_operator_retries_one_failed_job_from_its_page_and_it_is_audited(operator, user):
    failed = make(user, Job.Status.FAILED)
    page = operator.get(reverse("operations_job", args=[failed.pk])).content.decode()
    assert "Retry this job" in page and "attempt 2" in page
    response = operator.post(reverse("operations_job_retry", args=[failed.pk]))
    assert response.status_code == 303 and response["Location"] == reverse("operations_job", args=[failed.pk])
    assert Job.objects.get(pk=failed.pk).status == Job.Status.QUEUED
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.detail, entry.jobs) == ("Retried a job of ada", str(failed.pk), 1)
    assert "Retry this job" not in operator.get(reverse("operations_job", args=[failed.pk])).content.decode()
    operator.post(reverse("operations_job_retry", args=[failed.pk]))  # not failed any more: nothing, not audited
    assert AuditEntry.objects.count() == 1


def test_a_job_that_moved_on_after_its_chunk_was_read_is_left_alone(user, monkeypatch):
    real_act = bulk.act

    def meanwhile(job: Job, status: str):
        def act(action, chunk):  # between the chunk's read and the action, the job moves on
            Job.objects.filter(pk=job.pk).update(status=status, finished_at=None)
            return real_act(action, chunk)

        return act

    started = make(user)
    monkeypatch.setattr(bulk, "act", meanwhile(started, Job.Status.RUNNING))
    assert confirmed(user, BulkAction.Action.CANCEL).done == 0
    assert Job.objects.get(pk=started.pk).status == Job.Status.RUNNING

    retried = make(user, Job.Status.FAILED)
    monkeypatch.setattr(bulk, "act", meanwhile(retried, Job.Status.QUEUED))
    assert confirmed(user, BulkAction.Action.DELETE, JobFilter(status=Job.Status.FAILED)).done == 0
    assert Job.objects.filter(pk=retried.pk).exists()


def test_the_last_day_a_date_field_takes_bounds_nothing_instead_of_overflowing(user):
    job = make(user)
    assert list(JobFilter(created_to=date.max).jobs()) == [job]


def test_a_retried_batch_is_not_finished_by_its_earlier_attempts_chord(user):
    from reports.work import batches

    batch = make(user, Job.Status.FAILED, kind="image_batch")
    ImageItem.objects.create(job=batch, position=1, source_name="a.jpg", status=ImageItem.Status.DONE)
    confirmed(user, BulkAction.Action.RETRY)
    Job.objects.filter(pk=batch.pk).update(status=Job.Status.RUNNING)  # attempt 2 has started
    batches.finish(batch.pk, attempt=1)  # attempt 1's chord, late
    assert Job.objects.get(pk=batch.pk).status == Job.Status.RUNNING
