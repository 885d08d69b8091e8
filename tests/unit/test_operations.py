"""Staff: the Operations page and the admin's job actions. Nobody else sees either."""

import re

import pytest
import redis
from django.contrib.auth import get_user_model
from django.urls import reverse

from reports.engine import jobs
from reports.models import Job
from tests.support import HTMX, SALES_PARAMS

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(
        get_user_model().objects.create_user("root", password="x" * 20, is_staff=True, is_superuser=True)
    )
    return client


@pytest.fixture(autouse=True)
def empty_queue(broker):
    yield
    redis.Redis.from_url(broker.url).flushdb()


def failed_job(owner) -> Job:
    job = Job.objects.create(owner=owner, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.RUNNING)
    jobs.fail(
        job.pk, "Something went wrong on our side.", "C0FFEE00", detail="Traceback: ZeroDivisionError in sales.py"
    )
    return job


def test_operations_shows_failures_with_tracebacks_to_staff(staff_client, user):
    failed_job(user)
    page = staff_client.get(reverse("operations")).content.decode()
    assert "C0FFEE00" in page and "ZeroDivisionError in sales.py" in page and "ada" in page


def test_operations_counts_what_waits_in_each_queue(staff_client, user, broker):
    client = redis.Redis.from_url(broker.url)
    client.flushdb()
    client.lpush("reports", "a", "b")
    fragment = staff_client.get(reverse("operations_machinery"), **HTMX).content.decode()
    assert re.search(r"<th scope=\"row\">reports</th>\s*<td>2</td>", fragment)
    assert re.search(r"<th scope=\"row\">images</th>\s*<td>0</td>", fragment)
    # No worker is running in this test: the page says what that means.
    assert "No worker answered" in fragment


def test_operations_says_when_the_broker_is_down(staff_client, broker):
    broker.stop()
    try:
        fragment = staff_client.get(reverse("operations_machinery"), **HTMX).content.decode()
    finally:
        broker.start(port=broker.port)
    assert "broker cannot be reached" in fragment


def test_operations_is_hidden_from_everyone_else(owner_client, client):
    assert owner_client.get(reverse("operations")).status_code == 404
    assert owner_client.get(reverse("operations_machinery")).status_code == 404
    assert "Operations" not in owner_client.get(reverse("home")).content.decode()


def test_the_owner_sees_the_sentence_but_never_the_traceback(owner_client, user):
    job = failed_job(user)
    page = owner_client.get(reverse("job_detail", args=[job.pk])).content.decode()
    assert "Something went wrong on our side." in page and "C0FFEE00" in page
    assert "ZeroDivisionError" not in page


def test_admin_cancels_and_runs_jobs_again(staff_client, user, django_capture_on_commit_callbacks):
    running = Job.objects.create(owner=user, kind="sales_summary", params=SALES_PARAMS, status=Job.Status.RUNNING)
    url = reverse("admin:reports_job_changelist")
    staff_client.post(url, {"action": "cancel_jobs", "_selected_action": [running.pk]})
    running.refresh_from_db()
    assert running.status == Job.Status.CANCELLED
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, {"action": "run_jobs_again", "_selected_action": [running.pk]})
    again = Job.objects.exclude(pk=running.pk).get()
    assert again.owner == user and again.params == SALES_PARAMS and again.status == Job.Status.QUEUED


def test_admin_lists_jobs_and_schedules_with_filters(staff_client, user):
    failed_job(user)
    page = staff_client.get(reverse("admin:reports_job_changelist") + "?status__exact=failed").content.decode()
    assert "C0FFEE00" in page
    assert staff_client.get(reverse("admin:reports_reportschedule_changelist")).status_code == 200
    assert staff_client.get(reverse("admin:django_celery_beat_periodictask_changelist")).status_code == 200
