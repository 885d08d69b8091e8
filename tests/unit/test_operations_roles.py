"""Who may see and who may act on the Operations pages, every action audited, and the look-ups
(search, any job whole, recurring work) that read every user's jobs."""

import re

import pytest
import redis
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.urls import reverse
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from reports.engine import jobs
from reports.models import AuditEntry, Job
from reports.operations import controls, recurring
from tests.support import HTMX, SALES_PARAMS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("empty_broker")]


def member_of(client, group: str | None, **fields):
    user = get_user_model().objects.create_user(f"op-{group or 'none'}", password="x" * 20, **fields)
    if group:
        user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return client


@pytest.fixture
def reader(client):
    return member_of(client, "Operators (read-only)")


@pytest.fixture
def operator(client):
    return member_of(client, "Operators")


@pytest.fixture
def beat_task(db):
    every_minute = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    return PeriodicTask.objects.create(name="offload: test housekeeping", task="reports.tasks.fail_lost_jobs",
                                       interval=every_minute)  # fmt: skip


def failed_job(owner, reference="C0FFEE00") -> Job:
    job = Job.objects.create(owner=owner, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.RUNNING)
    jobs.fail(job.pk, "The warehouse table was locked.", reference, detail="Traceback: LockTimeout in sales.py")
    return job


def actions(job: Job, task: PeriodicTask) -> list[str]:
    return [
        reverse("operations_queue", args=["reports", "pause"]),
        reverse("operations_queue", args=["reports", "resume"]),
        reverse("operations_pool", args=["w1@host", "grow"]),
        reverse("operations_pool", args=["w1@host", "shrink"]),
        reverse("operations_run_now", args=[task.pk]),
        reverse("operations_bulk_preview"),
        reverse("operations_bulk_start"),
        reverse("operations_job_retry", args=[job.pk]),
    ]


def test_the_groups_exist_after_migrate_with_their_permissions():
    assert set(Group.objects.get(name="Operators (read-only)").permissions.values_list("codename", flat=True)) == {
        "view_operations"
    }
    assert set(Group.objects.get(name="Operators").permissions.values_list("codename", flat=True)) == {
        "view_operations", "operate",
    }  # fmt: skip


def test_staff_alone_does_not_open_operations(client):
    staff = member_of(client, None, is_staff=True)
    assert staff.get(reverse("operations")).status_code == 404
    assert "Operations" not in staff.get(reverse("home")).content.decode()


def test_the_read_only_role_sees_every_page_and_is_refused_every_action(reader, user, beat_task):
    job = failed_job(user)
    for url in (reverse("operations"), reverse("operations_machinery"), reverse("operations_recurring"),
                reverse("operations_search") + "?q=ada", reverse("operations_job", args=[job.pk])):  # fmt: skip
        assert reader.get(url, **HTMX).status_code == 200, url
    for url in actions(job, beat_task):
        assert reader.post(url, **HTMX).status_code == 403, url
    assert not AuditEntry.objects.exists()
    assert controls.paused_queues() == set()
    page = reader.get(reverse("operations")).content.decode()
    assert "Your role can look, not act." in page


def test_everyone_else_gets_404_on_every_page_and_action(owner_client, user, beat_task):
    job = failed_job(user)
    for url in (reverse("operations_recurring"), reverse("operations_search") + "?q=ada",
                reverse("operations_job", args=[job.pk])):  # fmt: skip
        assert owner_client.get(url).status_code == 404, url
    for url in actions(job, beat_task):
        assert owner_client.post(url).status_code == 404, url


def test_pausing_and_resuming_a_queue_is_remembered_audited_and_shown(operator, broker):
    fragment = operator.post(reverse("operations_queue", args=["reports", "pause"]), **HTMX).content.decode()
    assert controls.paused_queues() == {"reports"}
    assert "Queue reports paused: 0 workers confirmed." in fragment  # no worker runs in this test
    assert re.search(r"<th scope=\"row\">reports</th>.*?Paused", fragment, re.S)
    operator.post(reverse("operations_queue", args=["reports", "resume"]), **HTMX)
    assert controls.paused_queues() == set()
    assert list(AuditEntry.objects.order_by("created_at").values_list("actor_name", "action")) == [
        ("op-Operators", "Queue reports paused"), ("op-Operators", "Queue reports resumed"),
    ]  # fmt: skip


def test_the_default_queue_cannot_be_paused_and_the_operator_is_told(operator):
    fragment = operator.post(reverse("operations_queue", args=["default", "pause"]), **HTMX).content.decode()
    assert "There is no job queue called &#x27;default&#x27;." in fragment
    assert controls.paused_queues() == set() and not AuditEntry.objects.exists()


def test_a_worker_that_does_not_answer_a_pool_change_is_said_so(operator):
    fragment = operator.post(reverse("operations_pool", args=["gone@nowhere", "grow"]), **HTMX).content.decode()
    assert "gone@nowhere did not confirm" in fragment
    assert not AuditEntry.objects.exists()


def test_a_wrong_action_is_a_clear_400(operator):
    response = operator.post(reverse("operations_queue", args=["reports", "explode"]), **HTMX)
    assert response.status_code == 400 and b"Choose pause or resume." in response.content


def test_staff_find_any_users_job_by_id_task_reference_owner_or_error_words(reader, user, other_user):
    mine, theirs = failed_job(user, "AAAA1111"), failed_job(other_user, "BBBB2222")

    def found(query):
        page = reader.get(reverse("operations_search"), {"q": query}, **HTMX).content.decode()
        return {job.pk for job in (mine, theirs) if str(job.pk) in page}

    assert found(str(theirs.pk)) == {theirs.pk}
    assert found(theirs.task_id) == {theirs.pk}
    assert found("bbbb2222") == {theirs.pk}
    assert found(user.username) == {mine.pk}
    assert found("warehouse table") == {mine.pk, theirs.pk}
    assert found("nothing like this") == set()


def test_any_job_is_shown_whole_with_its_attempts_traceback_and_downloads(reader, user):
    job = failed_job(user)
    Job.objects.filter(pk=job.pk).update(
        worker="host-a 4242", attempt=2,
        history=[{"attempt": 1, "worker": "host-b 99", "outcome": "Worker died", "error": ""}],
    )  # fmt: skip
    jobs.save_artifact(job, "partial.csv", "Partial CSV", "text/csv", ContentFile(b"a,b\n"))
    page = reader.get(reverse("operations_job", args=[job.pk])).content.decode()
    for expected in ("host-a 4242", "host-b 99", "Worker died", "LockTimeout in sales.py", "region", "Partial CSV"):
        assert expected in page, expected
    download = reader.get(reverse("operations_download", args=[job.pk, "partial.csv"]))
    assert b"".join(download.streaming_content) == b"a,b\n"


def test_recurring_work_lists_housekeeping_and_user_schedules_and_runs_one_now(operator, beat_task, broker):
    overview = {item.task.pk: item for item in recurring.overview()}
    assert overview[beat_task.pk].next_run is not None and overview[beat_task.pk].outcome == "Not run yet"
    fragment = operator.get(reverse("operations_recurring"), **HTMX).content.decode()
    assert "offload: test housekeeping" in fragment and "Run now" in fragment
    fragment = operator.post(reverse("operations_run_now", args=[beat_task.pk]), **HTMX).content.decode()
    assert "offload: test housekeeping: sent" in fragment
    assert redis.Redis.from_url(broker.url).llen("default") == 1  # the task, on its way to a worker
    assert AuditEntry.objects.get().action == "Ran offload: test housekeeping now"
